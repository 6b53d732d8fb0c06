package io.parley.cluster.redis.internal;

import io.parley.core.testing.RedisServer;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.proto.Typing;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The link on a real Redis of the test's own (never the machine's): fan-out written once per node with that node's
 * recipients, order, relays and broadcasts, leases that run out, epochs that fence, a lost lease, a node id taken
 * over, and inbox entries replayed after a restart (at-least-once).
 */
class RedisClusterLinkTest {

    @TempDir
    static Path dir;
    private static RedisServer redis;
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    private final List<RedisClusterLink> links = new ArrayList<>();
    private final String prefix = "t" + PREFIXES.incrementAndGet() + ":";

    @BeforeAll
    static void startRedis() throws Exception {
        redis = RedisServer.start(dir.resolve("redis"));
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    @AfterEach
    void closeLinks() {
        links.forEach(RedisClusterLink::close);
    }

    private ClusterOptions options(String node, int leaseSeconds, int heartbeatSeconds) {
        return new ClusterOptions(node, List.of(redis.uri()), false, prefix, Duration.ofSeconds(leaseSeconds),
                Duration.ofSeconds(heartbeatSeconds), 100_000, 64, Duration.ofSeconds(5), Duration.ofSeconds(5));
    }

    /** Starts a link for {@code node} and waits until it joined (a restarted node id may wait a few seconds). */
    private RedisClusterLink join(RecordingNode node, int leaseSeconds, int heartbeatSeconds) throws Exception {
        CountDownLatch joined = new CountDownLatch(1);
        RedisClusterLink link = RedisClusterLink.start(options(node.id, leaseSeconds, heartbeatSeconds), node,
                l -> joined.countDown());
        links.add(link);
        assertTrue(joined.await(20, TimeUnit.SECONDS), node.id + " joined");
        return link;
    }

    private RedisClusterLink join(RecordingNode node) throws Exception {
        return join(node, 15, 5);
    }

    private static Message message(String clientMsgId, long seq) {
        return Message.newBuilder().setId("x-" + clientMsgId).setClientMsgId(clientMsgId).setSender("a")
                .setConversation("g:team").setSeq(seq).setType("text").build();
    }

    private static long xadds() throws Exception {
        Matcher m = Pattern.compile("cmdstat_xadd:calls=(\\d+)").matcher(redis.command("INFO", "commandstats"));
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    private static void await(BooleanSupplier condition, long millis, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what + " within " + millis + " ms");
            Thread.sleep(50);
        }
    }

    @Test
    void aGroupMessageIsWrittenOncePerNodeWithThatNodesRecipients() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RecordingNode b = new RecordingNode("b");
        RecordingNode c = new RecordingNode("c");
        RedisClusterLink la = join(a);
        RedisClusterLink lb = join(b);
        RedisClusterLink lc = join(c);
        lb.sessionOpened("b1", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        lb.sessionOpened("b2", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        lb.sessionOpened("b2", "laptop").toCompletableFuture().get(5, TimeUnit.SECONDS);
        lc.sessionOpened("c1", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        la.sessionOpened("a", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);

        long before = xadds();
        Set<String> elsewhere = la.route(message("m1", 7), List.of("a", "b1", "b2", "c1", "nobody"))
                .toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(Set.of("b1", "b2", "c1"), elsewhere, "a is here; nobody is nowhere");
        RecordingNode.Delivered atB = b.nextDelivery();
        assertEquals(List.of("b1", "b2"), atB.users(), "b2 once, though two of its devices are on b");
        assertEquals(7, atB.message().getSeq());
        assertEquals(List.of("c1"), c.nextDelivery().users());
        assertEquals(2, xadds() - before, "one entry per node");
        assertNull(a.delivered.poll(300, TimeUnit.MILLISECONDS), "nothing comes back to the sending node");
        assertNull(b.delivered.poll(100, TimeUnit.MILLISECONDS), "once");
    }

    @Test
    void aNodeReceivesTheDeliveriesOfOneSenderInOrder() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RecordingNode b = new RecordingNode("b");
        RedisClusterLink la = join(a);
        RedisClusterLink lb = join(b);
        lb.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        for (int seq = 1; seq <= 300; seq++) {
            la.route(message("m" + seq, seq), List.of("alice", "bob"));
        }
        for (int seq = 1; seq <= 300; seq++) {
            assertEquals(seq, b.nextDelivery().message().getSeq());
        }
    }

    @Test
    void relaysKicksReadMarksAndGroupChangesReachTheirNodes() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RecordingNode b = new RecordingNode("b");
        RecordingNode c = new RecordingNode("c");
        RedisClusterLink la = join(a);
        RedisClusterLink lb = join(b);
        join(c);
        la.membership().refresh(); // (a read the table when it joined, before b and c did)
        lb.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);

        la.relay(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation("d:alice:bob").setUser("alice")
                .setTyping(true)).build(), List.of("bob", "carol"));
        assertEquals("relay TYPING [bob]", b.next());
        la.kick("bob", "phone", 1234);
        assertEquals("kick bob/phone 1234", b.next());
        la.kick("bob", "tablet", 1234); // no session of that device anywhere: nothing sent
        la.readMarked("g:big", "alice", 9);
        assertEquals("readMarked g:big alice 9", b.next());
        assertEquals("readMarked g:big alice 9", c.next());
        la.groupChanged("team");
        assertEquals("groupChanged team", b.next());
        assertEquals("groupChanged team", c.next());
        assertNull(c.calls.poll(300, TimeUnit.MILLISECONDS), "c has no session of bob");
        assertNull(a.calls.poll(100, TimeUnit.MILLISECONDS), "nothing comes back to the sender");
    }

    @Test
    void theSessionsOfANodeWhoseLeaseRanOutAreIgnoredAndTheirEntriesDeleted() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RecordingNode b = new RecordingNode("b");
        RedisClusterLink la = join(a, 2, 1);
        RedisClusterLink lb = join(b, 2, 1);
        lb.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(Set.of("bob"), la.route(message("m1", 1), List.of("bob")).toCompletableFuture().get());
        b.nextDelivery();

        lb.crash(); // like kill -9: the lease is not given back, it runs out
        long t0 = System.nanoTime();
        await(() -> {
            try {
                return la.route(message("probe", 0), List.of("bob")).toCompletableFuture().get().isEmpty();
            } catch (Exception e) {
                return false;
            }
        }, 6000, "bob counts as offline once b's lease (2 s) ran out and a re-read the table (1 s)");
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(millis >= 1000, "not before the lease ran out: " + millis + " ms");
        await(() -> {
            try {
                return ((List<?>) redis.call("HKEYS", prefix + "{u:bob}:presence")).isEmpty();
            } catch (Exception e) {
                return false;
            }
        }, 2000, "the stale entry is deleted");
    }

    @Test
    void aRestartedNodeHasANewEpochAndEntriesOfTheOldOneAreIgnored() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RedisClusterLink la = join(a);
        RedisClusterLink first = join(new RecordingNode("b"));
        first.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        long oldEpoch = first.epoch();
        first.crash();

        RecordingNode b = new RecordingNode("b");
        RedisClusterLink second = join(b); // waits until the dead reader has been silent for a few seconds
        assertTrue(second.epoch() > oldEpoch, "a new fencing epoch: " + oldEpoch + " -> " + second.epoch());
        la.membership().refresh();
        assertEquals(Set.of(), la.route(message("m1", 1), List.of("bob")).toCompletableFuture().get(),
                "bob's session was on the dead epoch");
        second.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(Set.of("bob"), la.route(message("m2", 2), List.of("bob")).toCompletableFuture().get());
        assertEquals("m2", b.nextDelivery().message().getClientMsgId());
    }

    @Test
    void aNodeWhoseIdIsTakenOverClosesItsSessionsAndStopsRouting() throws Exception {
        RecordingNode b = new RecordingNode("b");
        RedisClusterLink lb = join(b, 3, 1);
        redis.command("SET", prefix + "{n:b}:lease", Long.toString(lb.epoch() + 100), "PX", "60000");
        assertEquals("closeSessions", b.next());
        await(() -> !lb.joined(), 3000, "fenced");
        assertEquals(Set.of(), lb.route(message("m1", 1), List.of("x")).toCompletableFuture().get());
    }

    @Test
    void aNodeThatFindsItsLeaseGoneClosesItsSessionsAndRejoinsWithANewEpoch() throws Exception {
        RecordingNode b = new RecordingNode("b");
        RedisClusterLink lb = join(b, 3, 1);
        lb.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        long epoch = lb.epoch();
        redis.command("DEL", prefix + "{n:b}:lease"); // what a Redis restart without persistence leaves
        assertEquals("closeSessions", b.next());
        await(() -> lb.epoch() > epoch, 3000, "a new epoch");
        assertTrue(lb.joined());
        await(() -> {
            try {
                return Long.toString(lb.epoch()).equals(redis.command("HGET", prefix + "{u:bob}:presence", "b:phone"));
            } catch (Exception e) {
                return false;
            }
        }, 3000, "presence written again with the new epoch");
    }

    @Test
    void entriesHandedOverButNotAcknowledgedAreHandedOverAgainAfterARestart() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RedisClusterLink la = join(a);
        RecordingNode b1 = new RecordingNode("b");
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch inHand = new CountDownLatch(1);
        b1.beforeDeliver = () -> {
            inHand.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        RedisClusterLink first = join(b1);
        first.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        la.route(message("m1", 1), List.of("bob"));
        assertTrue(inHand.await(10, TimeUnit.SECONDS), "m1 read by b");
        first.crash(); // dies with m1 in hand, not acknowledged
        release.countDown();
        la.route(message("m2", 2), List.of("bob")); // b still counts as live: written to its inbox meanwhile

        RecordingNode b2 = new RecordingNode("b");
        join(b2);
        assertEquals("m1", b2.nextDelivery().message().getClientMsgId(), "pending from before, first");
        assertEquals("m2", b2.nextDelivery().message().getClientMsgId());
        assertNull(b2.delivered.poll(300, TimeUnit.MILLISECONDS));
        await(() -> {
            try {
                return Long.valueOf(0).equals(redis.call("XLEN", prefix + "{n:b}:inbox"));
            } catch (Exception e) {
                return false;
            }
        }, 3000, "acknowledged entries are deleted from the stream");
    }

    @Test
    void aCleanLeaveRemovesTheNodeAtOnce() throws Exception {
        RecordingNode a = new RecordingNode("a");
        RedisClusterLink la = join(a);
        RedisClusterLink lb = join(new RecordingNode("b"));
        lb.sessionOpened("bob", "phone").toCompletableFuture().get(5, TimeUnit.SECONDS);
        lb.close();
        links.remove(lb);
        assertEquals("null", redis.command("GET", prefix + "{n:b}:lease"), "the lease is given back");
        assertFalse(((List<?>) redis.call("HKEYS", prefix + "{nodes}")).stream()
                .anyMatch(k -> new String((byte[]) k).equals("b")));
        assertEquals(Set.of(), la.route(message("m1", 1), List.of("bob")).toCompletableFuture().get());
    }
}
