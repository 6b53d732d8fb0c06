package io.parley.store.redis;

import io.parley.core.testing.RedisServer;

import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore.Appended;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connections dropped in the middle of appends (Lettuce reconnects and re-sends what was not answered) and Redis
 * itself killed and restarted: senders retry a failed send under the same client_msg_id, as clients do, and in the
 * end every acknowledged message is stored exactly once under the seq its ack named, seqs are gapless, and nothing
 * is stored twice.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisReconnectTest {

    private static final int SENDERS = 4;
    private static final int PER_SENDER = 300;
    private static final int CONVERSATIONS = 3;

    @Test
    void connectionsKilledMidAppendsLoseDuplicateAndReuseNothing(@TempDir Path dir) throws Exception {
        try (RedisServer server = RedisServer.start(dir)) {
            AtomicInteger killed = new AtomicInteger();
            AtomicInteger rounds = new AtomicInteger();
            Result result = run(server, () -> {
                Thread.sleep(100);
                if (rounds.incrementAndGet() <= 20) {
                    Object n = server.call("CLIENT", "KILL", "TYPE", "normal");
                    killed.addAndGet(((Long) n).intValue());
                }
            }, () -> rounds.get() >= 20);
            assertTrue(killed.get() >= 5, "connections killed: " + killed.get());
            System.out.printf("CLIENT KILL: %d connections killed, %d sends retried, %d scripts re-run by Lettuce%n",
                    killed.get(), result.retries, result.reruns);
        }
    }

    @Test
    void redisKilledAndRestartedWithAofAlwaysKeepsEveryAck(@TempDir Path dir) throws Exception {
        try (RedisServer server = RedisServer.start(dir, "--appendonly", "yes", "--appendfsync", "always")) {
            AtomicInteger restarts = new AtomicInteger();
            Result result = run(server, () -> {
                Thread.sleep(400);
                if (restarts.get() < 2) {
                    server.kill();
                    Thread.sleep(300);
                    server.restart();
                    restarts.incrementAndGet();
                }
            }, () -> restarts.get() >= 2);
            assertEquals(2, restarts.get());
            System.out.printf("kill -9 + restart: %d restarts, %d sends retried, %d scripts re-run by Lettuce%n",
                    restarts.get(), result.retries, result.reruns);
        }
    }

    private record Result(int retries, long reruns) {
    }

    private interface Disruption {
        void once() throws Exception;
    }

    /**
     * Appends from {@link #SENDERS} senders while {@code disruption} runs over and over: each sender sends at least
     * {@link #PER_SENDER} messages and goes on until {@code done} says the disruption has happened in full, so a fast
     * machine cannot finish the sends before it.
     */
    private static Result run(RedisServer server, Disruption disruption, java.util.function.BooleanSupplier done)
            throws Exception {
        RedisStoreOptions options = new RedisStoreOptions(List.of(server.uri()), false, "rc:", Duration.ofSeconds(2),
                Duration.ofSeconds(3), 168, 64);
        Map<String, Message> acked = new ConcurrentHashMap<>();
        AtomicInteger retries = new AtomicInteger();
        AtomicInteger sent = new AtomicInteger();
        AtomicBoolean sending = new AtomicBoolean(true);
        long reruns;
        ExecutorService pool = Executors.newFixedThreadPool(SENDERS + 1);
        try (RedisMessageStore store = RedisMessageStore.open(options)) {
            Future<?> disrupter = pool.submit(() -> {
                while (sending.get()) {
                    disruption.once();
                }
                return null;
            });
            List<Future<?>> senders = new ArrayList<>();
            for (int s = 0; s < SENDERS; s++) {
                String sender = "u" + s;
                senders.add(pool.submit(() -> {
                    // past PER_SENDER until the disruption is complete, or the disrupter ended without completing it
                    for (int i = 0; i < PER_SENDER || !done.getAsBoolean() && !disrupter.isDone(); i++) {
                        sent.incrementAndGet();
                        String cid = sender + "-" + i;
                        String conversation = "g:rc" + (i % CONVERSATIONS);
                        for (int attempt = 0; ; attempt++) {
                            try {
                                Appended a = store.append(Drafts.draft(sender, cid, conversation, cid),
                                        List.of(sender)).toCompletableFuture().get(20, TimeUnit.SECONDS);
                                acked.put(cid, a.message());
                                break;
                            } catch (java.util.concurrent.TimeoutException e) {
                                throw new AssertionError("append " + cid + " not completed in 20 s; store: "
                                        + store.pendingState(), e);
                            } catch (Exception e) {
                                retries.incrementAndGet();
                                if (attempt > 50) {
                                    throw new AssertionError("send " + cid + " kept failing", e);
                                }
                                Thread.sleep(50);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : senders) {
                try {
                    f.get(100, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("senders stuck; store: " + store.pendingState(), e);
                }
            }
            sending.set(false);
            disrupter.get(30, TimeUnit.SECONDS);

            assertTrue(done.getAsBoolean(), "the disruption happened in full while sending");
            assertEquals(sent.get(), acked.size(), "every send acknowledged");
            Set<String> stored = new HashSet<>();
            for (int c = 0; c < CONVERSATIONS; c++) {
                String conversation = "g:rc" + c;
                List<Message> all = store.range(conversation, 1, Long.MAX_VALUE, Integer.MAX_VALUE);
                assertEquals(store.head(conversation), all.size());
                Map<Long, Message> bySeq = new HashMap<>();
                for (int i = 0; i < all.size(); i++) {
                    Message m = all.get(i);
                    assertEquals(i + 1, m.getSeq(), "gapless seqs in " + conversation);
                    assertTrue(stored.add(m.getClientMsgId()), "stored twice: " + m.getClientMsgId());
                    bySeq.put(m.getSeq(), m);
                }
                for (Message a : acked.values()) {
                    if (a.getConversation().equals(conversation)) {
                        Message m = bySeq.get(a.getSeq());
                        assertNotNull(m, "acknowledged and lost: " + a.getClientMsgId());
                        assertEquals(a, m, "the ack's seq holds another message");
                    }
                }
            }
            assertEquals(acked.keySet(), stored, "stored exactly what was acknowledged");
            reruns = store.reruns();
        } finally {
            sending.set(false);
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        return new Result(retries.get(), reruns);
    }
}
