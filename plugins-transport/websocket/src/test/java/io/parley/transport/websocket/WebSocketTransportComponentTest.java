package io.parley.transport.websocket;

import io.parley.transport.support.TestReceiver;
import io.parley.core.testing.ComponentConfigs;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.transport.support.TlsSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class WebSocketTransportComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.transport.websocket.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefault() throws IOException {
        ComponentConfigs.assertShippedCfg(WebSocketTransportConfig.class, SHIPPED_CFG);
    }

    @Test
    void activateListensAndDeactivateSendsReconnectAndClose1001(@TempDir Path dir) throws Exception {
        Path portFile = dir.resolve("ws.port");
        TestReceiver receiver = new TestReceiver(1024);
        WebSocketTransportComponent component = new WebSocketTransportComponent(receiver, config(Map.of(
                "host", "127.0.0.1", "port", 0, "io.threads", 1, "reconnect.after.ms", 250,
                "path", "/ws", "port.file", portFile.toString())));
        try {
            int port = Integer.parseInt(Files.readString(portFile).trim());
            CompletableFuture<Frame> notice = new CompletableFuture<>();
            CompletableFuture<Integer> status = new CompletableFuture<>();
            HttpClient.newHttpClient().newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), new WebSocket.Listener() {
                        @Override
                        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                            try {
                                notice.complete(Frame.parseFrom(data));
                            } catch (IOException e) {
                                notice.completeExceptionally(e);
                            }
                            ws.request(1);
                            return null;
                        }

                        @Override
                        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
                            status.complete(statusCode);
                            return null;
                        }
                    }).get(5, TimeUnit.SECONDS);
            TestReceiver.TestSession session = receiver.nextSession();
            // the handshake timeout is 10 s, so only the deactivation can produce a frame here
            Thread stopper = new Thread(component::deactivate, "test-deactivate");
            component = null;
            stopper.start();
            Notice received = notice.get(5, TimeUnit.SECONDS).getNotice();
            assertEquals(Notice.Kind.KIND_RECONNECT, received.getKind());
            assertEquals(250, received.getReconnectAfterMs());
            assertEquals(1001, status.get(5, TimeUnit.SECONDS));
            stopper.join(10_000);
            assertFalse(stopper.isAlive());
            session.awaitClosed();
            assertFalse(Files.exists(portFile));
        } finally {
            if (component != null) {
                component.deactivate();
            }
            receiver.shutdown();
        }
    }

    @Test
    void tlsKeysBecomeTheServerTlsSettings() {
        assertFalse(WebSocketTransportComponent.settings(config(Map.of())).server().tls().enabled());
        TlsSettings tls = WebSocketTransportComponent.settings(config(Map.of("tls.enabled", true,
                "tls.cert", "/etc/parley/cert.pem", "tls.key", "/etc/parley/key.pem",
                "tls.key.password", "pw", "tls.protocols", "TLSv1.2"))).server().tls();
        assertEquals(new TlsSettings(true, Path.of("/etc/parley/cert.pem"), Path.of("/etc/parley/key.pem"), "pw",
                List.of("TLSv1.2")), tls);
    }

    /** A config instance as SCR would build it: the given properties, the annotation defaults otherwise. */
    private static WebSocketTransportConfig config(Map<String, Object> properties) {
        return ComponentConfigs.of(WebSocketTransportConfig.class, properties);
    }

    /** The DS mapping of a config method name to its property key. */
}
