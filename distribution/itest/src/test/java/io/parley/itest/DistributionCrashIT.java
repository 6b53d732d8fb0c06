package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kill -9} of the assembled server in the middle of traffic, then a restart: every acknowledged message is still
 * stored under its seq, the sender's retries are de-duplicated, and the recipient — connected before the crash and
 * reconnecting after it — ends up with every message exactly once, in seq order. Run once per persistent store
 * shipped in {@code deploy/}: the default mvstore and RocksDB (selected with {@code store.target}).
 */
class DistributionCrashIT {
    @TempDir
    Path work;
    ServerProcess server;
    final List<ParleyClient> clients = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        if (server != null) {
            server.close();
        }
    }

    @ParameterizedTest(name = "{0} store")
    @ValueSource(strings = {"mvstore", "rocksdb"})
    void acknowledgedMessagesSurviveKill9AndTheRecipientGetsExactlyWhatItMissed(String store) throws Exception {
        server = new ServerProcess(work).useStore(store);
        server.start();
        int total = 3000;
        List<Message> bobGot = new CopyOnWriteArrayList<>();
        ParleyClient alice = client("alice", "a1", m -> { }, Duration.ofSeconds(90));
        ParleyClient bob = client("bob", "b1", bobGot::add, Duration.ofSeconds(90));

        Map<String, SendAck> acked = new ConcurrentHashMap<>();
        int ackedAtKill = 0;
        Semaphore window = new Semaphore(64);
        List<CompletableFuture<SendAck>> sends = new ArrayList<>();
        List<String> clientIds = new ArrayList<>();
        boolean killed = false;
        for (int i = 0; i < total; i++) {
            if (!killed && acked.size() >= total / 3) {
                server.kill9();
                ackedAtKill = acked.size();
                killed = true;
                server.start();
            }
            window.acquire();
            String id = "crash-" + i;
            clientIds.add(id);
            CompletableFuture<SendAck> f = alice.send(Send.newBuilder().setClientMsgId(id).setPeer("bob")
                    .setType("text").setBody(Bodies.text("n" + i)).build());
            f.whenComplete((a, e) -> {
                if (a != null) {
                    acked.putIfAbsent(id, a);
                }
                window.release();
            });
            sends.add(f);
        }
        assertTrue(killed, "the server was killed mid-traffic");

        Map<Long, SendAck> bySeq = new HashMap<>();
        for (CompletableFuture<SendAck> f : sends) {
            SendAck a = f.get(120, TimeUnit.SECONDS); // the SDK re-sends across the crash; none may fail
            assertEquals(null, bySeq.put(a.getSeq(), a), "seq reused: " + a.getSeq());
        }
        // after a restart a repeated send is answered with the original ack
        for (String id : List.of(clientIds.get(0), clientIds.get(total / 2), clientIds.get(total - 1))) {
            SendAck again = alice.send(Send.newBuilder().setClientMsgId(id).setPeer("bob").setType("text")
                    .setBody(Bodies.text("again")).build()).get(30, TimeUnit.SECONDS);
            assertTrue(again.getDuplicate(), "repeat of " + id + " is a duplicate");
        }

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (bobGot.size() < total && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(total, bobGot.size(), "bob's deliveries");
        Set<String> texts = new HashSet<>();
        for (int k = 0; k < bobGot.size(); k++) {
            Message m = bobGot.get(k);
            assertEquals(k + 1, m.getSeq(), "bob receives seq 1..n in order, no gap, no duplicate");
            assertTrue(texts.add(Bodies.textOf(m)), "duplicate text " + Bodies.textOf(m));
        }
        for (Map.Entry<String, SendAck> e : acked.entrySet()) { // the first ack each send got, before or after the crash
            Message stored = bobGot.get((int) e.getValue().getSeq() - 1);
            assertEquals(e.getKey(), stored.getClientMsgId(), "an acked message is stored under its seq");
            assertEquals(e.getValue().getMessageId(), stored.getId());
        }
        System.out.printf("[crash %s] %d messages, %d acked before kill -9; after the restart all %d stored under"
                + " their acked seq and delivered exactly once, in order%n", store, total, ackedAtKill, total);
    }

    private ParleyClient client(String user, String device, io.parley.client.MessageListener listener, Duration sendTimeout)
            throws Exception {
        ParleyClient c = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId(device)
                .token(server.tokens().mint(user, null, Duration.ofMinutes(30)))
                .sendTimeout(sendTimeout)
                .reconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(1))
                .messageListener(listener).build();
        clients.add(c);
        c.connect().get(15, TimeUnit.SECONDS);
        return c;
    }
}
