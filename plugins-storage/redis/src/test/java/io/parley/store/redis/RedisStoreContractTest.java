package io.parley.store.redis;

import io.parley.core.testing.RedisServer;

import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.testing.PersistentMessageStoreContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The store contract on a standalone redis-server started for this class. Each test has its own key prefix (from its
 * directory); a restart is a new store object on the same Redis.
 */
class RedisStoreContractTest extends PersistentMessageStoreContract {

    private static RedisServer server;

    @BeforeAll
    static void startRedis() throws Exception {
        server = RedisServer.start(Files.createTempDirectory("parley-redis-contract"));
    }

    @AfterAll
    static void stopRedis() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    static String prefix(Path dir) {
        return "t" + Integer.toHexString(dir.toAbsolutePath().toString().hashCode()) + ":";
    }

    @Override
    protected MessageStore openStore(Path dir) {
        return RedisMessageStore.open(RedisStoreOptions.defaults(server.uri(), false, prefix(dir)));
    }

    @Override
    protected void awaitWatermarks(MessageStore store) throws Exception {
        await(((RedisMessageStore) store).flush());
    }
}
