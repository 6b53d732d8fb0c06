package io.parley.store.redis;

import io.parley.core.testing.RedisServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A store that is closed gives back every socket it opened, so a bundle replaced again and again, or a store opened
 * again after a failure, does not wear the process down. Found by a hot-swap soak: Lettuce's JVM-wide DNS resolver
 * group left UDP sockets open after stores closed, about one per store (netty/netty#13013); the store's resources now
 * resolve with the JDK ({@code io.parley.lettuce.OwnedResources}).
 */
class RedisStoreReleaseTest {

    @Test
    void closingAStoreGivesBackItsSockets(@TempDir Path dir) throws Exception {
        try (RedisServer server = RedisServer.start(dir)) {
            openAndClose(server); // the first one also starts what is shared by the whole JVM
            long before = sockets();
            for (int i = 0; i < 5; i++) {
                openAndClose(server);
            }
            assertEquals(before, sockets(), "sockets of this JVM after five stores were opened and closed");
        }
    }

    private static void openAndClose(RedisServer server) {
        try (RedisMessageStore store = RedisMessageStore.open(RedisStoreOptions.defaults(server.uri(), false, "rel:"))) {
            store.head("d:a:b"); // one round trip: connected and resolved
        }
    }

    /** Open file descriptors of this JVM that are sockets (TCP, UDP, Unix). */
    private static long sockets() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // closed while listed (the listing's own descriptor)
                }
            }).count();
        }
    }
}
