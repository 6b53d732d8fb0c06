package io.parley.client;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against {@link CoreServer} (the real engine behind the real TCP transport) on loopback. */
class ParleyClientTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String CONV = "d:alice:bob";

    private CoreServer server;
    private final List<ParleyClient> clients = new ArrayList<>();
    private final BlockingQueue<Message> aliceInbox = new LinkedBlockingQueue<>();
    private final BlockingQueue<String> events = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        server = new CoreServer();
    }

    @AfterEach
    void stop() throws Exception {
        for (ParleyClient c : clients) {
            c.close();
        }
        server.close();
    }

    private ParleyClient.Builder builder(String user, String device) {
        return ParleyClient.builder().port(server.port()).deviceId(device).token(user)
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

    private ParleyClient alice() {
        return track(builder("alice", "a1").messageListener(aliceInbox::add).build());
    }

    private ParleyClient track(ParleyClient c) {
        clients.add(c);
        return c;
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private Throwable failure(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class, () -> f.orTimeout(5, TimeUnit.SECONDS).join());
        return e.getCause();
    }

    private List<Long> takeSeqs(int n) throws InterruptedException {
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Message m = aliceInbox.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(m, "expected " + n + " messages, got " + seqs);
            seqs.add(m.getSeq());
        }
        return seqs;
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
    void sendsTextAndPeerReceivesIt() throws Exception {
        ParleyClient alice = alice();
        BlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient bob = track(builder("bob", "b1").messageListener(bobInbox::add).build());
        await(alice.connect());
        await(bob.connect());
        assertTrue(alice.isConnected());
        assertEquals("alice", alice.session().getUserId());

        SendAck ack = await(alice.sendText("bob", "hello there"));
        assertEquals(CONV, ack.getConversation());
        assertEquals(1, ack.getSeq());

        Message m = bobInbox.poll(5, TimeUnit.SECONDS);
        assertNotNull(m);
        assertEquals("alice", m.getSender());
        assertEquals("hello there", Bodies.textOf(m));
        // bob acks cumulatively
        CoreServer.Received ackFrame = server.await(f -> f.hasDeliverAck(), WAIT);
        assertEquals(CONV, ackFrame.frame().getDeliverAck().getConversation());
        assertEquals(1, ackFrame.frame().getDeliverAck().getSeq());

        // bob's reply (seq 2) follows alice's own seq 1 without a gap request and reaches her listener
        await(bob.sendText("alice", "hi back"));
        assertEquals(List.of(2L), takeSeqs(1));
    }

    @Test
    void concurrentSendsAreMatchedByRequestId() throws Exception {
        int n = 20;
        List<CoreServer.Received> held = Collections.synchronizedList(new ArrayList<>());
        server.interceptor = (conn, f) -> {
            if (!f.hasSend()) {
                return false;
            }
            held.add(new CoreServer.Received(conn, f));
            if (held.size() == n) {
                // answer all of them in reverse order
                for (int i = n - 1; i >= 0; i--) {
                    Frame sf = held.get(i).frame();
                    conn.send(Frame.newBuilder().setRequestId(sf.getRequestId()).setSendAck(SendAck.newBuilder()
                            .setMessageId("id-" + sf.getSend().getClientMsgId()).setConversation(CONV)
                            .setSeq(100 + i)).build());
                }
            }
            return true;
        };
        ParleyClient alice = alice();
        await(alice.connect());
        List<CompletableFuture<SendAck>> futures = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        List<CompletableFuture<SendAck>> sync = new CopyOnWriteArrayList<>();
        for (int t = 0; t < 4; t++) {
            int base = t * 5;
            Thread th = new Thread(() -> {
                for (int i = 0; i < 5; i++) {
                    sync.add(alice.send(Send.newBuilder().setClientMsgId("cm-" + (base + i)).setPeer("bob")
                            .setType("text").setBody(Bodies.text("x")).build()));
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join();
        }
        futures.addAll(sync);
        assertEquals(n, futures.size());
        for (CompletableFuture<SendAck> f : futures) {
            await(f);
        }
        for (CoreServer.Received r : held) {
            String id = r.frame().getSend().getClientMsgId();
            SendAck ack = futures.stream().map(CompletableFuture::join).filter(a -> a.getMessageId().equals("id-" + id))
                    .findFirst().orElseThrow();
            assertEquals("id-" + id, ack.getMessageId());
        }
        // each future got the ack with its own id
        for (int i = 0; i < n; i++) {
            String expected = "id-cm-" + i;
            assertEquals(1, futures.stream().filter(f -> f.join().getMessageId().equals(expected)).count());
        }
    }

    @Test
    void sendWithoutAckTimesOut() throws Exception {
        server.interceptor = (conn, f) -> f.hasSend();
        ParleyClient alice = track(builder("alice", "a1").requestTimeout(Duration.ofMillis(300)).build());
        await(alice.connect());
        long t0 = System.nanoTime();
        Throwable cause = failure(alice.sendText("bob", "lost"));
        assertInstanceOf(TimeoutException.class, cause);
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(250));
    }

    @Test
    void serverErrorFailsTheSendWithItsCode() throws Exception {
        ParleyClient alice = alice();
        await(alice.connect());
        Throwable cause = failure(alice.send("bob", "nope", Bodies.text("x")));
        ParleyClientException e = assertInstanceOf(ParleyClientException.class, cause);
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, e.code());
        assertFalse(e.retryable());
        // the connection stays usable
        assertEquals(1, await(alice.sendText("bob", "fine")).getSeq());
    }

    @Test
    void retryableErrorIsRetriedWithTheSameClientMsgId() throws Exception {
        AtomicInteger sends = new AtomicInteger();
        server.interceptor = (conn, f) -> {
            if (f.hasSend() && sends.incrementAndGet() == 1) {
                conn.send(CoreServer.error(f.getRequestId(), ErrorCode.ERROR_CODE_UNAVAILABLE, "restarting", true, 30));
                return true;
            }
            return false;
        };
        ParleyClient alice = alice();
        await(alice.connect());
        SendAck ack = await(alice.sendText("bob", "eventually"));
        assertEquals(1, ack.getSeq());
        Frame first = server.await(Frame::hasSend, WAIT).frame();
        Frame second = server.await(Frame::hasSend, WAIT).frame();
        assertEquals(first.getSend().getClientMsgId(), second.getSend().getClientMsgId());
        assertTrue(second.getRequestId() != first.getRequestId());
    }

    @Test
    void unackedSendIsResentAfterReconnectWithTheSameClientMsgId() throws Exception {
        AtomicInteger acks = new AtomicInteger();
        server.outbound = (conn, f) -> {
            if (f.hasSendAck() && acks.incrementAndGet() == 1) {
                // the core stored it (as a server that crashed after storing would), but the connection drops
                // before the ack is written
                conn.close();
                return true;
            }
            return false;
        };
        ParleyClient alice = alice();
        await(alice.connect());
        SendAck ack = await(alice.sendText("bob", "survives"));
        assertTrue(ack.getDuplicate(), "the server deduplicated the re-send");
        assertEquals(1, ack.getSeq());
        assertEquals(1, server.stored(CONV));
        Frame first = server.await(Frame::hasSend, WAIT).frame();
        Frame second = server.await(Frame::hasSend, WAIT).frame();
        assertEquals(first.getSend().getClientMsgId(), second.getSend().getClientMsgId());
        assertEquals(2, server.hellos.get());
        awaitEvent("alice:disconnected:CONNECTION_LOST:true");
    }

    @Test
    void resumeStartsAtTheWatermarkAndNeverRedelivers() throws Exception {
        server.ignoreDeliverAcks = true;   // the server keeps re-streaming 4 and 5 on every resume
        for (int i = 1; i <= 5; i++) {
            server.append(CONV, "bob", "m" + i);
        }
        server.setWatermark("alice", "a1", CONV, 3);
        ParleyClient alice = alice();
        await(alice.connect());
        assertEquals(List.of(4L, 5L), takeSeqs(2));

        for (CoreServer.Conn c : server.connsOf("alice")) {
            c.close();
        }
        awaitEvent("alice:disconnected:CONNECTION_LOST:true");
        awaitEvent("alice:connected");
        await(alice.connect());   // resolves when the new resume sync is done
        assertEquals(2, server.hellos.get());

        Message six = server.append(CONV, "bob", "m6");          // delivered live by the core
        server.connsOf("alice").get(0).send(CoreServer.deliver(six)); // and once more: a duplicate
        assertEquals(List.of(6L), takeSeqs(1), "4 and 5 were dropped as duplicates");
        assertTrue(aliceInbox.isEmpty());
    }

    @Test
    void deliveriesBeforeTheResumeListAreHeldUntilItArrives() throws Exception {
        for (int i = 1; i <= 5; i++) {
            server.append(CONV, "bob", "m" + i);
        }
        server.setWatermark("alice", "a1", CONV, 3);
        Message six = server.append(CONV, "bob", "m6");
        server.interceptor = (conn, f) -> {
            if (f.hasSync() && f.getSync().hasResume()) {
                conn.send(CoreServer.deliver(six));        // a live delivery racing the resume list
                // m7 is sent (and delivered live by the core) before the core sees the resume request
                conn.send(CoreServer.deliver(server.append(CONV, "bob", "m7")));
            }
            return false;                                  // the core's resume: list (watermark 3), 4..7, done
        };
        ParleyClient alice = alice();
        await(alice.connect());
        assertEquals(List.of(4L, 5L, 6L, 7L), takeSeqs(4));
        assertTrue(aliceInbox.isEmpty());
    }

    @Test
    void gapIsFilledWithARangeSync() throws Exception {
        ParleyClient alice = alice();
        await(alice.connect());
        server.suppressLiveDeliveries = true;   // the core's deliveries are lost; the test delivers 1 and 3 itself
        Message one = server.append(CONV, "bob", "one");
        server.append(CONV, "bob", "two");
        Message three = server.append(CONV, "bob", "three");
        CoreServer.Conn conn = server.connsOf("alice").get(0);
        conn.send(CoreServer.deliver(one));
        conn.send(CoreServer.deliver(three));

        Frame range = server.await(f -> f.hasSync() && f.getSync().hasRange(), WAIT).frame();
        SyncRequest.Range r = range.getSync().getRange();
        assertEquals(CONV, r.getConversation());
        assertEquals(2, r.getFromSeq());
        assertEquals(2, r.getToSeq());
        assertEquals(List.of(1L, 2L, 3L), takeSeqs(3));

        long acked = 0;
        while (acked < 3) {
            acked = server.await(Frame::hasDeliverAck, WAIT).frame().getDeliverAck().getSeq();
        }
        assertEquals(3, acked);
    }

    @Test
    void gapBeforeAnOwnSendIsFilledWithARangeSync() throws Exception {
        ParleyClient alice = alice();
        await(alice.connect());
        // seq 1's Deliver is lost, the connection stays up; dropped by content, since the core's session drain may send
        // it after append() returns
        server.outbound = (conn, f) -> f.hasDeliver() && f.getDeliver().getMessagesList().stream()
                .anyMatch(m -> m.getConversation().equals(CONV) && m.getSeq() == 1);
        server.append(CONV, "bob", "never delivered live");
        SendAck own = await(alice.sendText("bob", "mine"));
        assertEquals(2, own.getSeq());

        Frame range = server.await(f -> f.hasSync() && f.getSync().hasRange(), WAIT).frame();
        assertEquals(1, range.getSync().getRange().getFromSeq());
        assertEquals(1, range.getSync().getRange().getToSeq());
        assertEquals(List.of(1L), takeSeqs(1));
        long acked = 0;
        while (acked < 2) {
            acked = server.await(Frame::hasDeliverAck, WAIT).frame().getDeliverAck().getSeq();
        }
        assertEquals(2, acked);
    }

    @Test
    void refusedTokenIsRefreshedOnceThenTheClientGivesUp() throws Exception {
        List<Boolean> refreshFlags = new CopyOnWriteArrayList<>();
        ParleyClient alice = track(builder("alice", "a1").tokenProvider(refresh -> {
            refreshFlags.add(refresh);
            return CompletableFuture.completedFuture("bad-token");
        }).build());
        Throwable cause = failure(alice.connect());
        ParleyClientException e = assertInstanceOf(ParleyClientException.class, cause);
        assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, e.code());
        assertEquals(List.of(false, true), refreshFlags);
        awaitEvent("alice:disconnected:AUTH_FAILED:false");
    }

    @Test
    void refreshedTokenIsUsedAfterARefusal() throws Exception {
        ParleyClient alice = track(builder("alice", "a1")
                .tokenProvider(refresh -> CompletableFuture.completedFuture(refresh ? "alice" : "bad-old")).build());
        await(alice.connect());
        assertEquals("alice", alice.session().getUserId());
    }

    @Test
    void kickedClientDoesNotReconnect() throws Exception {
        ParleyClient alice = alice();
        await(alice.connect());
        server.connsOf("alice").get(0).send(CoreServer.notice(Notice.Kind.KIND_KICKED, 0));
        awaitEvent("alice:disconnected:KICKED:false");
        assertFalse(alice.isConnected());
        ParleyClientException e = assertInstanceOf(ParleyClientException.class,
                failure(alice.sendText("bob", "after kick")));
        assertTrue(e.getMessage().contains("kicked"));
        assertEquals(1, server.hellos.get());
    }

    @Test
    void reconnectNoticeMakesTheClientReconnect() throws Exception {
        ParleyClient alice = alice();
        await(alice.connect());
        events.clear();
        server.connsOf("alice").get(0).send(CoreServer.notice(Notice.Kind.KIND_RECONNECT, 50));
        awaitEvent("alice:disconnected:SERVER_RECONNECT:true");
        awaitEvent("alice:connected");
        assertEquals(1, await(alice.sendText("bob", "back")).getSeq());
    }

    @Test
    void silentServerIsDetectedByHeartbeat() throws Exception {
        server.close();
        server = CoreServer.tcp(Map.of("heartbeat.seconds", 1));
        AtomicInteger hellosSeen = new AtomicInteger();
        server.interceptor = (conn, f) -> {
            if (f.hasHello()) {
                hellosSeen.incrementAndGet();
                return false;
            }
            // the first connection goes silent after the resume sync: pings are never answered
            return hellosSeen.get() == 1 && f.hasPing();
        };
        ParleyClient alice = alice();
        await(alice.connect());
        server.await(Frame::hasPing, WAIT);
        awaitEvent("alice:disconnected:TIMEOUT:true");
        awaitEvent("alice:connected");
    }

    @Test
    void closeFailsPendingSendsAndStopsReconnecting() throws Exception {
        server.interceptor = (conn, f) -> f.hasSend();
        ParleyClient alice = alice();
        await(alice.connect());
        CompletableFuture<SendAck> pending = alice.sendText("bob", "never acked");
        server.await(Frame::hasSend, WAIT);
        alice.close();
        ParleyClientException e = assertInstanceOf(ParleyClientException.class, failure(pending));
        assertEquals(ErrorCode.ERROR_CODE_UNSPECIFIED, e.code());
        assertFalse(alice.isConnected());
        assertInstanceOf(ParleyClientException.class, failure(alice.sendText("bob", "after close")));
        awaitEvent("alice:disconnected:CLOSED_BY_CLIENT:false");
    }

    @Test
    void sendsIssuedWhileDisconnectedGoOutAfterReconnect() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        ParleyClient alice = alice();
        await(alice.connect());
        // hold hellos of the next connection until the send was queued
        server.interceptor = (conn, f) -> {
            if (f.hasHello()) {
                try {
                    release.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return false;
        };
        for (CoreServer.Conn c : server.connsOf("alice")) {
            c.close();
        }
        awaitEvent("alice:disconnected:CONNECTION_LOST:true");
        CompletableFuture<SendAck> queued = alice.sendText("bob", "queued");
        release.countDown();
        assertEquals(1, await(queued).getSeq());
    }

    @Test
    void firstConnectFailureFailsTheFuture() throws Exception {
        int port = server.port();
        server.close();
        ParleyClient c = track(ParleyClient.builder().port(port).deviceId("a1").token("alice")
                .requestTimeout(Duration.ofSeconds(2)).build());
        ParleyClientException e = assertInstanceOf(ParleyClientException.class, failure(c.connect()));
        assertTrue(e.getMessage().contains("cannot connect"), e.getMessage());
    }

    @Test
    void backoffKeepsGrowingWhileTheServerDropsEveryResumeAndRestartsAfterOne() throws Exception {
        java.util.concurrent.atomic.AtomicInteger resumes = new java.util.concurrent.atomic.AtomicInteger();
        BlockingQueue<Integer> attempts = new LinkedBlockingQueue<>();
        server.interceptor = (conn, f) -> {
            if (f.hasSync() && f.getSync().hasResume()) {
                int n = resumes.incrementAndGet();
                if (n >= 2 && n <= 5) { // the hello succeeds, then the connection is dropped before the resume ends
                    conn.send(Frame.newBuilder().setNotice(io.parley.core.proto.Notice.newBuilder()
                            .setKind(io.parley.core.proto.Notice.Kind.KIND_SLOW_CONSUMER)).build());
                    conn.close();
                    return true;
                }
            }
            return false;
        };
        ParleyClient alice = track(builder("alice", "a1").connectionListener(new ConnectionListener() {
            @Override
            public void onReconnecting(int attempt, Duration delay) {
                attempts.add(attempt);
            }
        }).build());
        await(alice.connect());
        server.conns.forEach(CoreServer.Conn::close); // first drop: resumes 2..5 are dropped again
        List<Integer> seen = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Integer a = attempts.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(a, "reconnect attempts so far: " + seen);
            seen.add(a);
        }
        assertEquals(List.of(1, 2, 3, 4, 5), seen, "the backoff grows while no resume completes");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!alice.isConnected() || resumes.get() < 6) {
            assertTrue(System.nanoTime() < deadline, "no successful resume");
            Thread.sleep(10);
        }
        Thread.sleep(50); // let the resume finish
        server.conns.forEach(CoreServer.Conn::close);
        assertEquals(1, attempts.poll(WAIT.toSeconds(), TimeUnit.SECONDS), "after a complete resume the backoff restarts");
    }
}
