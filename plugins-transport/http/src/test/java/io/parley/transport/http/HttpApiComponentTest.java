package io.parley.transport.http;

import io.parley.transport.http.internal.HttpApiSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class HttpApiComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.transport.http.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndACommentAbove() throws IOException {
        Properties cfg = new Properties();
        try (Reader reader = Files.newBufferedReader(SHIPPED_CFG)) {
            cfg.load(reader);
        }
        Map<String, String> defaults = defaults();
        assertEquals(new TreeSet<>(defaults.keySet()), new TreeSet<>(cfg.stringPropertyNames()));
        defaults.forEach((key, value) -> assertEquals(value, cfg.getProperty(key), key));
        String text = Files.readString(SHIPPED_CFG);
        for (String key : defaults.keySet()) {
            assertTrue(text.matches("(?s).*#[^\\n]*\\n" + key.replace(".", "\\.") + "=.*"),
                    "no comment line right above " + key);
        }
        HttpApiSettings settings = HttpApiComponent.settings(config(Map.of()));
        assertEquals("127.0.0.1", settings.server().host(), "the admin surface binds to loopback by default");
        assertFalse(settings.adminTokenUsable(), "no admin token ships");
    }

    @Test
    void activateListensAndReadsTheJwtSecretFromTheMergedConfiguration(@TempDir Path dir) throws Exception {
        Path portFile = dir.resolve("http.port");
        Map<String, Object> props = new HashMap<>();
        props.put("port", 0);
        props.put("port.file", portFile.toString());
        props.put("admin.token", "component-test-admin-token");
        props.put("secret", "component-test-jwt-secret-0123456789-abcdef"); // from PID parley.auth.jwt
        HttpApiComponent component = new HttpApiComponent(config(props), props);
        try {
            int port = Integer.parseInt(Files.readString(portFile).trim());
            HttpClient client = HttpClient.newHttpClient();
            HttpResponse<String> health = client.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode(), "no Receiver bound yet");
            HttpResponse<String> token = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                            + "/v1/tokens")).header("Authorization", "Bearer component-test-admin-token")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"alice\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, token.statusCode(), token.body());
        } finally {
            component.deactivate();
        }
        assertFalse(Files.exists(portFile), "port file removed on deactivate");
    }

    private static Map<String, String> defaults() {
        Map<String, String> defaults = new HashMap<>();
        for (Method method : HttpApiConfig.class.getDeclaredMethods()) {
            defaults.put(key(method), String.valueOf(method.getDefaultValue()));
        }
        return defaults;
    }

    private static String key(Method method) {
        return method.getName().replace('_', '.');
    }

    /** A config annotation instance backed by a map, falling back to the defaults, as SCR builds it. */
    static HttpApiConfig config(Map<String, Object> props) {
        return (HttpApiConfig) Proxy.newProxyInstance(HttpApiConfig.class.getClassLoader(),
                new Class<?>[]{HttpApiConfig.class}, (proxy, method, args) -> {
                    Object value = props.get(key(method));
                    return value != null ? value : method.getDefaultValue();
                });
    }
}
