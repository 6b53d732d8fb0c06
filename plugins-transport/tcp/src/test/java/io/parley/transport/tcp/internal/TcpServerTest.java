package io.parley.transport.tcp.internal;

import io.parley.transport.support.TestReceiver;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.netty.util.ResourceLeakDetector;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.IoChoice;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TestReceiver.TestSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TcpServerTest {

    private static final int MAX_FRAME = 64 * 1024;

    private TestReceiver receiver;
    private TcpServer server;
    private final List<TestClient> clients = new ArrayList<>();

    @BeforeAll
    static void detectLeaks() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (TestClient client : clients) {
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
    void helloPingAndSendRoundTrip(String transport) throws Exception {
        start(IoChoice.io(transport));
        assertEquals(transport, server.transportName());

        TestClient client = connect();
        TestSession session = receiver.nextSession();
        assertEquals("tcp", session.connection.transport());
        assertTrue(session.connection.remoteAddress().startsWith("127.0.0.1:"));

        assertEquals("alice", client.hello().getHelloOk().getUserId());
        client.pingPong(2);
        client.send(FrameCodecTest.send(3, "m-1"));
        Frame ack = client.read();
        assertEquals(3, ack.getRequestId());
        assertEquals("m-1", ack.getSendAck().getMessageId());
    }

    @Test
    void burstFromAnotherThreadArrivesInOrderAndSendFlushedCompletes() throws Exception {
        start(s -> { });
        TestClient client = connect();
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
            Frame frame = client.read();
            assertEquals(i, frame.getDeliver().getMessages(0).getSeq());
        }
        last.get(5, TimeUnit.SECONDS);
    }

    @Test
    void oversizedFrameGetsFrameTooLargeAndOnlyThatConnectionCloses() throws Exception {
        start(s -> { });
        TestClient other = connect();
        receiver.nextSession();
        other.hello();

        TestClient bad = connect();
        TestSession badSession = receiver.nextSession();
        bad.sendRaw(new byte[] {(byte) 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}); // announces ~2 GiB
        Frame error = bad.read();
        assertEquals(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, error.getError().getCode());
        bad.assertClosedByServer();
        badSession.awaitClosed();
        assertTrue(badSession.frames.isEmpty());

        other.pingPong(5);
    }

    @Test
    void frameJustOverTheLimitIsRefused() throws Exception {
        start(s -> { });
        TestClient client = connect();
        receiver.nextSession();
        client.sendRaw(intBytes(MAX_FRAME + 1));
        assertEquals(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, client.read().getError().getCode());
        client.assertClosedByServer();
    }

    @Test
    void garbageGetsBadFrameAndClose() throws Exception {
        start(s -> { });
        TestClient other = connect();
        receiver.nextSession();
        other.hello();

        TestClient bad = connect();
        TestSession badSession = receiver.nextSession();
        byte[] garbage = {0, 0, 0, 6, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF};
        bad.sendRaw(garbage);
        assertEquals(ErrorCode.ERROR_CODE_BAD_FRAME, bad.read().getError().getCode());
        bad.assertClosedByServer();
        badSession.awaitClosed();

        other.pingPong(6);
    }

    @Test
    void aClientStillSendingAfterItsBadFrameReadsTheErrorNotAReset() throws Exception {
        start(s -> { });
        TestClient bad = connect();
        TestSession badSession = receiver.nextSession();
        byte[] garbage = {0, 0, 0, 6, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF};
        bad.sendRaw(garbage);
        Thread.sleep(200); // the server has answered and shut its side down by now
        byte[] more = new byte[64 << 10];
        for (int i = 0; i < 64; i++) { // 4 MiB behind the bad frame: discarded unread, no reset while they come
            bad.sendRaw(more);
        }
        assertEquals(ErrorCode.ERROR_CODE_BAD_FRAME, bad.read().getError().getCode());
        bad.assertClosedByServer();
        badSession.awaitClosed();
        assertTrue(badSession.frames.isEmpty(), "nothing after the bad frame reached the core");
    }

    @Test
    void halfFrameThenEndOfStreamJustCleansUp() throws Exception {
        start(s -> { });
        TestClient client = connect();
        TestSession session = receiver.nextSession();
        client.sendRaw(intBytes(100));
        client.sendRaw(new byte[10]);
        client.shutdownOutput();
        session.awaitClosed();
        assertTrue(session.frames.isEmpty());
        assertEquals(1, session.closedCalls.get());
    }

    @Test
    void noHelloInTimeGetsHandshakeTimeout() throws Exception {
        start(s -> s.handshakeTimeout(Duration.ofMillis(200)));
        TestClient client = connect();
        TestSession session = receiver.nextSession();
        Frame error = client.read();
        assertEquals(ErrorCode.ERROR_CODE_HANDSHAKE_TIMEOUT, error.getError().getCode());
        client.assertClosedByServer();
        session.awaitClosed();
    }

    @Test
    void authenticatedConnectionOutlivesTheHandshakeTimeout() throws Exception {
        start(s -> s.handshakeTimeout(Duration.ofMillis(100)));
        TestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();
        Thread.sleep(300); // let the handshake timer fire
        client.pingPong(2);
        assertFalse(session.connection(TcpConnection.class).isClosing());
    }

    @Test
    void silentClientIsClosedAfterTheIdleTimeout() throws Exception {
        start(s -> s.idleTimeout(Duration.ofMillis(300)));
        TestClient client = connect();
        TestSession session = receiver.nextSession();
        client.hello();
        Frame notice = client.read();
        assertEquals(Notice.Kind.KIND_RECONNECT, notice.getNotice().getKind());
        client.assertClosedByServer();
        session.awaitClosed();
    }

    @ParameterizedTest(name = "sent from the event loop: {0}")
    @ValueSource(booleans = {false, true})
    void slowConsumerIsClosedWithBoundedMemoryAndOthersAreUnaffected(boolean fromEventLoop) throws Exception {
        int limit = 256 * 1024;
        start(s -> s.outboundMaxBytes(limit).closeTimeout(Duration.ofMillis(200)));
        TestClient fast = connect();
        receiver.nextSession();
        fast.hello();

        TestClient slow = TestClient.withSmallReceiveBuffer(server.localAddress());
        clients.add(slow);
        TestSession slowSession = receiver.nextSession();
        slow.hello(); // and never reads again

        Frame big = deliver(1, 32 * 1024);
        long bound = limit + 2L * FrameEncoder.wireSize(big) + 4096;
        int sent = 0;
        while (!slowSession.connection(TcpConnection.class).isClosing() && sent < 100_000) {
            if (fromEventLoop) {
                slowSession.connection(TcpConnection.class).channel().eventLoop().submit(() -> slowSession.connection.send(big)).get();
            } else {
                slowSession.connection.send(big);
            }
            sent++;
            long pending = slowSession.connection(TcpConnection.class).pendingOutboundBytes();
            assertTrue(pending <= bound, "pending " + pending + " > " + bound);
        }
        assertTrue(slowSession.connection(TcpConnection.class).isClosing(), "slow consumer not detected after " + sent + " frames");
        slowSession.awaitClosed();

        // sends after the close are dropped, flushed sends fail
        slowSession.connection.send(big);
        CompletableFuture<Void> late = slowSession.connection.sendFlushed(big).toCompletableFuture();
        ExecutionException failure = assertThrows(ExecutionException.class, () -> late.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ClosedChannelException.class, failure.getCause());

        fast.pingPong(7);
        assertEquals(1, server.connectionCount());
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void coreCloseWritesQueuedFramesThenTheNotice(String transport) throws Exception {
        // a close timeout longer than awaitClosed waits: the close must follow the notice's write, not the timer
        start(IoChoice.io(transport).andThen(s -> s.closeTimeout(Duration.ofSeconds(30))));
        TestClient client = connect();
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
        client.assertClosedByServer();
        session.awaitClosed();
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void stopTellsEveryClientToReconnect(String transport) throws Exception {
        start(IoChoice.io(transport).andThen(s -> s.reconnectAfterMs(1234).closeTimeout(Duration.ofSeconds(30))));
        TestClient a = connect();
        TestSession sessionA = receiver.nextSession();
        a.hello();
        TestClient b = connect();
        TestSession sessionB = receiver.nextSession();
        b.hello();

        // stop lingers until each client closes (or the 30-s close timeout): the clients read while it runs
        CompletableFuture<Void> stopped = CompletableFuture.runAsync(server::stop);
        for (TestClient client : List.of(a, b)) {
            Notice notice = client.read().getNotice();
            assertEquals(Notice.Kind.KIND_RECONNECT, notice.getKind());
            assertEquals(1234, notice.getReconnectAfterMs());
            client.assertClosedByServer();
        }
        stopped.get(10, TimeUnit.SECONDS); // once the clients closed, not after the timeout
        assertEquals(1, sessionA.closedCalls.get());
        assertEquals(1, sessionB.closedCalls.get());
        assertNoTransportThreads();
    }

    @Test
    void connectionsOverTheLimitAreRefusedWithARetryableError() throws Exception {
        start(s -> s.maxConnections(1).reconnectAfterMs(500));
        TestClient first = connect();
        TestSession firstSession = receiver.nextSession();
        first.hello();

        TestClient second = connect();
        Frame error = second.read();
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, error.getError().getCode());
        assertTrue(error.getError().getRetryable());
        assertEquals(500, error.getError().getRetryAfterMs());
        second.assertClosedByServer();

        first.close();
        firstSession.awaitClosed();
        TestClient third = connect();
        receiver.nextSession();
        third.hello();
    }

    @Test
    void portFileHoldsTheBoundPortUntilStop(@TempDir Path dir) throws Exception {
        Path portFile = dir.resolve("run/tcp.port");
        start(s -> s.portFile(portFile));
        assertEquals(server.localAddress().getPort() + "\n", Files.readString(portFile));
        server.stop();
        assertFalse(Files.exists(portFile));
    }

    @Test
    void bindFailureLeavesNoThreads() throws Exception {
        start(s -> { });
        TestReceiver second = new TestReceiver(MAX_FRAME);
        TcpServer clash = new TcpServer(ServerSettings.builder()
                .host("127.0.0.1").port(server.localAddress().getPort()).ioThreads(1).build(), second);
        assertThrows(IOException.class, clash::start);
        clash.stop();
        second.shutdown();
        assertEquals(1, Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("parley-tcp-boss")).count());
    }

    private void start(Consumer<ServerSettings.Builder> customizer) throws IOException {
        receiver = new TestReceiver(MAX_FRAME);
        ServerSettings.Builder settings = ServerSettings.builder()
                .host("127.0.0.1")
                .port(0)
                .ioThreads(2)
                .epoll(EpollMode.OFF)
                .closeTimeout(Duration.ofMillis(500));
        customizer.accept(settings);
        server = new TcpServer(settings.build(), receiver);
        server.start();
    }

    private TestClient connect() throws IOException {
        TestClient client = new TestClient(server.localAddress());
        clients.add(client);
        return client;
    }

    private static Frame deliver(long seq, int bodyBytes) {
        return Frame.newBuilder()
                .setDeliver(Deliver.newBuilder().addMessages(Message.newBuilder()
                        .setSeq(seq)
                        .setConversation("d:alice:bob")
                        .setBody(Any.newBuilder().setValue(ByteString.copyFrom(new byte[bodyBytes])))))
                .build();
    }

    private static byte[] intBytes(int value) {
        return new byte[] {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
    }

    private static void assertNoTransportThreads() {
        List<String> alive = Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.startsWith("parley-tcp-"))
                .toList();
        assertTrue(alive.isEmpty(), "transport threads still alive: " + alive);
    }
}
