package io.parley.store.redis;

import io.parley.core.testing.RedisServer;

import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.testing.PersistentMessageStoreContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** The store contract on a three-master Redis Cluster (no replicas) started for this class. */
class RedisClusterStoreContractTest extends PersistentMessageStoreContract {

    private static List<RedisServer> nodes;
    private static String seeds;

    @BeforeAll
    static void startCluster() throws Exception {
        nodes = RedisServer.startCluster(Files.createTempDirectory("parley-redis-cluster"));
        seeds = nodes.stream().map(RedisServer::uri).collect(Collectors.joining(","));
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (nodes != null) {
            for (RedisServer node : nodes) {
                node.close();
            }
        }
    }

    @Test
    void conversationsAreSpreadOverTheThreeMasters() throws Exception {
        for (int i = 0; i < 30; i++) {
            append("alice", "g:spread" + i, java.util.List.of("alice"));
        }
        String prefix = RedisStoreContractTest.prefix(dir);
        for (RedisServer node : nodes) {
            Object keys = node.call("KEYS", prefix + "{g:spread*");
            org.junit.jupiter.api.Assertions.assertFalse(((java.util.List<?>) keys).isEmpty(),
                    "no conversation on the master at port " + node.port());
        }
        org.junit.jupiter.api.Assertions.assertEquals(30, store.conversations("alice").size());
    }

    @Override
    protected MessageStore openStore(Path dir) {
        return RedisMessageStore.open(RedisStoreOptions.defaults(seeds, true, RedisStoreContractTest.prefix(dir)));
    }

    @Override
    protected void awaitWatermarks(MessageStore store) throws Exception {
        await(((RedisMessageStore) store).flush());
    }
}
