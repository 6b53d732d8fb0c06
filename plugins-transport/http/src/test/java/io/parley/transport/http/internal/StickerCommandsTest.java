package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.blob.fs.FsBlobStore;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.testing.ComponentConfigs;
import io.parley.type.sticker.StickerComponent;
import io.parley.type.sticker.proto.StickerPack;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.Dictionary;
import java.util.HexFormat;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sticker packs managed through {@code POST /v1/commands/{type}} exactly as docs/protocol.md §6g shows: the real
 * sticker bundle's component (activated and bound to the filesystem blob store as SCR would, its services registered
 * with the real engine behind the API), payloads and answers as JSON. {@code sticker.pack.put} and
 * {@code sticker.pack.withdraw} run only for trusted callers, which the API's sessions are.
 */
class StickerCommandsTest {

    private static final String ADMIN = HttpApiServerTest.ADMIN;
    private static final String TICKET_SECRET = "sticker-test-ticket-secret-0123456789";

    @TempDir
    Path dir;
    private final ObjectMapper mapper = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private FsBlobStore blobs;
    private EngineCore core;
    private StickerComponent stickers;
    private HttpApiServer server;

    @BeforeEach
    void start() throws Exception {
        blobs = new FsBlobStore(dir.resolve("blobs"));
        core = new EngineCore(HttpApiServerTest.SECRET);
        stickers = new StickerComponent(registeringWith(core),
                ComponentConfigs.of(StickerComponent.Config.class, Map.of()),
                ComponentConfigs.of(StickerComponent.BlobConfig.class, Map.of("ticket.secret", TICKET_SECRET,
                        "public.url", "http://127.0.0.1:7702")));
        scr("bindBlob", BlobStore.class).invoke(stickers, blobs);
        server = new HttpApiServer(HttpApiServerTest.settings(ADMIN, 1024 * 1024, Duration.ofSeconds(10), 10),
                TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)));
        server.start();
        server.bindReceiver(core);
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.stop();
        }
        if (stickers != null) {
            scr("deactivate").invoke(stickers);
        }
        core.close();
        blobs.close();
        assertEquals(core.opened.get(), core.closed.get(), "every core session is closed exactly once");
    }

    @Test
    void aPackIsPutWithAJsonPayloadListedAndWithdrawn() throws Exception {
        byte[] png = png(64, 48);
        String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(png));
        HttpResponse<String> put = post("/v1/commands/sticker.pack.put", "{\"payload\":{\"id\":\"cats\",\"name\":\"Cats\","
                + "\"stickers\":[{\"id\":\"hello\",\"name\":\"Hello\",\"contentType\":\"image/png\",\"image\":\""
                + Base64.getEncoder().encodeToString(png) + "\"}]}}");
        assertEquals(200, put.statusCode(), put.body());
        JsonNode answer = json(put);
        assertEquals("sticker.pack.put", answer.get("type").asText());
        assertEquals(mapper.readTree("{\"id\":\"cats\",\"name\":\"Cats\",\"version\":\"1\",\"stickers\":[{\"id\":\"hello\","
                + "\"name\":\"Hello\",\"contentType\":\"image/png\",\"width\":64,\"height\":48,"
                + "\"imageKey\":\"s/cats/hello/" + sha256 + "\",\"size\":\"" + png.length + "\"}]}"), answer.get("result"));
        JsonNode packed = answer.get("result_packed");
        assertEquals("type.googleapis.com/parley.sticker.v1.StickerPack", packed.get("type_url").asText());
        StickerPack v1 = StickerPack.parseFrom(Base64.getDecoder().decode(packed.get("value_base64").asText()));
        assertEquals(1, v1.getVersion());
        assertEquals("s/cats/hello/" + sha256, v1.getStickers(0).getImageKey());
        assertTrue(blobs.stat(v1.getStickers(0).getImageKey()).isPresent(), "the image is in the blob store");

        // the catalog describes the commands, so the payloads above could be written from GET /v1/types alone
        JsonNode putInfo = null;
        for (JsonNode c : json(get("/v1/types")).get("commands")) {
            if (c.get("type").asText().equals("sticker.pack.put")) {
                putInfo = c;
            }
        }
        assertEquals("parley.sticker.v1.StickerPackPut", putInfo.get("payload").asText());
        assertEquals("parley.sticker.v1.StickerPack", putInfo.get("result").asText());
        JsonNode image = putInfo.get("payload_fields").get(2).get("fields").get(3);
        assertEquals("image", image.get("name").asText());
        assertEquals("bytes", image.get("type").asText());

        // any user lists the packs (no payload: an empty StickerListRequest); the packs are read once at start
        JsonNode listed = listWhenLoaded();
        assertEquals("cats", listed.get("packs").get(0).get("id").asText());
        String url = listed.get("packs").get(0).get("stickers").get(0).get("url").asText();
        assertTrue(url.startsWith("http://127.0.0.1:7702/blobs/s/cats/hello/" + sha256 + "?ticket="), url);

        HttpResponse<String> withdrawn = post("/v1/commands/sticker.pack.withdraw", "{\"payload\":{\"id\":\"cats\"}}");
        assertEquals(200, withdrawn.statusCode(), withdrawn.body());
        JsonNode v2 = json(withdrawn).get("result");
        assertEquals("2", v2.get("version").asText());
        assertTrue(v2.get("withdrawn").asBoolean());
        assertFalse(json(post("/v1/commands/sticker.list", "{\"user\":\"alice\"}")).get("result").has("packs"),
                "a withdrawn pack is no longer listed");

        // the handlers' refusals, with their statuses
        HttpResponse<String> unknown = post("/v1/commands/sticker.pack.withdraw", "{\"payload\":{\"id\":\"dogs\"}}");
        assertEquals(404, unknown.statusCode(), unknown.body());
        assertTrue(json(unknown).get("error").get("message").asText().contains("no sticker pack \"dogs\""));
        HttpResponse<String> noImage = post("/v1/commands/sticker.pack.put", "{\"payload\":{\"id\":\"dogs\","
                + "\"name\":\"Dogs\",\"stickers\":[{\"id\":\"woof\",\"name\":\"Woof\"}]}}");
        assertEquals(400, noImage.statusCode(), noImage.body());
        assertEquals("INVALID_REQUEST", json(noImage).get("error").get("code").asText());
        HttpResponse<String> typo = post("/v1/commands/sticker.pack.put", "{\"payload\":{\"id\":\"dogs\","
                + "\"stickers\":[{\"id\":\"woof\",\"img\":\"AAAA\"}]}}");
        assertEquals(400, typo.statusCode(), typo.body());
        assertTrue(json(typo).get("error").get("message").asText()
                .contains("payload.stickers[0].img is not a field of parley.sticker.v1.StickerPut"), typo.body());
    }

    /** {@code sticker.list} as alice, once the component has read the packs (a retryable 503 until then). */
    private JsonNode listWhenLoaded() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            HttpResponse<String> r = post("/v1/commands/sticker.list", "{\"user\":\"alice\"}");
            if (r.statusCode() == 200) {
                return json(r).get("result");
            }
            assertEquals(503, r.statusCode(), r.body());
            assertTrue(json(r).get("error").get("retryable").asBoolean(), r.body());
            assertTrue(System.nanoTime() < deadline, "the sticker packs were not loaded: " + r.body());
            Thread.sleep(50);
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** A bundle context whose {@code registerService} serves the registered processors and commands with the core. */
    private static BundleContext registeringWith(EngineCore core) {
        ServiceRegistration<?> registration = (ServiceRegistration<?>) Proxy.newProxyInstance(
                StickerCommandsTest.class.getClassLoader(), new Class<?>[] {ServiceRegistration.class},
                (proxy, method, args) -> method.getName().equals("unregister") ? null : objectMethod(proxy, method, args));
        return (BundleContext) Proxy.newProxyInstance(StickerCommandsTest.class.getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, method, args) -> {
                    if (method.getName().equals("registerService") && args.length == 3
                            && args[2] instanceof Dictionary<?, ?> props) {
                        if (args[1] instanceof CommandHandler handler) {
                            core.command((String) props.get(CommandHandler.TYPE), handler);
                        } else if (args[1] instanceof MessageProcessor processor) {
                            core.processor((String) props.get(MessageProcessor.TYPE), processor);
                        } else {
                            throw new UnsupportedOperationException("registerService of " + args[1]);
                        }
                        return registration;
                    }
                    return objectMethod(proxy, method, args);
                });
    }

    private static Object objectMethod(Object proxy, Method method, Object[] args) {
        switch (method.getName()) {
            case "hashCode":
                return System.identityHashCode(proxy);
            case "equals":
                return proxy == args[0];
            case "toString":
                return "test " + method.getDeclaringClass().getSimpleName();
            default:
                throw new UnsupportedOperationException(method.getName());
        }
    }

    /** A method of the component that SCR calls by its name in the component description (bind, deactivate). */
    private static Method scr(String name, Class<?>... parameters) throws NoSuchMethodException {
        Method m = StickerComponent.class.getDeclaredMethod(name, parameters);
        m.setAccessible(true);
        return m;
    }

    private static byte[] png(int width, int height) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, (x * 4) << 16 | (y * 4) << 8 | 0x80);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + ADMIN).GET());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.localAddress().getPort() + path);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return client.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(HttpResponse<String> r) throws IOException {
        return mapper.readTree(r.body());
    }
}
