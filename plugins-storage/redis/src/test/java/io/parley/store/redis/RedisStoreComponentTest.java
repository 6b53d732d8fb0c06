package io.parley.store.redis;

import io.parley.core.testing.RedisServer;

import io.parley.core.spi.store.MessageStore.Appended;
import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class RedisStoreComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.store.redis.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws Exception {
        ComponentConfigs.assertShippedCfg(RedisStoreConfig.class, SHIPPED_CFG);
    }

    @Test
    void theShippedDefaultsAreTheOptionsDefaults() {
        RedisStoreConfig config = ComponentConfigs.of(RedisStoreConfig.class, Map.of());
        assertEquals(RedisStoreOptions.defaults("redis://127.0.0.1:6379/0", false, "parley:"),
                RedisStoreComponent.options(config));
    }

    @Test
    void clusterSeedsAreCommaSeparated() {
        RedisStoreOptions options = RedisStoreComponent.options(ComponentConfigs.of(RedisStoreConfig.class,
                Map.of("uri", "redis://a:7000, redis://b:7001,,redis://c:7002", "cluster", true)));
        assertEquals(List.of("redis://a:7000", "redis://b:7001", "redis://c:7002"), options.uris());
        assertThrows(IllegalArgumentException.class, () -> RedisStoreComponent.options(ComponentConfigs.of(
                RedisStoreConfig.class, Map.of("uri", "redis://a:7000,redis://b:7001"))));
        assertThrows(IllegalArgumentException.class, () -> RedisStoreComponent.options(ComponentConfigs.of(
                RedisStoreConfig.class, Map.of("key.prefix", "a{b}:"))));
    }

    @Test
    void activateConnectsDeactivateClosesAndALostServerIsAWriteFailure(@TempDir Path dir) throws Exception {
        try (RedisServer server = RedisServer.start(dir)) {
            RedisStoreComponent component = new RedisStoreComponent(ComponentConfigs.of(RedisStoreConfig.class,
                    Map.of("uri", server.uri(), "key.prefix", "comp:", "command.timeout.millis", 1500L)));
            try {
                Appended a = component.append(Drafts.draft("alice", "c1", "d:alice:bob", "hi"),
                        List.of("alice", "bob")).toCompletableFuture().get(10, TimeUnit.SECONDS);
                assertEquals(1, a.message().getSeq());
                assertEquals(Optional.empty(), component.writeFailure());
                assertEquals(1L, server.call("EXISTS", "comp:{d:alice:bob}:seq"), "keys carry the prefix and tag");

                server.kill();
                assertThrows(Exception.class, () -> component.append(Drafts.draft("alice", "c2", "d:alice:bob", "x"),
                        List.of("alice", "bob")).toCompletableFuture().get(10, TimeUnit.SECONDS));
                assertTrue(component.writeFailure().isPresent(), "a store that cannot reach Redis says so");

                server.restart(); // no persistence configured: the data is gone, the store works again
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                Appended again = null;
                while (again == null) {
                    try {
                        again = component.append(Drafts.draft("alice", "c3", "d:alice:carol", "back"),
                                List.of("alice")).toCompletableFuture().get(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        if (System.nanoTime() > deadline) {
                            throw e;
                        }
                        Thread.sleep(100);
                    }
                }
                assertFalse(again.duplicate());
                assertEquals(Optional.empty(), component.writeFailure());
            } finally {
                component.deactivate();
            }
            assertEquals(Optional.of("the Redis message store is closed"), component.writeFailure());
        }
    }

    @Test
    void activationFailsWhenRedisCannotBeReached() {
        assertThrows(RuntimeException.class, () -> new RedisStoreComponent(ComponentConfigs.of(RedisStoreConfig.class,
                Map.of("uri", "redis://127.0.0.1:1/0", "connect.timeout.millis", 500L))));
    }

    @Test
    void optionsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new RedisStoreOptions(List.of("redis://x"), false, "p:",
                Duration.ZERO, Duration.ofSeconds(1), 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new RedisStoreOptions(List.of(), true, "p:",
                Duration.ofSeconds(1), Duration.ofSeconds(1), 1, 1));
    }
}
