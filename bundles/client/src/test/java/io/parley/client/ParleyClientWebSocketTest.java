package io.parley.client;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client over WebSocket against the real WebSocket transport server ({@code plugins-transport/websocket}) with
 * the real engine behind it ({@link CoreServer}). That server refuses every browser origin but one, so each successful
 * connection here also shows that the client sends no {@code Origin} header.
 */
class ParleyClientWebSocketTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String CONV = "d:alice:bob";
    private static final int SERVER_MAX_FRAME = 64 * 1024;

    @TempDir
    Path dir;

    private CoreServer server;
    private final List<ParleyClient> clients = new ArrayList<>();
    private final BlockingQueue<Message> aliceInbox = new LinkedBlockingQueue<>();
    private final BlockingQueue<String> events = new LinkedBlockingQueue<>();

    @AfterEach
    void stop() throws Exception {
        for (ParleyClient c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private ParleyClient.Builder builder(String user, String device, String url) {
        return ParleyClient.builder().url(url).deviceId(device).token(user)
                .requestTimeout(Duration.ofSeconds(2))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .ackDelay(Duration.ofMillis(5))
                .connectionListener(new ConnectionListener() {
                    @Override
                    public void onConnected(HelloOk session) {
                        events.add(user + ":connected");
                    }

                    @Override
                    public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                        events.add(user + ":disconnected:" + reason + ":" + willRetry);
                    }
                });
    }

    private String wsUrl() {
        return "ws://127.0.0.1:" + server.port() + CoreServer.WEBSOCKET_PATH;
    }

    private ParleyClient alice() {
        return track(builder("alice", "a1", wsUrl()).messageListener(aliceInbox::add).build());
    }

    private ParleyClient track(ParleyClient c) {
        clients.add(c);
        return c;
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static ParleyClientException connectFailure(ParleyClient client) {
        CompletionException e = assertThrows(CompletionException.class,
                () -> client.connect().orTimeout(5, TimeUnit.SECONDS).join());
        return assertInstanceOf(ParleyClientException.class, e.getCause());
    }

    private void awaitEvent(String event) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        List<String> seen = new ArrayList<>();
        while (System.nanoTime() < deadline) {
            String e = events.poll(100, TimeUnit.MILLISECONDS);
            if (event.equals(e)) {
                return;
            }
            if (e != null) {
                seen.add(e);
            }
        }
        throw new AssertionError("no event " + event + "; saw " + seen);
    }

    @Test
    void helloAfterTheUpgradeThenSendAckAndDelivery() throws Exception {
        server = CoreServer.webSocket(null, SERVER_MAX_FRAME);
        ParleyClient alice = alice();
        BlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient bob = track(builder("bob", "b1", wsUrl()).messageListener(bobInbox::add).build());
        await(alice.connect());
        // the transport hands the core only frames that arrived after the upgrade: the first one is the hello
        assertTrue(server.received.poll().frame().hasHello());
        await(bob.connect());
        assertEquals("alice", alice.session().getUserId());

        SendAck ack = await(alice.sendText("bob", "over websocket"));
        assertEquals(CONV, ack.getConversation());
        assertEquals(1, ack.getSeq());
        Message m = bobInbox.poll(5, TimeUnit.SECONDS);
        assertNotNull(m);
        assertEquals("over websocket", Bodies.textOf(m));
        CoreServer.Received deliverAck = server.await(Frame::hasDeliverAck, WAIT);
        assertEquals(1, deliverAck.frame().getDeliverAck().getSeq());

        // a burst written in one go: every send is acked, in order of seq
        List<CompletableFuture<SendAck>> burst = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            burst.add(bob.sendText("alice", "burst " + i));
        }
        for (int i = 0; i < burst.size(); i++) {
            assertEquals(i + 2, await(burst.get(i)).getSeq());
        }
        for (int i = 0; i < burst.size(); i++) {
            Message got = aliceInbox.poll(5, TimeUnit.SECONDS);
            assertNotNull(got, "delivery " + i);
            assertEquals("burst " + i, Bodies.textOf(got));
        }
    }

    @Test
    void reconnectsAfterTheServerDropsTheConnectionAndResumes() throws Exception {
        server = CoreServer.webSocket(null, SERVER_MAX_FRAME);
        server.append(CONV, "bob", "before");
        ParleyClient alice = alice();
        await(alice.connect());
        assertEquals("before", Bodies.textOf(aliceInbox.poll(5, TimeUnit.SECONDS)));
        server.await(f -> f.hasDeliverAck() && f.getDeliverAck().getSeq() == 1, WAIT);

        server.connsOf("alice").get(0).close();
        awaitEvent("alice:disconnected:CONNECTION_LOST:true");
        server.append(CONV, "bob", "while away");
        awaitEvent("alice:connected");
        await(alice.connect());   // resolves when the resume sync is done
        assertEquals(2, server.hellos.get());
        Message missed = aliceInbox.poll(5, TimeUnit.SECONDS);
        assertNotNull(missed);
        assertEquals(2, missed.getSeq());
        assertEquals("while away", Bodies.textOf(missed));
        assertEquals(3, await(alice.sendText("bob", "back")).getSeq());
    }

    @Test
    void transportStopSendsReconnectNoticeAndClose() throws Exception {
        server = CoreServer.webSocket(null, SERVER_MAX_FRAME);
        ParleyClient alice = alice();
        await(alice.connect());
        events.clear();
        server.close();   // Notice KIND_RECONNECT, then close 1001
        awaitEvent("alice:disconnected:SERVER_RECONNECT:true");
        server = null;
    }

    @Test
    void inboundMessageOverTheLimitEndsTheConnection() throws Exception {
        server = CoreServer.webSocket(null, SERVER_MAX_FRAME);
        ParleyClient alice = track(builder("alice", "a1", wsUrl()).maxInboundFrameBytes(1024)
                .messageListener(aliceInbox::add).build());
        await(alice.connect());
        events.clear();
        ParleyClient bob = track(builder("bob", "b1", wsUrl()).build());
        await(bob.connect());
        await(bob.sendText("alice", "x".repeat(2048)));   // over alice's 1024 bytes, within the text type's 4000
        awaitEvent("alice:disconnected:PROTOCOL_ERROR:true");
        assertNull(aliceInbox.poll(200, TimeUnit.MILLISECONDS), "the oversized message was not delivered");
    }

    @Test
    void clientCloseEndsTheServerSession() throws Exception {
        server = CoreServer.webSocket(null, SERVER_MAX_FRAME);
        ParleyClient alice = alice();
        await(alice.connect());
        assertEquals(1, server.connsOf("alice").size());
        alice.close();
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!server.connsOf("alice").isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(server.connsOf("alice").isEmpty(), "the server saw the connection close");
    }

    @Test
    void refusedUpgradeFailsTheConnectWithTheHttpStatus() throws Exception {
        server = CoreServer.webSocket(null, SERVER_MAX_FRAME);
        ParleyClient client = track(builder("alice", "a1",
                "ws://127.0.0.1:" + server.port() + "/elsewhere").build());
        ParleyClientException e = connectFailure(client);
        assertTrue(e.getMessage().contains("ws://127.0.0.1:" + server.port() + "/elsewhere"), e.getMessage());
        assertTrue(e.getMessage().contains("404"), e.getMessage());
        assertEquals("alice:disconnected:CONNECT_FAILED:false", events.poll(5, TimeUnit.SECONDS));
        assertEquals(0, server.hellos.get());
    }

    /** The TCP transport answers the upgrade request with a length-prefixed error frame, not HTTP. */
    @Test
    void tcpPortInsteadOfTheWebSocketPortFailsTheConnectClearly() throws Exception {
        try (ServerSocket tcp = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Thread answer = new Thread(() -> {
                try (Socket s = tcp.accept()) {
                    InputStream in = s.getInputStream();
                    readRequestHead(in);
                    byte[] error = CoreServer.error(0, ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, "frame too large",
                            false, 0).toByteArray();
                    DataOutputStream out = new DataOutputStream(s.getOutputStream());
                    out.writeInt(error.length);
                    out.write(error);
                    out.flush();
                    s.shutdownOutput();
                    while (in.read() >= 0) {
                        // until the client closes: closing with unread input would reset the connection
                    }
                } catch (IOException ignored) {
                    // the test fails on the client side if this does not happen
                }
            }, "fake-tcp-transport");
            answer.setDaemon(true);
            answer.start();
            ParleyClient client = track(builder("alice", "a1", "ws://127.0.0.1:" + tcp.getLocalPort()).build());
            ParleyClientException e = connectFailure(client);
            assertTrue(e.getMessage().contains("did not answer with HTTP"), e.getMessage());
            assertEquals("alice:disconnected:CONNECT_FAILED:false", events.poll(5, TimeUnit.SECONDS));
            answer.join(5000);
        }
    }

    @Test
    void unansweredUpgradeTimesOut() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Thread accept = new Thread(() -> {
                try (Socket s = silent.accept()) {
                    readRequestHead(s.getInputStream());
                    while (s.getInputStream().read() >= 0) {
                        // never answer; wait for the client to give up
                    }
                } catch (IOException ignored) {
                    // the client side asserts
                }
            }, "silent-http-server");
            accept.setDaemon(true);
            accept.start();
            ParleyClient client = track(builder("alice", "a1", "ws://127.0.0.1:" + silent.getLocalPort())
                    .requestTimeout(Duration.ofMillis(300)).build());
            connectFailure(client);
            assertEquals("alice:disconnected:TIMEOUT:false", events.poll(5, TimeUnit.SECONDS));
            accept.join(5000);
        }
    }

    private static void readRequestHead(InputStream in) throws IOException {
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < end.length) {
            int b = in.read();
            if (b < 0) {
                return;
            }
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
    }

    @Test
    void secureWebSocketWithATrustedCertificate() throws Exception {
        TestCertificates.Generated cert = TestCertificates.localhost(dir);
        server = CoreServer.webSocket(TlsSettings.of(cert.certPem(), cert.keyPem()), SERVER_MAX_FRAME);
        String url = "wss://127.0.0.1:" + server.port() + CoreServer.WEBSOCKET_PATH;
        ParleyClient alice = track(builder("alice", "a1", url).trustCertificate(cert.certPem())
                .messageListener(aliceInbox::add).build());
        ParleyClient bob = track(builder("bob", "b1", url).trustCertificate(cert.certPem()).build());
        await(alice.connect());
        await(bob.connect());
        assertEquals(1, await(bob.sendText("alice", "over wss")).getSeq());
        assertEquals("over wss", Bodies.textOf(aliceInbox.poll(5, TimeUnit.SECONDS)));

        // plain ws:// to the TLS port: the upgrade request is not TLS, the server closes without an answer
        ParleyClient plain = track(builder("carol", "c1", "ws://127.0.0.1:" + server.port()).build());
        ParleyClientException e = connectFailure(plain);
        assertTrue(e.getMessage().contains("closed the connection without answering"), e.getMessage());
    }

    @Test
    void urlsSelectTransportAddressAndTls() {
        // built clients are not connected; build() only checks the configuration
        assertEquals("ws://127.0.0.1:7701/parley", endpointOf(ParleyClient.builder().url("ws://127.0.0.1:7701")));
        assertEquals("ws://chat.example.com:80/parley", endpointOf(ParleyClient.builder()
                .webSocket(URI.create("WS://chat.example.com"))));
        assertEquals("wss://[::1]:9443/custom/path", endpointOf(ParleyClient.builder()
                .url("wss://[::1]:9443/custom/path")));
        assertEquals("wss://h:443/", endpointOf(ParleyClient.builder().url("wss://h/")));
        assertEquals("h:7700", endpointOf(ParleyClient.builder().url("ws://h:1/x").url("tcp://h:7700")));
        assertEquals("[::1]:7700", endpointOf(ParleyClient.builder().url("tls://[::1]:7700")));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("http://h:1/parley"));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("tcp://h"));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("tcp://h:1/path"));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("ws://h:1/p?token=x"));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("ws://user@h:1/p"));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("ws://h:99999/p"));
        assertThrows(IllegalArgumentException.class, () -> ParleyClient.builder().url("not a url"));
    }

    /** The endpoint named in connection errors, which shows the transport, address and TLS chosen. */
    private static String endpointOf(ParleyClient.Builder b) {
        ParleyClient c = b.deviceId("d").token("t").build();
        try {
            return c.endpoint();
        } finally {
            c.close();
        }
    }
}
