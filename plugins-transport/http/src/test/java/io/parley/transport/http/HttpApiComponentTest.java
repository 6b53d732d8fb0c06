package io.parley.transport.http;

import io.parley.core.testing.ComponentConfigs;
import io.parley.transport.http.internal.HttpApiSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class HttpApiComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.transport.http.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndACommentAbove() throws IOException {
        ComponentConfigs.assertShippedCfg(HttpApiConfig.class, SHIPPED_CFG);
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
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"alice\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, token.statusCode(), token.body());
        } finally {
            component.deactivate();
        }
        assertFalse(Files.exists(portFile), "port file removed on deactivate");
    }

    /** A config annotation instance backed by a map, falling back to the defaults, as SCR builds it. */
    static HttpApiConfig config(Map<String, Object> props) {
        return ComponentConfigs.of(HttpApiConfig.class, props);
    }
}
