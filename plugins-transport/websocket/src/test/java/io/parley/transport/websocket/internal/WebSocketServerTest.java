package io.parley.transport.websocket.internal;

import io.parley.transport.support.TestReceiver;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.netty.util.ResourceLeakDetector;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Send;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.IoChoice;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TestReceiver.TestSession;
import io.parley.transport.websocket.internal.WsTestClient.HttpAnswer;
import io.parley.transport.websocket.internal.WsTestClient.WsFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance of the WebSocket transport over real sockets, with a raw RFC 6455 client ({@link WsTestClient}) so
 * every frame on the wire is the test's choice. Each test documents the outcome the protocol promises.
 */
class WebSocketServerTest {

    static final int MAX_FRAME = 64 * 1024;
    static final String PATH = "/parley";

    private TestReceiver receiver;
    private WebSocketServer server;
    private final List<WsTestClient> clients = new ArrayList<>();

    @BeforeAll
    static void detectLeaks() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (WsTestClient client : clients) {
            client.close();
        }
        if (server != null) {
            server.stop();
            for (TestSession session : receiver.sessions) {
                assertEquals(1, session.closedCalls.get(), "onClosed calls");
            }
            assertNoTransportThreads();
        }
        if (receiver != null) {
            receiver.shutdown();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void binaryRoundTrip(String transport) throws Exception {
        start(IoChoice.io(transport));
        assertEquals(transport, server.transportName());

        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        assertEquals("websocket", session.connection.transport());
        assertTrue(session.connection.remoteAddress().startsWith("127.0.0.1:"));

        assertEquals("alice", client.hello().getHelloOk().getUserId());
        client.pingPong(2);
        client.send(send(3, "m-1"));
        Frame ack = client.read();
        assertEquals(3, ack.getRequestId());
        assertEquals("m-1", ack.getSendAck().getMessageId());
    }

    @Test
    void fragmentedBinaryMessageIsReassembledAndControlFramesMayInterleave() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        receiver.nextSession();
        client.hello();

        byte[] bytes = send(4, "x".repeat(3000)).toByteArray();
        int third = bytes.length / 3;
        client.sendFrame(WsTestClient.BINARY, false, Arrays.copyOfRange(bytes, 0, third));
        client.sendFrame(WsTestClient.PING, true, "mid".getBytes(StandardCharsets.US_ASCII));
        client.sendFrame(WsTestClient.CONTINUATION, false, Arrays.copyOfRange(bytes, third, 2 * third));
        client.sendFrame(WsTestClient.CONTINUATION, true, Arrays.copyOfRange(bytes, 2 * third, bytes.length));

        WsFrame pong = client.readFrame();
        assertEquals(WsTestClient.PONG, pong.opcode());
        assertArrayEquals("mid".getBytes(StandardCharsets.US_ASCII), pong.payload());
        Frame ack = client.read();
        assertEquals(4, ack.getRequestId());
        assertEquals("x".repeat(3000), ack.getSendAck().getMessageId());
    }

    @Test
    void burstFromAnotherThreadArrivesInOrderAndSendFlushedCompletes() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();

        int count = 2_000;
        CompletableFuture<Void> last = CompletableFuture.supplyAsync(() -> {
            for (int i = 1; i < count; i++) {
                session.connection.send(deliver(i, 10));
            }
            return session.connection.sendFlushed(deliver(count, 10)).toCompletableFuture();
        }).thenCompose(stage -> stage);

        for (int i = 1; i <= count; i++) {
            assertEquals(i, client.read().getDeliver().getMessages(0).getSeq());
        }
        last.get(5, TimeUnit.SECONDS);
    }

    /** A frame header announcing more than the max frame size: refused before the payload is read. */
    @Test
    void oversizedMessageGetsFrameTooLargeAndClose1009() throws Exception {
        start(s -> { });
        WsTestClient other = connect();
        receiver.nextSession();
        other.hello();

        WsTestClient bad = connect();
        TestSession badSession = receiver.nextSession();
        // FIN+binary, masked, 64-bit length MAX_FRAME + 1, mask key; no payload follows
        bad.sendRaw(new byte[] {(byte) 0x82, (byte) 0xFF, 0, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4});
        assertEquals(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, bad.read().getError().getCode());
        assertEquals(1009, bad.readClose());
        bad.completeClose(1009);
        badSession.awaitClosed();
        assertTrue(badSession.frames.isEmpty());

        other.pingPong(5);
    }

    /** Fragments each under the limit whose sum is over it: the aggregator refuses the message with 1009. */
    @Test
    void fragmentedMessageOverTheLimitGetsClose1009() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.sendFrame(WsTestClient.BINARY, false, new byte[MAX_FRAME / 2 + 1]);
        client.sendFrame(WsTestClient.CONTINUATION, true, new byte[MAX_FRAME / 2 + 1]);
        assertEquals(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, client.read().getError().getCode());
        assertEquals(1009, client.readClose());
        client.completeClose(1009);
        session.awaitClosed();
        assertTrue(session.frames.isEmpty());
    }

    @Test
    void messageOfExactlyTheLimitIsAccepted() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        Frame exact = send(9, "");
        while (exact.getSerializedSize() != MAX_FRAME) {
            // the length varints grow as the id does: converge on the exact size
            int id = exact.getSend().getClientMsgId().length() + MAX_FRAME - exact.getSerializedSize();
            exact = send(9, "y".repeat(id));
        }
        assertEquals(MAX_FRAME, exact.getSerializedSize());
        client.send(exact);
        assertEquals(9, client.read().getRequestId());
        assertEquals(exact, session.frames.poll(5, TimeUnit.SECONDS));
    }

    /** Parley is binary only: a (valid UTF-8) text message gets Error{BAD_FRAME} and close 1003. */
    @Test
    void textMessageGetsClose1003() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.sendFrame(WsTestClient.TEXT, true, "{\"hello\":1}".getBytes(StandardCharsets.UTF_8));
        assertEquals(ErrorCode.ERROR_CODE_BAD_FRAME, client.read().getError().getCode());
        assertEquals(1003, client.readClose());
        client.completeClose(1003);
        session.awaitClosed();
        assertTrue(session.frames.isEmpty());
    }

    /**
     * A text message that is not UTF-8 gets 1007, not 1003: payloads are validated as they arrive (before the
     * message is complete and its type can be refused), as RFC 6455 §8.1 asks.
     */
    @Test
    void invalidUtf8InATextMessageGetsClose1007() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.sendFrame(WsTestClient.TEXT, true, new byte[] {'o', 'k', (byte) 0xC3, (byte) 0x28});
        assertEquals(ErrorCode.ERROR_CODE_BAD_FRAME, client.read().getError().getCode());
        assertEquals(1007, client.readClose());
        client.completeClose(1007);
        session.awaitClosed();
    }

    @Test
    void malformedProtobufGetsBadFrameAndClose1002() throws Exception {
        start(s -> { });
        WsTestClient other = connect();
        receiver.nextSession();
        other.hello();

        WsTestClient bad = connect();
        TestSession badSession = receiver.nextSession();
        bad.sendFrame(WsTestClient.BINARY, true, new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        assertEquals(ErrorCode.ERROR_CODE_BAD_FRAME, bad.read().getError().getCode());
        assertEquals(1002, bad.readClose());
        bad.completeClose(1002);
        badSession.awaitClosed();
        assertTrue(badSession.frames.isEmpty());

        other.pingPong(6);
    }

    /** RFC 6455 §5.1: client frames must be masked; an unmasked one is a protocol error (1002). */
    @Test
    void unmaskedFrameIsAProtocolError() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        receiver.nextSession();
        client.sendRaw(new byte[] {(byte) 0x82, 0x01, 0x00});
        assertEquals(ErrorCode.ERROR_CODE_BAD_FRAME, client.read().getError().getCode());
        assertEquals(1002, client.readClose());
    }

    @Test
    void pingIsAnsweredWithPongCarryingTheSamePayload() throws Exception {
        start(s -> { });
        WsTestClient client = connect();
        receiver.nextSession();
        byte[] payload = "are you there?".getBytes(StandardCharsets.US_ASCII);
        client.sendFrame(WsTestClient.PING, true, payload);
        WsFrame pong = client.readFrame();
        assertEquals(WsTestClient.PONG, pong.opcode());
        assertArrayEquals(payload, pong.payload());
        client.sendFrame(WsTestClient.PONG, true, new byte[0]); // unsolicited pong: ignored
        client.hello();
    }

    @Test
    void clientCloseIsEchoedAndTheSocketClosed() throws Exception {
        start(s -> s.closeTimeout(Duration.ofSeconds(30)));
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();
        client.sendFrame(WsTestClient.CLOSE, true, new byte[] {0x0F, (byte) 0xA0}); // 4000
        assertEquals(4000, client.readClose());
        client.assertClosedByServer();
        session.awaitClosed();
    }

    @Test
    void originAllowList() throws Exception {
        start(s -> { }, "https://chat.example.com, http://localhost:8080/");
        assertEquals(403, connectRaw().request(PATH, "https://evil.example").status());
        assertEquals(101, connectRaw().request(PATH, "HTTPS://Chat.Example.com").status());
        assertEquals(101, connectRaw().request(PATH, "http://localhost:8080").status());
        assertEquals(101, connectRaw().request(PATH, null).status(), "non-browser clients send no Origin");
        assertEquals(403, connectRaw().request(PATH, "null").status());
        // two Origin headers, an allowed one first: refused, whichever one a reader would pick
        assertEquals(403, connectRaw().request(PATH, "https://chat.example.com\r\nOrigin: https://evil.example").status());
        assertEquals(403, connectRaw().request(PATH, "https://evil.example\r\nOrigin: https://chat.example.com").status());
        for (int i = 0; i < 3; i++) {
            receiver.nextSession();
        }
    }

    @Test
    void emptyAllowListRefusesEveryBrowserOrigin() throws Exception {
        start(s -> { }, "");
        WsTestClient refused = connectRaw();
        HttpAnswer answer = refused.request(PATH, "http://localhost:3000");
        assertEquals(403, answer.status());
        refused.assertClosedByServer();
        assertEquals(101, connectRaw().request(PATH, null).status());
        receiver.nextSession();
    }

    @Test
    void wildcardAllowsAnyOrigin() throws Exception {
        start(s -> { }, "*");
        assertEquals(101, connectRaw().request(PATH, "https://anything.example").status());
        receiver.nextSession();
    }

    @Test
    void plainHttpRequestsAreAnsweredAndClosed() throws Exception {
        start(s -> { });
        WsTestClient wrongPath = connectRaw();
        wrongPath.sendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(404, wrongPath.readHttpAnswer().status());
        wrongPath.assertClosedByServer();

        WsTestClient noUpgrade = connectRaw();
        noUpgrade.sendRaw(("GET " + PATH + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        assertEquals(400, noUpgrade.readHttpAnswer().status());
        noUpgrade.assertClosedByServer();

        WsTestClient post = connectRaw();
        post.sendRaw(("POST " + PATH + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                .getBytes(StandardCharsets.US_ASCII));
        assertEquals(405, post.readHttpAnswer().status());
        post.assertClosedByServer();

        WsTestClient oldVersion = connectRaw();
        oldVersion.sendRaw(("GET " + PATH + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        HttpAnswer upgradeRequired = oldVersion.readHttpAnswer();
        assertEquals(426, upgradeRequired.status());
        assertEquals("13", upgradeRequired.headers().get("sec-websocket-version"));
        oldVersion.assertClosedByServer();

        for (String key : new String[]{"Sec-WebSocket-Key: x\r\n", "", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"}) {
            WsTestClient badKey = connectRaw(); // not one base64 value of 16 bytes: x, none, 8 bytes, two
            badKey.sendRaw(("GET " + PATH + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + key + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertEquals(400, badKey.readHttpAnswer().status(), key);
            badKey.assertClosedByServer();
        }

        String upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        for (String host : new String[]{"", "Host: x\r\nHost: x\r\n", "Host: x y\r\n"}) {
            WsTestClient badHost = connectRaw(); // RFC 9112 §3.2: none, two, malformed
            badHost.sendRaw(("GET " + PATH + " HTTP/1.1\r\n" + host + upgrade + "\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            HttpAnswer answer = badHost.readHttpAnswer();
            assertEquals(400, answer.status(), host);
            assertTrue(answer.body().contains("Host"), answer::toString);
            badHost.assertClosedByServer();
        }

        WsTestClient garbage = connectRaw();
        garbage.sendRaw("\u0016\u0003\u0001 not http at all\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(400, garbage.readHttpAnswer().status());
        garbage.assertClosedByServer();
        assertTrue(receiver.sessions.isEmpty());
    }

    @Test
    void upgradeRequestOverMaxHttpRequestBytesIsRefused() throws Exception {
        start(s -> { });
        WsTestClient client = connectRaw();
        client.sendRaw(("GET " + PATH + " HTTP/1.1\r\nHost: x\r\nX-Padding: " + "p".repeat(1024) + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        assertEquals(431, client.readHttpAnswer().status());
        client.assertClosedByServer();
    }

    @Test
    void noUpgradeInTimeClosesTheSocket() throws Exception {
        start(s -> s.handshakeTimeout(Duration.ofMillis(200)));
        WsTestClient client = connectRaw();
        client.sendRaw("GET /parley HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII)); // and never finishes
        client.assertClosedByServer();
        assertTrue(receiver.sessions.isEmpty());
    }

    @Test
    void noHelloInTimeGetsHandshakeTimeoutAndClose1008() throws Exception {
        start(s -> s.handshakeTimeout(Duration.ofMillis(300)));
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        assertEquals(ErrorCode.ERROR_CODE_HANDSHAKE_TIMEOUT, client.read().getError().getCode());
        assertEquals(1008, client.readClose());
        client.completeClose(1008);
        session.awaitClosed();
    }

    @Test
    void authenticatedConnectionOutlivesTheHandshakeTimeout() throws Exception {
        start(s -> s.handshakeTimeout(Duration.ofMillis(150)));
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();
        Thread.sleep(300); // let the handshake timer fire
        client.pingPong(2);
        assertFalse(session.connection(WebSocketConnection.class).isClosing());
    }

    @Test
    void silentClientGetsReconnectNoticeAndClose1001AfterTheIdleTimeout() throws Exception {
        start(s -> s.idleTimeout(Duration.ofMillis(300)));
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();
        assertEquals(Notice.Kind.KIND_RECONNECT, client.read().getNotice().getKind());
        assertEquals(1001, client.readClose());
        client.completeClose(1001);
        session.awaitClosed();
    }

    @ParameterizedTest(name = "sent from the event loop: {0}")
    @ValueSource(booleans = {false, true})
    void slowConsumerIsClosedWithBoundedMemoryAndOthersAreUnaffected(boolean fromEventLoop) throws Exception {
        int limit = 256 * 1024;
        start(s -> s.outboundMaxBytes(limit).closeTimeout(Duration.ofMillis(200)));
        WsTestClient fast = connect();
        receiver.nextSession();
        fast.hello();

        WsTestClient slow = WsTestClient.withSmallReceiveBuffer(server.localAddress()).upgrade(PATH);
        clients.add(slow);
        TestSession slowSession = receiver.nextSession();
        slow.hello(); // and never reads again

        Frame big = deliver(1, 32 * 1024);
        long bound = limit + 2L * (big.getSerializedSize() + 10) + 4096;
        int sent = 0;
        while (!slowSession.connection(WebSocketConnection.class).isClosing() && sent < 100_000) {
            if (fromEventLoop) {
                slowSession.connection(WebSocketConnection.class).channel().eventLoop().submit(() -> slowSession.connection.send(big)).get();
            } else {
                slowSession.connection.send(big);
            }
            sent++;
            long pending = slowSession.connection(WebSocketConnection.class).pendingOutboundBytes();
            assertTrue(pending <= bound, "pending " + pending + " > " + bound);
        }
        assertTrue(slowSession.connection(WebSocketConnection.class).isClosing(), "slow consumer not detected after " + sent + " frames");
        slowSession.awaitClosed();

        slowSession.connection.send(big);
        CompletableFuture<Void> late = slowSession.connection.sendFlushed(big).toCompletableFuture();
        ExecutionException failure = assertThrows(ExecutionException.class, () -> late.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ClosedChannelException.class, failure.getCause());

        fast.pingPong(7);
        assertEquals(1, server.connectionCount());
    }

    @Test
    void coreCloseWritesQueuedFramesThenTheNoticeThenClose1000() throws Exception {
        // a close timeout longer than awaitClosed waits: the close must follow the client's answer, not the timer
        start(s -> s.closeTimeout(Duration.ofSeconds(30)));
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();

        Notice kicked = Notice.newBuilder().setKind(Notice.Kind.KIND_KICKED).setText("bye").build();
        CompletableFuture.runAsync(() -> {
            for (int i = 1; i <= 100; i++) {
                session.connection.send(deliver(i, 100));
            }
            session.connection.close(kicked);
            session.connection.close(kicked);
        }).get(5, TimeUnit.SECONDS);

        for (int i = 1; i <= 100; i++) {
            assertEquals(i, client.read().getDeliver().getMessages(0).getSeq());
        }
        assertEquals(kicked, client.read().getNotice());
        assertEquals(1000, client.readClose());
        client.completeClose(1000);
        session.awaitClosed();
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void stopSendsReconnectNoticeAndClose1001ToEveryClient(String transport) throws Exception {
        start(IoChoice.io(transport).andThen(s -> s.reconnectAfterMs(1234).closeTimeout(Duration.ofSeconds(30))));
        WsTestClient a = connect();
        TestSession sessionA = receiver.nextSession();
        a.hello();
        WsTestClient b = connect();
        TestSession sessionB = receiver.nextSession();
        b.hello();
        WsTestClient notUpgraded = connectRaw();

        CompletableFuture<Void> stopped = CompletableFuture.runAsync(server::stop);
        for (WsTestClient client : List.of(a, b)) {
            Notice notice = client.read().getNotice();
            assertEquals(Notice.Kind.KIND_RECONNECT, notice.getKind());
            assertEquals(1234, notice.getReconnectAfterMs());
            assertEquals(1001, client.readClose());
            client.completeClose(1001);
        }
        notUpgraded.assertClosedByServer();
        stopped.get(10, TimeUnit.SECONDS);
        assertEquals(1, sessionA.closedCalls.get());
        assertEquals(1, sessionB.closedCalls.get());
        assertNoTransportThreads();
    }

    @Test
    void stopDoesNotWaitLongerThanTheCloseTimeoutForSilentClients() throws Exception {
        start(s -> s.closeTimeout(Duration.ofMillis(300)));
        WsTestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();
        long started = System.nanoTime();
        server.stop(); // the client never answers the close
        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(3));
        assertEquals(Notice.Kind.KIND_RECONNECT, client.read().getNotice().getKind());
        assertEquals(1001, client.readClose());
        client.assertClosedByServer();
        assertEquals(1, session.closedCalls.get());
    }

    @Test
    void connectionsOverTheLimitGetARetryableErrorAndClose1013() throws Exception {
        start(s -> s.maxConnections(1).reconnectAfterMs(500));
        WsTestClient first = connect();
        TestSession firstSession = receiver.nextSession();
        first.hello();

        WsTestClient second = connect();
        Frame error = second.read();
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, error.getError().getCode());
        assertTrue(error.getError().getRetryable());
        assertEquals(500, error.getError().getRetryAfterMs());
        assertEquals(1013, second.readClose());
        second.completeClose(1013);

        first.close();
        firstSession.awaitClosed();
        WsTestClient third = connect();
        receiver.nextSession();
        third.hello();
        assertEquals(2, receiver.sessions.size(), "the refused connection opened no session");
    }

    @Test
    void portFileHoldsTheBoundPortUntilStop(@TempDir Path dir) throws Exception {
        Path portFile = dir.resolve("run/ws.port");
        start(s -> s.portFile(portFile));
        assertEquals(server.localAddress().getPort() + "\n", Files.readString(portFile));
        server.stop();
        assertFalse(Files.exists(portFile));
    }

    @Test
    void bindFailureLeavesNoThreads() throws Exception {
        start(s -> { });
        TestReceiver second = new TestReceiver(MAX_FRAME);
        WebSocketServer clash = new WebSocketServer(new WebSocketSettings(ServerSettings.builder()
                .host("127.0.0.1").port(server.localAddress().getPort()).ioThreads(1).build(),
                PATH, OriginPolicy.parse(""), 8192), second);
        assertThrows(IOException.class, clash::start);
        clash.stop();
        second.shutdown();
        assertEquals(1, Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("parley-ws-boss")).count());
    }

    private void start(Consumer<ServerSettings.Builder> customizer) throws IOException {
        start(customizer, "");
    }

    private void start(Consumer<ServerSettings.Builder> customizer, String allowedOrigins) throws IOException {
        receiver = new TestReceiver(MAX_FRAME);
        ServerSettings.Builder settings = ServerSettings.builder()
                .host("127.0.0.1")
                .port(0)
                .ioThreads(2)
                .epoll(EpollMode.OFF)
                .closeTimeout(Duration.ofMillis(500));
        customizer.accept(settings);
        server = new WebSocketServer(new WebSocketSettings(settings.build(), PATH,
                OriginPolicy.parse(allowedOrigins), 1024), receiver);
        server.start();
    }

    /** A client that has upgraded on {@link #PATH}. */
    private WsTestClient connect() throws IOException {
        return connectRaw().upgrade(PATH);
    }

    /** A client that has only opened the socket. */
    private WsTestClient connectRaw() throws IOException {
        WsTestClient client = new WsTestClient(server.localAddress());
        clients.add(client);
        return client;
    }

    static Frame send(long requestId, String clientMsgId) {
        return Frame.newBuilder().setRequestId(requestId)
                .setSend(Send.newBuilder().setClientMsgId(clientMsgId).setConversation("d:alice:bob").setType("text"))
                .build();
    }

    static Frame deliver(long seq, int bodyBytes) {
        return Frame.newBuilder()
                .setDeliver(Deliver.newBuilder().addMessages(Message.newBuilder()
                        .setSeq(seq)
                        .setConversation("d:alice:bob")
                        .setBody(Any.newBuilder().setValue(ByteString.copyFrom(new byte[bodyBytes])))))
                .build();
    }

    static void assertNoTransportThreads() {
        List<String> alive = Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.startsWith("parley-ws-"))
                .toList();
        assertTrue(alive.isEmpty(), "transport threads still alive: " + alive);
    }
}
