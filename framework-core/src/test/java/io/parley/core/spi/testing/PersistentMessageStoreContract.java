package io.parley.core.spi.testing;

import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore.Appended;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@link MessageStoreContract} plus what a persistent store adds: everything acknowledged, and everything
 * a clean {@link #closeStore close} drained, is there again when the store is opened on the same directory.
 * Crash (kill -9, power loss) behaviour depends on each store's durability policy and is tested in its module.
 */
public abstract class PersistentMessageStoreContract extends MessageStoreContract {

    /** Closes {@link #store} cleanly and opens a new one on the same directory. */
    protected void restart() throws Exception {
        closeStore(store);
        store = null;
        store = openStore(dir);
    }

    @Test
    void aReplacementIsDurable() throws Exception {
        List<String> ab = List.of("alice", "bob");
        append(draft("alice", "d1", "d:alice:bob", "recall me"), ab);
        com.google.protobuf.Any tombstone = com.google.protobuf.Any.newBuilder()
                .setTypeUrl("type.googleapis.com/parley.test.Recalled").build();
        await(store.replace("d:alice:bob", 1, "recalled", tombstone, java.util.Map.of()));
        restart();
        Message after = store.range("d:alice:bob", 1, 1, 1).get(0);
        assertEquals("recalled", after.getType());
        assertEquals(tombstone, after.getBody());
        assertEquals(1, after.getSeq());
    }

    @Test
    void restartKeepsMessagesHeadsConversationsAndWatermarks() throws Exception {
        List<Message> ab = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ab.add(append(i % 2 == 0 ? "alice" : "bob", "d:alice:bob", List.of("alice", "bob")).message());
        }
        Message team = append(draft("carol", "k-team", "g:team", "hi team"), List.of("alice", "carol")).message();
        store.advanceWatermark("alice", "phone", "d:alice:bob", 12);
        store.advanceWatermark("alice", "phone", "g:team", 1);
        store.advanceWatermark("bob", "laptop", "d:alice:bob", 20);

        restart();

        assertEquals(ab, store.range("d:alice:bob", 1, Long.MAX_VALUE, 100));
        assertEquals(List.of(team), store.range("g:team", 1, Long.MAX_VALUE, 100));
        assertEquals(20, store.head("d:alice:bob"));
        assertEquals(Map.of("d:alice:bob", 20L, "g:team", 1L), heads(store.conversations("alice")));
        assertEquals(Map.of("d:alice:bob", 20L), heads(store.conversations("bob")));
        assertEquals(Map.of("g:team", 1L), heads(store.conversations("carol")));
        assertEquals(Map.of("d:alice:bob", 12L, "g:team", 1L), store.watermarks("alice", "phone"));
        assertEquals(Map.of("d:alice:bob", 20L), store.watermarks("bob", "laptop"));
        assertEquals(Optional.of(team), store.findByClientId("carol", "k-team"));
    }

    @Test
    void restartKeepsGroupRecordsListsReadCursorsAndEventDedupe() throws Exception {
        Appended created = appendGroupEvent(groupEvent("alice", "create", "team", "created"), "team", "v1",
                List.of("alice", "bob", "carol"), List.of());
        append("bob", "g:team", List.of());
        groupEvent("alice", "team", "v2", List.of("dave"), List.of("carol"));
        Message quiet = append(draft("bob", "quiet", "g:team", "x"), List.of()).message();
        store.advanceReadCursor("alice", "g:team", 3);
        store.advanceReadCursor("alice", "g:team", 2);
        store.advanceReadCursor("bob", "g:team", 4);

        restart();

        assertEquals("v2", record("team"));
        assertEquals(4, store.head("g:team"));
        assertEquals(Map.of("g:team", 4L), heads(store.conversations("alice")));
        assertEquals(Map.of("g:team", 4L), heads(store.conversations("dave")));
        assertEquals(List.of(), store.conversations("carol"));
        assertEquals(Map.of("g:team", 3L), store.readCursors("alice"));
        assertEquals(Map.of("g:team", 4L), store.readCursors("bob"));
        assertEquals(Optional.of(quiet), store.findByClientId("bob", "quiet"));

        Appended retry = appendGroupEvent(groupEvent("alice", "create", "team", "again"), "team", "v9",
                List.of("erin"), List.of("alice"));
        assertTrue(retry.duplicate());
        assertEquals(created.message(), retry.message());
        assertEquals("v2", record("team"));
        assertEquals(List.of(), store.conversations("erin"));
        assertEquals(5, groupEvent("alice", "team", "v3", List.of(), List.of("dave")).message().getSeq());

        restart();

        assertEquals("v3", record("team"));
        assertEquals(List.of(), store.conversations("dave"));
        assertEquals(seqRange(1, 5), seqs(store.range("g:team", 1, Long.MAX_VALUE, 100)));
        assertEquals(Map.of("g:team", 3L), store.readCursors("alice"));
    }

    @Test
    void seqIsNeverReusedAfterRestart() throws Exception {
        for (int i = 0; i < 3; i++) {
            append("alice", "g:s", List.of("alice"));
        }
        restart();
        assertEquals(4, append("alice", "g:s", List.of("alice")).message().getSeq());
        restart();
        assertEquals(5, append("alice", "g:s", List.of("alice")).message().getSeq());
        assertEquals(seqRange(1, 5), seqs(store.range("g:s", 1, Long.MAX_VALUE, 100)));
    }

    @Test
    void dedupeSurvivesRestart() throws Exception {
        Appended original = append(draft("alice", "retry-me", "g:d", "once"), List.of("alice"));
        restart();
        Appended retry = append(draft("alice", "retry-me", "g:d", "twice"), List.of("alice"));
        assertTrue(retry.duplicate());
        assertEquals(original.message(), retry.message());
        assertEquals(1, store.head("g:d"));
    }

    @Test
    void closeCompletesAppendsStillInFlight() throws Exception {
        List<CompletableFuture<Appended>> pending = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            pending.add(store.append(draft("alice", cid(), "g:drain" + (i % 7), "n" + i), List.of("alice"))
                    .toCompletableFuture());
        }
        closeStore(store);
        store = null;

        List<Message> acked = new ArrayList<>();
        for (CompletableFuture<Appended> f : pending) {
            assertTrue(f.isDone(), "close returned before an accepted append completed");
            assertFalse(f.isCompletedExceptionally(), "close dropped an accepted append");
            acked.add(f.join().message());
        }
        store = openStore(dir);
        for (Message m : acked) {
            assertEquals(List.of(m), store.range(m.getConversation(), m.getSeq(), m.getSeq(), 1));
        }
        long total = 0;
        for (int c = 0; c < 7; c++) {
            total += store.head("g:drain" + c);
        }
        assertEquals(2000, total);
    }
}
