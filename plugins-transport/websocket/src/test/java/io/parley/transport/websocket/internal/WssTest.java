package io.parley.transport.websocket.internal;

import io.parley.transport.support.TestReceiver;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Notice;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import io.parley.transport.support.TestReceiver.TestSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLHandshakeException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** wss://: the WebSocket transport with {@code tls.enabled=true}, against the JDK's WebSocket client. */
class WssTest {

    @TempDir
    static Path dir;
    private static TestCertificates.Generated cert;

    private TestReceiver receiver;
    private WebSocketServer server;

    @BeforeAll
    static void generate() throws IOException {
        cert = TestCertificates.localhost(dir);
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.stop();
            for (TestSession session : receiver.sessions) {
                assertEquals(1, session.closedCalls.get(), "onClosed calls");
            }
            WebSocketServerTest.assertNoTransportThreads();
        }
        if (receiver != null) {
            receiver.shutdown();
        }
    }

    @Test
    void helloAndStopNoticeOverWss() throws Exception {
        start();
        HttpClient http = HttpClient.newBuilder().sslContext(cert.trustingContext()).build();
        Frames frames = new Frames();
        // hostname verification is on in the JDK client: the certificate names localhost and 127.0.0.1
        WebSocket ws = http.newWebSocketBuilder()
                .subprotocols(HttpUpgradeHandler.SUBPROTOCOL)
                .buildAsync(uri("wss"), frames).get(5, TimeUnit.SECONDS);
        TestSession session = receiver.nextSession();
        ws.sendBinary(ByteBuffer.wrap(Frame.newBuilder().setRequestId(1)
                .setHello(Hello.newBuilder().setProtocolVersion(1).setToken("t").setDeviceId("d")).build()
                .toByteArray()), true).get(5, TimeUnit.SECONDS);
        assertTrue(frames.next().hasHelloOk());

        CompletableFuture<Void> stopped = CompletableFuture.runAsync(server::stop);
        assertEquals(Notice.Kind.KIND_RECONNECT, frames.next().getNotice().getKind());
        assertEquals(1001, frames.closeStatus.get(5, TimeUnit.SECONDS));
        stopped.get(10, TimeUnit.SECONDS);
        session.awaitClosed();
    }

    @Test
    void untrustedCertificateAndPlaintextAreRefusedAndTheServerKeepsServing() throws Exception {
        start();
        ExecutionException untrusted = assertThrows(ExecutionException.class, () -> HttpClient.newHttpClient()
                .newWebSocketBuilder().buildAsync(uri("wss"), new Frames()).get(5, TimeUnit.SECONDS));
        assertTrue(hasCause(untrusted, SSLHandshakeException.class), untrusted::toString);

        ExecutionException plaintext = assertThrows(ExecutionException.class, () -> HttpClient.newHttpClient()
                .newWebSocketBuilder().buildAsync(uri("ws"), new Frames()).get(5, TimeUnit.SECONDS));
        assertTrue(hasCause(plaintext, IOException.class), plaintext::toString);
        assertTrue(receiver.sessions.isEmpty(), "no session opens without TLS");

        WebSocket ws = HttpClient.newBuilder().sslContext(cert.trustingContext()).build()
                .newWebSocketBuilder().buildAsync(uri("wss"), new Frames()).get(5, TimeUnit.SECONDS);
        assertNotNull(ws);
        receiver.nextSession();
    }

    private void start() throws IOException {
        receiver = new TestReceiver(WebSocketServerTest.MAX_FRAME);
        server = new WebSocketServer(new WebSocketSettings(ServerSettings.builder()
                .host("127.0.0.1").port(0).ioThreads(1).epoll(EpollMode.OFF)
                .closeTimeout(Duration.ofSeconds(2))
                .tls(TlsSettings.of(cert.certPem(), cert.keyPem()))
                .build(), WebSocketServerTest.PATH, OriginPolicy.parse(""), 8192), receiver);
        server.start();
    }

    private URI uri(String scheme) {
        return URI.create(scheme + "://127.0.0.1:" + server.localAddress().getPort() + WebSocketServerTest.PATH);
    }

    private static boolean hasCause(Throwable error, Class<? extends Throwable> type) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** Parses every binary message (sent whole by the server) as one frame. */
    private static final class Frames implements WebSocket.Listener {
        final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closeStatus = new CompletableFuture<>();
        private ByteBuffer partial = ByteBuffer.allocate(0);

        Frame next() throws InterruptedException {
            Frame frame = frames.poll(5, TimeUnit.SECONDS);
            assertNotNull(frame, "no frame received");
            return frame;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            ByteBuffer joined = ByteBuffer.allocate(partial.remaining() + data.remaining());
            joined.put(partial).put(data).flip();
            partial = joined;
            if (last) {
                try {
                    frames.add(Frame.parseFrom(partial));
                } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                    throw new AssertionError(e);
                }
                partial = ByteBuffer.allocate(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closeStatus.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closeStatus.completeExceptionally(error);
        }
    }
}
