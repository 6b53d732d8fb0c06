package io.parley.cluster.redis.internal;

import io.parley.core.testing.RedisServer;

import io.parley.core.proto.Message;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The link on a Redis Cluster of three masters (started by the test): every key is in one slot and every command
 * touches one key, so joining, presence, fan-out, broadcasts and the inbox readers work across the cluster's masters.
 */
class RedisClusterModeTest {

    @TempDir
    Path dir;
    private List<RedisServer> redis = List.of();
    private final List<RedisClusterLink> links = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        links.forEach(RedisClusterLink::close);
        for (RedisServer r : redis) {
            r.close();
        }
    }

    private RedisClusterLink join(RecordingNode node) throws InterruptedException {
        List<String> seeds = redis.stream().map(r -> "redis://127.0.0.1:" + r.port()).toList();
        CountDownLatch joined = new CountDownLatch(1);
        RedisClusterLink link = RedisClusterLink.start(new ClusterOptions(node.id, seeds, true, "c:",
                Duration.ofSeconds(15), Duration.ofSeconds(5), 100_000, 64, Duration.ofSeconds(5),
                Duration.ofSeconds(5)), node, l -> joined.countDown());
        links.add(link);
        assertTrue(joined.await(30, TimeUnit.SECONDS), node.id + " joined");
        return link;
    }

    @Test
    void nodesRouteThroughARedisCluster() throws Exception {
        redis = RedisServer.startCluster(dir);
        RecordingNode a = new RecordingNode("a");
        RecordingNode b = new RecordingNode("b");
        RecordingNode c = new RecordingNode("c");
        RedisClusterLink la = join(a);
        RedisClusterLink lb = join(b);
        RedisClusterLink lc = join(c);
        la.membership().refresh();
        List<String> members = new ArrayList<>();
        for (int i = 0; i < 40; i++) { // users whose presence keys spread over the masters
            String user = "u" + i;
            members.add(user);
            (i % 2 == 0 ? lb : lc).sessionOpened(user, "d").toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
        Message m = Message.newBuilder().setId("x").setClientMsgId("m1").setConversation("g:big").setSeq(1)
                .setType("text").build();
        Set<String> elsewhere = la.route(m, members).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(Set.copyOf(members), elsewhere);
        assertEquals(20, b.nextDelivery().users().size(), "one entry for b with its 20 users");
        assertEquals(20, c.nextDelivery().users().size());
        b.calls.clear();
        c.calls.clear();
        la.groupChanged("big");
        assertEquals("groupChanged big", b.next());
        assertEquals("groupChanged big", c.next());
    }
}
