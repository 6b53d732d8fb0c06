package io.parley.store.redis;

import io.parley.core.testing.RedisServer;

import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore.Appended;
import io.parley.core.spi.store.MessageStore.ConversationHead;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the store does when a script runs twice (Lettuce re-sending after a reconnect) or when a crash cut an append
 * off between its atomic steps: seen directly, by running the steps by hand.
 */
class RedisStoreRetryTest {

    private static RedisServer server;

    @BeforeAll
    static void startRedis() throws Exception {
        server = RedisServer.start(Files.createTempDirectory("parley-redis-retry"));
    }

    @AfterAll
    static void stopRedis() throws Exception {
        server.close();
    }

    private static Appended await(java.util.concurrent.CompletionStage<Appended> stage) throws Exception {
        return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void theSameAppendRunTwiceIsItsOwnRunNotADuplicate() throws Exception {
        try (RedisMessageStore store = RedisMessageStore.open(RedisStoreOptions.defaults(server.uri(), false, "own:"))) {
            Message draft = Drafts.draft("alice", "c1", "d:alice:bob", "hi");
            Appended first = await(store.append(draft, List.of("alice", "bob")));
            // what a re-sent script answers: the message stored under the key, with this attempt's own id
            Appended again = await(store.append(draft, List.of("alice", "bob")));
            assertFalse(first.duplicate());
            assertFalse(again.duplicate(), "the same attempt (same message id) is not a duplicate of itself");
            assertEquals(first.message(), again.message());
            assertEquals(1, store.head("d:alice:bob"));

            Appended retry = await(store.append(Drafts.draft("alice", "c1", "d:alice:bob", "hi"), List.of("alice")));
            assertTrue(retry.duplicate(), "another attempt under the same key is");
            assertEquals(first.message(), retry.message());
        }
    }

    @Test
    void listChangesACrashLeftPendingAreAppliedByTheClientsRetry() throws Exception {
        String prefix = "crash:";
        Keys keys = new Keys(prefix);
        String conversation = "d:carol:dave";
        Message original = Drafts.draft("carol", "k1", conversation, "cut off");
        // the reservation and the append script ran, then the node died before the users' lists were updated
        server.call("SET", keys.reservation("carol", "k1"), conversation);
        Object reply = server.call("EVAL", Scripts.APPEND.body(), "5", keys.head(conversation),
                keys.messages(conversation), keys.idempotency(conversation), keys.pending(conversation),
                keys.record(conversation), Keys.idempotencyField("carol", "k1"), original.toByteArray(),
                "+carol\0+dave", "");
        assertEquals(List.of(List.of(1L, 1L)), reply);

        try (RedisMessageStore store = RedisMessageStore.open(RedisStoreOptions.defaults(server.uri(), false, prefix))) {
            assertEquals(List.of(), store.conversations("dave"), "not listed: the crash came first");
            assertEquals(Optional.of(original.toBuilder().setSeq(1).build()), store.findByClientId("carol", "k1"));

            Appended retry = await(store.append(Drafts.draft("carol", "k1", conversation, "cut off"),
                    List.of("carol", "dave")));
            assertTrue(retry.duplicate());
            assertEquals(original.toBuilder().setSeq(1).build(), retry.message());
            assertEquals(List.of(new ConversationHead(conversation, 1)), store.conversations("dave"));
            assertEquals(List.of(new ConversationHead(conversation, 1)), store.conversations("carol"));
            store.flush().get(10, TimeUnit.SECONDS);
            assertNull(server.call("HGET", keys.pending(conversation), "1"), "the pending changes are cleared");
        }
    }

    @Test
    void aListChangeOlderThanTheListsStateIsIgnored() throws Exception {
        String prefix = "order:";
        Keys keys = new Keys(prefix);
        // bob left g:t at seq 5; the join of seq 3, applied late (a retry's repair), must not list him again
        assertEquals(List.of(1L), server.call("EVAL", Scripts.LIST.body(), "1", keys.conversations("bob"), "g:t", "5", "0"));
        assertEquals(List.of(0L), server.call("EVAL", Scripts.LIST.body(), "1", keys.conversations("bob"), "g:t", "3", "1"));
        try (RedisMessageStore store = RedisMessageStore.open(RedisStoreOptions.defaults(server.uri(), false, prefix))) {
            assertEquals(List.of(), store.conversations("bob"));
        }
        assertEquals(List.of(1L), server.call("EVAL", Scripts.LIST.body(), "1", keys.conversations("bob"), "g:t", "6", "1"));
    }
}
