package io.parley.transport.websocket.internal;

import io.parley.transport.support.TestReceiver;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Notice;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TestReceiver.TestSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same transport against an independent client implementation: the JDK's {@link java.net.http.WebSocket}
 * (which also checks the server's side of the handshake, masking and close rules).
 */
class JdkClientInteropTest {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private TestReceiver receiver;
    private WebSocketServer server;

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
    void helloSendFragmentedSendPingAndServerStop() throws Exception {
        start("");
        Events events = new Events();
        WebSocket ws = HTTP.newWebSocketBuilder()
                .subprotocols(HttpUpgradeHandler.SUBPROTOCOL)
                .buildAsync(uri(), events).get(5, TimeUnit.SECONDS);
        assertEquals(HttpUpgradeHandler.SUBPROTOCOL, ws.getSubprotocol());
        TestSession session = receiver.nextSession();

        ws.sendBinary(ByteBuffer.wrap(Frame.newBuilder().setRequestId(1)
                .setHello(Hello.newBuilder().setProtocolVersion(1).setToken("t").setDeviceId("d")).build()
                .toByteArray()), true).get(5, TimeUnit.SECONDS);
        assertTrue(events.nextFrame().hasHelloOk());

        byte[] send = WebSocketServerTest.send(2, "m-2").toByteArray();
        ws.sendBinary(ByteBuffer.wrap(send, 0, 5), false).get(5, TimeUnit.SECONDS);
        ws.sendBinary(ByteBuffer.wrap(send, 5, send.length - 5), true).get(5, TimeUnit.SECONDS);
        assertEquals("m-2", events.nextFrame().getSendAck().getMessageId());

        ws.sendPing(ByteBuffer.wrap(new byte[] {1, 2, 3})).get(5, TimeUnit.SECONDS);
        assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3}), events.pongs.poll(5, TimeUnit.SECONDS));

        CompletableFuture<Void> stopped = CompletableFuture.runAsync(server::stop);
        Frame notice = events.nextFrame();
        assertEquals(Notice.Kind.KIND_RECONNECT, notice.getNotice().getKind());
        assertEquals(1001, events.closeStatus.get(5, TimeUnit.SECONDS));
        stopped.get(10, TimeUnit.SECONDS);
        session.awaitClosed();
    }

    @Test
    void textMessageIsClosedWith1003() throws Exception {
        start("");
        Events events = new Events();
        WebSocket ws = HTTP.newWebSocketBuilder().buildAsync(uri(), events).get(5, TimeUnit.SECONDS);
        TestSession session = receiver.nextSession();
        ws.sendText("hello", true).get(5, TimeUnit.SECONDS);
        assertEquals(io.parley.core.proto.ErrorCode.ERROR_CODE_BAD_FRAME, events.nextFrame().getError().getCode());
        assertEquals(1003, events.closeStatus.get(5, TimeUnit.SECONDS));
        session.awaitClosed();
    }

    @Test
    void disallowedOriginIsRefusedWith403() throws Exception {
        start("https://chat.example.com");
        CompletionException refused = assertThrows(CompletionException.class, () -> HTTP.newWebSocketBuilder()
                .header("Origin", "https://evil.example")
                .buildAsync(uri(), new Events()).join());
        WebSocketHandshakeException handshake = assertInstanceOf(WebSocketHandshakeException.class,
                refused.getCause());
        assertEquals(403, handshake.getResponse().statusCode());

        WebSocket allowed = HTTP.newWebSocketBuilder()
                .header("Origin", "https://chat.example.com")
                .buildAsync(uri(), new Events()).get(5, TimeUnit.SECONDS);
        assertNotNull(allowed);
        receiver.nextSession();
    }

    private void start(String origins) throws Exception {
        receiver = new TestReceiver(WebSocketServerTest.MAX_FRAME);
        server = new WebSocketServer(new WebSocketSettings(ServerSettings.builder()
                .host("127.0.0.1").port(0).ioThreads(1).epoll(EpollMode.OFF)
                .closeTimeout(Duration.ofSeconds(2)).build(),
                WebSocketServerTest.PATH, OriginPolicy.parse(origins), 8192), receiver);
        server.start();
    }

    private URI uri() {
        return URI.create("ws://127.0.0.1:" + server.localAddress().getPort() + WebSocketServerTest.PATH);
    }

    /** Collects what the JDK client receives; binary messages are joined and parsed as frames. */
    private static final class Events implements WebSocket.Listener {
        final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        final BlockingQueue<ByteBuffer> pongs = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closeStatus = new CompletableFuture<>();
        private ByteBuffer partial = ByteBuffer.allocate(0);

        Frame nextFrame() throws InterruptedException {
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
        public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
            ByteBuffer copy = ByteBuffer.allocate(message.remaining());
            copy.put(message).flip();
            pongs.add(copy);
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
