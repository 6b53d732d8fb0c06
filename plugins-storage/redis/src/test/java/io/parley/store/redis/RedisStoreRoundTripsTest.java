package io.parley.store.redis;

import io.parley.core.spi.store.MessageStore.ConversationHead;
import io.parley.core.testing.RedisServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The round trips the hot path costs, counted by Redis itself ({@code INFO commandstats}) on a server of this class's
 * own: a message of a 1:1 conversation whose members this node listed already is two scripts (reserve, append), and
 * the "seq within the head" check of delivery acks is answered from what the store appended.
 */
class RedisStoreRoundTripsTest {

    private static RedisServer server;

    @BeforeAll
    static void startRedis() throws Exception {
        server = RedisServer.start(Files.createTempDirectory("parley-redis-trips"));
    }

    @AfterAll
    static void stopRedis() throws Exception {
        server.close();
    }

    private static long calls(String command) throws Exception {
        Matcher m = Pattern.compile("cmdstat_" + command + ":calls=(\\d+)").matcher(server.command("INFO", "commandstats"));
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    @Test
    void laterMessagesOfAOneToOneConversationRunNoListScripts() throws Exception {
        try (RedisMessageStore store = RedisMessageStore.open(RedisStoreOptions.defaults(server.uri(), false, "t1:"))) {
            long before = calls("evalsha");
            store.append(Drafts.draft("alice", "a1", "d:alice:bob", "first"), List.of("alice", "bob"))
                    .toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertEquals(4, calls("evalsha") - before, "the first message: reserve, append, two list scripts");
            before = calls("evalsha");
            for (int i = 2; i <= 5; i++) {
                store.append(Drafts.draft(i % 2 == 0 ? "bob" : "alice", "m" + i, "d:alice:bob", "again"),
                        List.of("alice", "bob")).toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
            assertEquals(8, calls("evalsha") - before, "later messages: reserve and append only");
            assertEquals(List.of(new ConversationHead("d:alice:bob", 5)), store.conversations("bob"));
            assertFalse(store.lookupBeforeAppend(), "a lookup is a round trip; the append de-duplicates");
        }
    }

    @Test
    void holdsSeqAsksRedisOnlyBeyondWhatThisNodeKnows() throws Exception {
        RedisStoreOptions options = RedisStoreOptions.defaults(server.uri(), false, "t2:");
        try (RedisMessageStore here = RedisMessageStore.open(options);
             RedisMessageStore otherNode = RedisMessageStore.open(options)) {
            for (int i = 1; i <= 2; i++) {
                here.append(Drafts.draft("alice", "h" + i, "g:g", "x"), List.of()).toCompletableFuture()
                        .get(10, TimeUnit.SECONDS);
            }
            long gets = calls("get");
            assertTrue(here.knownToHold("g:g", 2), "this node's own appends are known");
            assertFalse(here.knownToHold("g:g", 3));
            assertTrue(here.holdsSeq("g:g", 1));
            assertTrue(here.holdsSeq("g:g", 2));
            assertEquals(0, calls("get") - gets, "answered from this node's own appends");

            otherNode.append(Drafts.draft("bob", "o1", "g:g", "y"), List.of()).toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            gets = calls("get");
            assertFalse(here.knownToHold("g:g", 3), "another node's append is not known without a round trip");
            assertEquals(0, calls("get") - gets);
            assertTrue(here.holdsSeq("g:g", 3), "another node's append is found in Redis");
            assertFalse(here.holdsSeq("g:g", 4));
            assertEquals(2, calls("get") - gets, "one GET of the head for each seq beyond what was known");
            assertTrue(here.holdsSeq("g:g", 3));
            assertEquals(2, calls("get") - gets, "and the head read is remembered");
        }
    }
}
