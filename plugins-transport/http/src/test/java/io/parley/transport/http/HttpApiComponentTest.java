package io.parley.transport.http;

import io.parley.blob.fs.FsBlobStore;
import io.parley.core.spi.blob.BlobTicket;
import io.parley.core.testing.ComponentConfigs;
import io.parley.transport.http.internal.BlobSettings;
import io.parley.transport.http.internal.HttpApiSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void theBlobKeysAreReadFromTheMergedParleyBlobConfiguration() {
        BlobSettings defaults = BlobSettings.fromProperties(Map.of());
        assertFalse(defaults.secretUsable());
        assertFalse(defaults.secretConfigured());
        assertEquals(8_388_608, defaults.chunkMaxBytes());
        assertEquals(Path.of("data/uploads"), defaults.uploadDir());
        assertEquals(16, defaults.maxConcurrent());
        // as Felix FileInstall delivers them: strings, the secret trimmed like the file types trim it
        BlobSettings set = BlobSettings.fromProperties(Map.of("ticket.secret", " 0123456789abcdef0123456789abcdef ",
                "upload.chunk.max.bytes", "1048576", "upload.dir", "/var/parley/uploads", "upload.max.concurrent", 4));
        assertTrue(set.secretUsable());
        assertEquals(32, set.ticketSecret().length);
        assertEquals(1_048_576, set.chunkMaxBytes());
        assertEquals(Path.of("/var/parley/uploads"), set.uploadDir());
        assertEquals(4, set.maxConcurrent());
        assertFalse(BlobSettings.fromProperties(Map.of("ticket.secret", "short")).secretUsable());
        assertThrows(IllegalArgumentException.class,
                () -> BlobSettings.fromProperties(Map.of("upload.chunk.max.bytes", "lots")));
        assertThrows(IllegalArgumentException.class,
                () -> BlobSettings.fromProperties(Map.of("upload.max.concurrent", "0")));
        assertEquals("(parley.blob.store.name=fs)", HttpApiComponent.DEFAULT_BLOB_TARGET);
    }

    @Test
    void theBlobStoreComesAndGoesWithoutRestartingTheServer(@TempDir Path dir) throws Exception {
        String secret = "component-test-ticket-secret-0123456789";
        Path portFile = dir.resolve("http.port");
        Map<String, Object> props = new HashMap<>();
        props.put("port", 0);
        props.put("port.file", portFile.toString());
        props.put("ticket.secret", secret); // from PID parley.blob
        props.put("upload.dir", dir.resolve("uploads").toString());
        HttpApiComponent component = new HttpApiComponent(config(props), props);
        try (FsBlobStore store = new FsBlobStore(dir.resolve("blobs"))) {
            int port = Integer.parseInt(Files.readString(portFile).trim());
            String key = "f/alice/20261206/component";
            byte[] data = "hello, blob".getBytes(StandardCharsets.UTF_8);
            String ticket = new BlobTicket(BlobTicket.Access.UPLOAD, key, "alice", data.length, "text/plain",
                    Instant.now().plusSeconds(600)).sign(secret.getBytes(StandardCharsets.UTF_8));
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpRequest patch = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/blobs/" + key))
                    .header("Authorization", "Bearer " + ticket)
                    .header("Content-Type", "application/offset+octet-stream").header("Upload-Offset", "0")
                    .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(data)).build();

            assertEquals(503, client.send(patch, HttpResponse.BodyHandlers.ofString()).statusCode(), "no store yet");
            component.bindBlob(store);
            HttpResponse<String> created = client.send(patch, HttpResponse.BodyHandlers.ofString());
            assertEquals(201, created.statusCode(), created.body());
            assertTrue(created.body().contains("\"sha256\""), created.body());
            component.unbindBlob(store);
            assertEquals(503, client.send(patch, HttpResponse.BodyHandlers.ofString()).statusCode(), "store gone");
            assertEquals(port, Integer.parseInt(Files.readString(portFile).trim()));
        } finally {
            component.deactivate();
        }
    }

    /** A config annotation instance backed by a map, falling back to the defaults, as SCR builds it. */
    static HttpApiConfig config(Map<String, Object> props) {
        return ComponentConfigs.of(HttpApiConfig.class, props);
    }
}
