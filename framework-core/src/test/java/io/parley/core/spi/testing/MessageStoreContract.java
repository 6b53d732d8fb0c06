package io.parley.core.spi.testing;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.store.MessageStore.Appended;
import io.parley.core.spi.store.MessageStore.ConversationHead;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The behaviour every {@link MessageStore} promises, as JUnit 5 tests. A store module extends this class (or
 * {@link PersistentMessageStoreContract} for stores that survive a restart) in a concrete test class:
 * <pre>
 * class MemoryStoreContractTest extends MessageStoreContract {
 *     &#64;Override
 *     protected MessageStore openStore(Path dir) {
 *         return new MemoryMessageStore();
 *     }
 * }
 * </pre>
 * Each test gets a fresh, empty store in its own temporary directory; {@link #store} is open for the whole test.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class MessageStoreContract {

    /** How long a test waits for one append or barrier before failing. */
    protected static final long WAIT_SECONDS = 30;

    private static final AtomicLong IDS = new AtomicLong();

    /** The empty directory a store may keep its files in; the same for every {@link #openStore} call of a test. */
    @TempDir
    protected Path dir;

    /** The store under test, opened before each test and closed after it. */
    protected MessageStore store;

    /**
     * @param dir an existing directory owned by this test; a persistent store keeps its files there and finds
     *            them again when opened on the same directory
     * @return an open store, ready for appends
     */
    protected abstract MessageStore openStore(Path dir) throws Exception;

    /**
     * Closes a store opened by {@link #openStore}: pending appends complete, everything acknowledged is durable
     * and the store's threads have stopped when this returns. The default closes {@link AutoCloseable} stores.
     */
    protected void closeStore(MessageStore store) throws Exception {
        if (store instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }

    /**
     * Blocks until every {@link MessageStore#advanceWatermark} call made before this one is visible to
     * {@link MessageStore#watermarks}. The contract allows watermarks to be applied asynchronously; stores that
     * do so override this with their own barrier. The default suits stores that apply them synchronously.
     */
    protected void awaitWatermarks(MessageStore store) throws Exception {
    }

    /**
     * Blocks until every {@link MessageStore#advanceReadCursor} call made before this one is visible to
     * {@link MessageStore#readCursors}. The default is {@link #awaitWatermarks}, which suits stores that apply
     * both kinds of update the same way.
     */
    protected void awaitReadCursors(MessageStore store) throws Exception {
        awaitWatermarks(store);
    }

    @BeforeEach
    void openStoreUnderTest() throws Exception {
        store = openStore(dir);
    }

    @AfterEach
    void closeStoreUnderTest() throws Exception {
        if (store != null) {
            closeStore(store);
            store = null;
        }
    }

    // ---------------------------------------------------------------- helpers for subclasses

    /** A draft as the core hands it to {@link MessageStore#append}: every core field but seq is set. */
    protected static Message draft(String sender, String clientMsgId, String conversation, String text) {
        return draft(sender, clientMsgId, conversation, ByteString.copyFromUtf8(text));
    }

    protected static Message draft(String sender, String clientMsgId, String conversation, ByteString body) {
        return Message.newBuilder()
                .setId("m" + IDS.incrementAndGet())
                .setClientMsgId(clientMsgId)
                .setSender(sender)
                .setSenderDevice("phone")
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType("text")
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.test.Text").setValue(body))
                .build();
    }

    /** A fresh idempotency key. */
    protected static String cid() {
        return "c" + IDS.incrementAndGet();
    }

    protected static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** Appends and waits for the stage. */
    protected Appended append(Message draft, Collection<String> members) throws Exception {
        return await(store.append(draft, members));
    }

    protected Appended append(String sender, String conversation, Collection<String> members) throws Exception {
        return append(draft(sender, cid(), conversation, "hello " + IDS.get()), members);
    }

    /** A {@code group.event} draft for conversation {@code "g:" + groupId}. */
    protected static Message groupEvent(String sender, String clientMsgId, String groupId, String text) {
        return draft(sender, clientMsgId, "g:" + groupId, text).toBuilder().setType("group.event").build();
    }

    /** Appends a group event with a fresh idempotency key and waits for the stage. */
    protected Appended groupEvent(String sender, String groupId, String record, Collection<String> joined,
                                  Collection<String> left) throws Exception {
        return appendGroupEvent(groupEvent(sender, cid(), groupId, "event " + IDS.get()), groupId, record, joined,
                left);
    }

    protected Appended appendGroupEvent(Message event, String groupId, String record, Collection<String> joined,
                                        Collection<String> left) throws Exception {
        return await(store.appendGroupEvent(event, groupId, bytes(record), joined, left));
    }

    protected static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** The group's record as text, or null if it has none. */
    protected String record(String groupId) {
        return store.groupRecord(groupId).map(r -> new String(r, StandardCharsets.UTF_8)).orElse(null);
    }

    protected static List<Long> seqs(List<Message> messages) {
        return messages.stream().map(Message::getSeq).collect(Collectors.toList());
    }

    protected static List<Long> seqRange(long from, long to) {
        return LongStream.rangeClosed(from, to).boxed().collect(Collectors.toList());
    }

    protected static Map<String, Long> heads(List<ConversationHead> list) {
        Map<String, Long> heads = new HashMap<>();
        for (ConversationHead head : list) {
            Long previous = heads.put(head.conversation(), head.head());
            assertEquals(null, previous, "conversation listed twice: " + head.conversation());
        }
        return heads;
    }

    /** Runs the tasks on {@code threads} threads and returns their results in task order. */
    protected static <T> List<T> runConcurrently(int threads, List<Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<T>> futures = pool.invokeAll(tasks, 2 * WAIT_SECONDS, TimeUnit.SECONDS);
            List<T> results = new ArrayList<>();
            for (Future<T> future : futures) {
                results.add(future.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }

    // ---------------------------------------------------------------- seq

    @Test
    void seqStartsAtOneAndRisesByOnePerConversation() throws Exception {
        List<String> ab = List.of("alice", "bob");
        List<String> g = List.of("alice", "carol");
        for (int i = 1; i <= 5; i++) {
            assertEquals(i, append("alice", "d:alice:bob", ab).message().getSeq());
            if (i <= 3) {
                assertEquals(i, append("carol", "g:1", g).message().getSeq());
            }
        }
        assertEquals(5, store.head("d:alice:bob"));
        assertEquals(3, store.head("g:1"));
        assertEquals(seqRange(1, 5), seqs(store.range("d:alice:bob", 1, Long.MAX_VALUE, 100)));
        assertEquals(seqRange(1, 3), seqs(store.range("g:1", 1, Long.MAX_VALUE, 100)));
    }

    @Test
    void replaceRewritesTypeBodyAndExtInPlaceAndKeepsEverythingElse() throws Exception {
        List<String> ab = List.of("alice", "bob");
        Message first = append(draft("alice", "r1", "d:alice:bob", "oops").toBuilder().putExt("k", "v").build(), ab)
                .message();
        Message second = append("bob", "d:alice:bob", ab).message();
        Any tombstone = Any.newBuilder().setTypeUrl("type.googleapis.com/parley.test.Recalled").build();

        Optional<Message> replaced = await(store.replace("d:alice:bob", 1, "recalled", tombstone, Map.of("by", "alice")));
        Message expected = first.toBuilder().setType("recalled").setBody(tombstone).clearExt().putExt("by", "alice").build();
        assertEquals(Optional.of(expected), replaced);
        assertEquals(List.of(expected, second), store.range("d:alice:bob", 1, 2, 10), "in place, seq and id kept");
        assertEquals(2, store.head("d:alice:bob"), "no new seq");
        assertEquals(Optional.of(expected), store.findByClientId("alice", "r1"), "the idempotency key follows it");
        assertEquals(Optional.empty(), await(store.replace("d:alice:bob", 3, "recalled", tombstone, Map.of())));
        assertEquals(Optional.empty(), await(store.replace("d:nobody:else", 1, "recalled", tombstone, Map.of())));
        // the next append is unaffected
        assertEquals(3, append("alice", "d:alice:bob", ab).message().getSeq());
    }

    @Test
    void appendReturnsTheDraftWithItsSeqAndRangeReturnsTheSameMessage() throws Exception {
        Message draft = draft("alice", "k1", "d:alice:bob", "hi").toBuilder()
                .putExt("color", "blue").putExt("reply_to", "m0").build();
        Appended appended = append(draft, List.of("alice", "bob"));

        assertFalse(appended.duplicate());
        assertEquals(draft.toBuilder().setSeq(1).build(), appended.message());
        List<Message> stored = store.range("d:alice:bob", 1, 1, 10);
        assertEquals(List.of(appended.message()), stored);
        assertArrayEquals(appended.message().toByteArray(), stored.get(0).toByteArray());
    }

    @Test
    void concurrentAppendsToManyConversationsGetGaplessUniqueSeqs() throws Exception {
        int threads = 8;
        int perThread = 250;
        int conversations = 10;
        List<Callable<List<Message>>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            tasks.add(() -> {
                List<CompletableFuture<Appended>> pending = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    String conversation = "g:" + ((thread + i) % conversations);
                    Message m = draft("u" + thread, cid(), conversation, "t" + thread + "#" + i);
                    pending.add(store.append(m, List.of("u" + thread, "watcher")).toCompletableFuture());
                }
                List<Message> acked = new ArrayList<>();
                for (CompletableFuture<Appended> f : pending) {
                    Appended appended = f.get(WAIT_SECONDS, TimeUnit.SECONDS);
                    assertFalse(appended.duplicate());
                    acked.add(appended.message());
                }
                return acked;
            });
        }
        List<List<Message>> results = runConcurrently(threads, tasks);

        Map<String, List<Message>> byConversation = new HashMap<>();
        results.forEach(list -> list.forEach(
                m -> byConversation.computeIfAbsent(m.getConversation(), k -> new ArrayList<>()).add(m)));
        assertEquals(conversations, byConversation.size());
        int total = 0;
        for (Map.Entry<String, List<Message>> e : byConversation.entrySet()) {
            List<Message> acked = e.getValue();
            Set<Long> unique = acked.stream().map(Message::getSeq).collect(Collectors.toSet());
            assertEquals(acked.size(), unique.size(), "seq handed out twice in " + e.getKey());
            assertEquals(LongStream.rangeClosed(1, acked.size()).boxed().collect(Collectors.toSet()), unique);
            assertEquals(acked.size(), store.head(e.getKey()));

            List<Message> stored = store.range(e.getKey(), 1, Long.MAX_VALUE, Integer.MAX_VALUE);
            assertEquals(seqRange(1, acked.size()), seqs(stored));
            Map<Long, Message> ackedBySeq = acked.stream().collect(Collectors.toMap(Message::getSeq, m -> m));
            for (Message m : stored) {
                assertEquals(ackedBySeq.get(m.getSeq()), m);
            }
            total += acked.size();
        }
        assertEquals(threads * perThread, total);
        assertEquals(conversations, store.conversations("watcher").size());
    }

    @Test
    void appendsFromOneThreadAreSequencedInSubmissionOrder() throws Exception {
        List<CompletableFuture<Appended>> pending = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            pending.add(store.append(draft("alice", cid(), "g:order", "n" + i), List.of("alice")).toCompletableFuture());
        }
        for (int i = 0; i < pending.size(); i++) {
            Message m = pending.get(i).get(WAIT_SECONDS, TimeUnit.SECONDS).message();
            assertEquals(i + 1, m.getSeq());
            assertEquals("n" + i, m.getBody().getValue().toStringUtf8());
        }
    }

    @Test
    void eachThreadsAppendsToASharedConversationKeepTheirOrder() throws Exception {
        int threads = 6;
        int perThread = 200;
        List<Callable<List<Long>>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            tasks.add(() -> {
                List<CompletableFuture<Appended>> pending = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    Message m = draft("u" + thread, cid(), "g:shared", "u" + thread + "#" + i);
                    pending.add(store.append(m, List.of("u" + thread)).toCompletableFuture());
                }
                List<Long> seqs = new ArrayList<>();
                for (CompletableFuture<Appended> f : pending) {
                    seqs.add(f.get(WAIT_SECONDS, TimeUnit.SECONDS).message().getSeq());
                }
                return seqs;
            });
        }
        Set<Long> all = new HashSet<>();
        for (List<Long> seqs : runConcurrently(threads, tasks)) {
            for (int i = 1; i < seqs.size(); i++) {
                assertTrue(seqs.get(i - 1) < seqs.get(i), "out of submission order: " + seqs);
            }
            all.addAll(seqs);
        }
        assertEquals(LongStream.rangeClosed(1, threads * perThread).boxed().collect(Collectors.toSet()), all);
    }

    // ---------------------------------------------------------------- dedupe

    @Test
    void repeatedClientMsgIdReturnsTheOriginalAsDuplicate() throws Exception {
        Message first = draft("alice", "same", "d:alice:bob", "first");
        Appended original = append(first, List.of("alice", "bob"));
        append("alice", "d:alice:bob", List.of("alice", "bob"));

        // a retry carries a new server id and time, and possibly another body: the stored original wins
        Appended retry = append(draft("alice", "same", "d:alice:bob", "second"), List.of("alice", "bob"));
        assertTrue(retry.duplicate());
        assertEquals(original.message(), retry.message());
        assertEquals(2, store.head("d:alice:bob"));
        assertEquals(2, store.range("d:alice:bob", 1, Long.MAX_VALUE, 100).size());
        assertEquals(Optional.of(original.message()), store.findByClientId("alice", "same"));
    }

    @Test
    void dedupeKeyIsSenderAndClientMsgIdAcrossConversations() throws Exception {
        Appended original = append(draft("alice", "k", "g:one", "x"), List.of("alice", "bob"));

        Appended elsewhere = append(draft("alice", "k", "g:two", "y"), List.of("alice", "bob"));
        assertTrue(elsewhere.duplicate());
        assertEquals(original.message(), elsewhere.message());
        assertEquals(0, store.head("g:two"));

        Appended otherSender = append(draft("bob", "k", "g:one", "z"), List.of("alice", "bob"));
        assertFalse(otherSender.duplicate());
        assertEquals(2, otherSender.message().getSeq());
    }

    @Test
    void duplicatesSubmittedBackToBackWithoutWaiting() throws Exception {
        CompletableFuture<Appended> a = store.append(draft("alice", "burst", "g:b", "1"), List.of("alice")).toCompletableFuture();
        CompletableFuture<Appended> b = store.append(draft("alice", "burst", "g:b", "2"), List.of("alice")).toCompletableFuture();
        CompletableFuture<Appended> c = store.append(draft("alice", "other", "g:b", "3"), List.of("alice")).toCompletableFuture();

        Appended first = await(a);
        Appended second = await(b);
        assertFalse(first.duplicate());
        assertTrue(second.duplicate());
        assertEquals(first.message(), second.message());
        assertEquals(2, await(c).message().getSeq());
        assertEquals(2, store.head("g:b"));
    }

    @Test
    void concurrentDuplicatesAreStoredOnce() throws Exception {
        int threads = 8;
        int keys = 40;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int k = 0; k < keys; k++) {
                String key = "race" + k;
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Appended>> futures = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    String conversation = "g:race" + (t % 2);
                    futures.add(pool.submit(() -> {
                        start.await();
                        return await(store.append(draft("alice", key, conversation, key), List.of("alice")));
                    }));
                }
                start.countDown();
                List<Appended> results = new ArrayList<>();
                for (Future<Appended> f : futures) {
                    results.add(f.get(WAIT_SECONDS, TimeUnit.SECONDS));
                }
                assertEquals(1, results.stream().filter(r -> !r.duplicate()).count(), "stored more than once: " + key);
                Message winner = results.get(0).message();
                results.forEach(r -> assertEquals(winner, r.message()));
                assertEquals(Optional.of(winner), store.findByClientId("alice", key));
            }
            long stored = store.head("g:race0") + store.head("g:race1");
            assertEquals(keys, stored);
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }

    @Test
    void findByClientIdOfUnknownKeyIsEmpty() throws Exception {
        assertEquals(Optional.empty(), store.findByClientId("alice", "nope"));
        append(draft("alice", "known", "g:f", "x"), List.of("alice"));
        assertEquals(Optional.empty(), store.findByClientId("bob", "known"));
        assertEquals(Optional.empty(), store.findByClientId("alice", "know"));
    }

    // ---------------------------------------------------------------- range and head

    @Test
    void rangeEdgeCases() throws Exception {
        for (int i = 0; i < 10; i++) {
            append("alice", "g:r", List.of("alice"));
        }
        assertEquals(seqRange(1, 10), seqs(store.range("g:r", 1, Long.MAX_VALUE, 100)));
        assertEquals(seqRange(4, 10), seqs(store.range("g:r", 4, Long.MAX_VALUE, 100)));
        assertEquals(seqRange(10, 10), seqs(store.range("g:r", 10, Long.MAX_VALUE, 100)));
        assertEquals(List.of(), store.range("g:r", 11, Long.MAX_VALUE, 100));
        assertEquals(List.of(), store.range("g:r", 1000, Long.MAX_VALUE, 100));
        assertEquals(seqRange(3, 5), seqs(store.range("g:r", 3, 5, 100)));
        assertEquals(seqRange(3, 3), seqs(store.range("g:r", 3, 3, 100)));
        assertEquals(List.of(), store.range("g:r", 5, 3, 100));
        assertEquals(seqRange(2, 4), seqs(store.range("g:r", 2, Long.MAX_VALUE, 3)));
        assertEquals(seqRange(9, 10), seqs(store.range("g:r", 9, 50, 3)));
        assertEquals(seqRange(1, 1), seqs(store.range("g:r", 1, Long.MAX_VALUE, 1)));
        assertEquals(List.of(), store.range("g:r", 1, Long.MAX_VALUE, 0));
        assertEquals(List.of(), store.range("g:unknown", 1, Long.MAX_VALUE, 100));
    }

    @Test
    void rangeDoesNotLeakIntoConversationsWithSimilarIds() throws Exception {
        append("alice", "g:a", List.of("alice"));
        append("alice", "g:a:b", List.of("alice"));
        append("alice", "g:ab", List.of("alice"));
        append("alice", "g:a", List.of("alice"));
        assertEquals(List.of("g:a", "g:a"),
                store.range("g:a", 1, Long.MAX_VALUE, 100).stream().map(Message::getConversation).toList());
        assertEquals(1, store.range("g:a:b", 1, Long.MAX_VALUE, 100).size());
    }

    @Test
    void headIsZeroForAnUnknownConversation() {
        assertEquals(0, store.head("g:never"));
    }

    @Test
    void holdsSeqUpToTheHeadOnly() throws Exception {
        assertFalse(store.holdsSeq("g:held", 1));
        append("alice", "g:held", List.of());
        append("alice", "g:held", List.of());
        assertTrue(store.holdsSeq("g:held", 1));
        assertTrue(store.holdsSeq("g:held", 2));
        assertFalse(store.holdsSeq("g:held", 3));
        assertFalse(store.holdsSeq("g:held", Long.MAX_VALUE));
        append("bob", "g:held", List.of());
        assertTrue(store.holdsSeq("g:held", 3));
    }

    /** knownToHold may answer false for anything (it only saves a lookup), but never true beyond the head. */
    @Test
    void knownToHoldIsNeverTrueBeyondTheHead() throws Exception {
        assertFalse(store.knownToHold("g:known", 1));
        append("alice", "g:known", List.of());
        append("alice", "g:known", List.of());
        store.holdsSeq("g:known", 2); // a store may learn the head from this read
        assertFalse(store.knownToHold("g:known", 3));
        assertFalse(store.knownToHold("g:known", Long.MAX_VALUE));
        assertFalse(store.knownToHold("g:other", 1));
        for (long seq = 1; seq <= 2; seq++) {
            assertTrue(!store.knownToHold("g:known", seq) || store.holdsSeq("g:known", seq));
        }
    }

    // ---------------------------------------------------------------- conversation lists

    @Test
    void conversationsListEveryConversationOfEachMemberWithItsHead() throws Exception {
        append("alice", "d:alice:bob", List.of("alice", "bob"));
        append("bob", "d:alice:bob", List.of("alice", "bob"));
        append("carol", "g:team", List.of("alice", "carol", "dave"));

        assertEquals(Map.of("d:alice:bob", 2L, "g:team", 1L), heads(store.conversations("alice")));
        assertEquals(Map.of("d:alice:bob", 2L), heads(store.conversations("bob")));
        assertEquals(Map.of("g:team", 1L), heads(store.conversations("carol")));
        assertEquals(Map.of("g:team", 1L), heads(store.conversations("dave")));
        assertEquals(List.of(), store.conversations("erin"));

        // a member added later sees the conversation from then on; nobody is removed by omission
        append("carol", "g:team", List.of("carol", "erin"));
        assertEquals(Map.of("g:team", 2L), heads(store.conversations("erin")));
        assertEquals(Map.of("g:team", 2L), heads(store.conversations("dave")));
    }

    @Test
    void aMemberWhoLeftIsNotListedAgainByLaterMessages() throws Exception {
        groupEvent("alice", "left", "v1", List.of("alice", "bob"), List.of());
        append("alice", "g:left", List.of("alice", "bob"));
        groupEvent("alice", "left", "v2", List.of(), List.of("bob"));
        append("alice", "g:left", List.of("alice"));
        assertEquals(List.of(), store.conversations("bob"));
        assertEquals(Map.of("g:left", 4L), heads(store.conversations("alice")));

        groupEvent("alice", "left", "v3", List.of("bob"), List.of());   // back again
        append("alice", "g:left", List.of("alice", "bob"));
        assertEquals(Map.of("g:left", 6L), heads(store.conversations("bob")));
    }

    @Test
    void anAppendWithNoMembersIsStoredAndListedForNobody() throws Exception {
        Appended first = append(draft("alice", "quiet", "g:quiet", "x"), List.of());
        assertFalse(first.duplicate());
        assertEquals(1, first.message().getSeq());
        assertEquals(2, append("bob", "g:quiet", List.of()).message().getSeq());
        assertEquals(2, store.head("g:quiet"));
        assertEquals(seqRange(1, 2), seqs(store.range("g:quiet", 1, Long.MAX_VALUE, 10)));
        assertEquals(List.of(), store.conversations("alice"));
        assertEquals(List.of(), store.conversations("bob"));

        Appended retry = append(draft("alice", "quiet", "g:quiet", "y"), List.of());
        assertTrue(retry.duplicate());
        assertEquals(first.message(), retry.message());
    }

    // ---------------------------------------------------------------- groups

    @Test
    void groupRecordOfAnUnknownGroupIsEmpty() {
        assertEquals(Optional.empty(), store.groupRecord("nobody"));
    }

    @Test
    void groupEventsShareSeqWithAppendsAndReplaceTheRecord() throws Exception {
        Message created = groupEvent("alice", "create", "team", "created");
        Appended first = appendGroupEvent(created, "team", "v1", List.of("alice", "bob"), List.of());
        assertFalse(first.duplicate());
        assertEquals(created.toBuilder().setSeq(1).build(), first.message());
        assertEquals("v1", record("team"));

        assertEquals(2, append("bob", "g:team", List.of()).message().getSeq());
        Appended second = groupEvent("alice", "team", "v2", List.of(), List.of());
        assertEquals(3, second.message().getSeq());
        assertEquals(4, append("alice", "g:team", List.of()).message().getSeq());

        assertEquals("v2", record("team"));
        assertEquals(4, store.head("g:team"));
        List<Message> stored = store.range("g:team", 1, Long.MAX_VALUE, 10);
        assertEquals(seqRange(1, 4), seqs(stored));
        assertEquals(first.message(), stored.get(0));
        assertEquals(second.message(), stored.get(2));
        assertEquals(List.of("group.event", "text", "group.event", "text"),
                stored.stream().map(Message::getType).toList());
        assertEquals(Optional.of(first.message()), store.findByClientId("alice", "create"));
        assertEquals(Optional.empty(), store.groupRecord("other"));
    }

    @Test
    void groupRecordIsCopiedInAndOut() throws Exception {
        byte[] record = bytes("original");
        await(store.appendGroupEvent(groupEvent("alice", cid(), "copy", "x"), "copy", record, List.of("alice"),
                List.of()));
        record[0] = 'X';
        byte[] read = store.groupRecord("copy").orElseThrow();
        assertArrayEquals(bytes("original"), read);
        read[0] = 'Y';
        assertEquals("original", record("copy"));
    }

    @Test
    void groupEventsAddAndRemoveTheGroupInConversationLists() throws Exception {
        append("alice", "d:alice:bob", List.of("alice", "bob"));
        groupEvent("alice", "team", "v1", List.of("alice", "bob", "carol"), List.of());
        assertEquals(Map.of("d:alice:bob", 1L, "g:team", 1L), heads(store.conversations("alice")));
        assertEquals(Map.of("d:alice:bob", 1L, "g:team", 1L), heads(store.conversations("bob")));
        assertEquals(Map.of("g:team", 1L), heads(store.conversations("carol")));

        append("carol", "g:team", List.of());
        assertEquals(Map.of("g:team", 2L), heads(store.conversations("carol")));
        assertEquals(List.of(), store.conversations("dave"));

        // erin never was a member: leaving is a no-op for her
        groupEvent("alice", "team", "v2", List.of("dave"), List.of("bob", "erin"));
        assertEquals(Map.of("d:alice:bob", 1L), heads(store.conversations("bob")));
        assertEquals(Map.of("g:team", 3L), heads(store.conversations("dave")));
        assertEquals(Map.of("d:alice:bob", 1L, "g:team", 3L), heads(store.conversations("alice")));
        assertEquals(List.of(), store.conversations("erin"));

        // re-joining lists the group again, with the current head
        append("alice", "g:team", List.of());
        groupEvent("alice", "team", "v3", List.of("bob"), List.of("carol"));
        assertEquals(Map.of("d:alice:bob", 1L, "g:team", 5L), heads(store.conversations("bob")));
        assertEquals(List.of(), store.conversations("carol"));
        assertEquals("v3", record("team"));
    }

    @Test
    void aDuplicateGroupEventReturnsTheOriginalAndChangesNothing() throws Exception {
        Appended original = appendGroupEvent(groupEvent("alice", "ev1", "team", "create"), "team", "v1",
                List.of("alice", "bob"), List.of());
        groupEvent("alice", "team", "v2", List.of("carol"), List.of("bob"));

        Appended retry = appendGroupEvent(groupEvent("alice", "ev1", "team", "create again"), "team", "v3",
                List.of("erin", "bob"), List.of("alice"));
        assertTrue(retry.duplicate());
        assertEquals(original.message(), retry.message());
        assertEquals("v2", record("team"));
        assertEquals(2, store.head("g:team"));
        assertEquals(Map.of("g:team", 2L), heads(store.conversations("alice")));
        assertEquals(List.of(), store.conversations("bob"));
        assertEquals(Map.of("g:team", 2L), heads(store.conversations("carol")));
        assertEquals(List.of(), store.conversations("erin"));
    }

    @Test
    void groupEventsAndAppendsShareOneIdempotencyKeySpace() throws Exception {
        Appended plain = append(draft("alice", "shared", "d:alice:bob", "hi"), List.of("alice", "bob"));
        Appended event = appendGroupEvent(groupEvent("alice", "shared", "other", "create"), "other", "v1",
                List.of("alice", "carol"), List.of());
        assertTrue(event.duplicate());
        assertEquals(plain.message(), event.message());
        assertEquals(Optional.empty(), store.groupRecord("other"));
        assertEquals(0, store.head("g:other"));
        assertEquals(List.of(), store.conversations("carol"));
        assertEquals(Map.of("d:alice:bob", 1L), heads(store.conversations("alice")));

        Appended created = appendGroupEvent(groupEvent("alice", "made", "other", "create"), "other", "v1",
                List.of("alice"), List.of());
        Appended again = append(draft("alice", "made", "g:other", "text"), List.of("bob"));
        assertTrue(again.duplicate());
        assertEquals(created.message(), again.message());
        assertEquals(1, store.head("g:other"));
        assertEquals(Map.of("d:alice:bob", 1L), heads(store.conversations("bob")));
    }

    @Test
    void concurrentGroupEventsAndAppendsInOneGroupGetGaplessSeqs() throws Exception {
        int threads = 6;
        int perThread = 120;
        List<Callable<List<Appended>>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            tasks.add(() -> {
                List<CompletableFuture<Appended>> pending = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    String tag = "u" + thread + "#" + i;
                    CompletionStage<Appended> stage = i % 3 == 0
                            ? store.appendGroupEvent(groupEvent("u" + thread, cid(), "busy", tag), "busy",
                                    bytes(tag), List.of("j" + tag), List.of())
                            : store.append(draft("u" + thread, cid(), "g:busy", tag), List.of());
                    pending.add(stage.toCompletableFuture());
                }
                List<Appended> acked = new ArrayList<>();
                for (CompletableFuture<Appended> f : pending) {
                    acked.add(f.get(WAIT_SECONDS, TimeUnit.SECONDS));
                }
                return acked;
            });
        }
        List<List<Appended>> results = runConcurrently(threads, tasks);

        int total = threads * perThread;
        Set<Long> all = new HashSet<>();
        Message lastEvent = null;
        for (List<Appended> acked : results) {
            for (int i = 0; i < acked.size(); i++) {
                Message m = acked.get(i).message();
                assertFalse(acked.get(i).duplicate());
                assertTrue(all.add(m.getSeq()), "seq handed out twice: " + m.getSeq());
                if (i > 0) {
                    assertTrue(acked.get(i - 1).message().getSeq() < m.getSeq(), "out of submission order");
                }
                if (m.getType().equals("group.event") && (lastEvent == null || m.getSeq() > lastEvent.getSeq())) {
                    lastEvent = m;
                }
            }
        }
        assertEquals(LongStream.rangeClosed(1, total).boxed().collect(Collectors.toSet()), all);
        assertEquals(total, store.head("g:busy"));
        assertEquals(seqRange(1, total), seqs(store.range("g:busy", 1, Long.MAX_VALUE, Integer.MAX_VALUE)));
        // the record is that of the event with the highest seq
        String lastTag = lastEvent.getBody().getValue().toStringUtf8();
        assertEquals(lastTag, record("busy"));
        for (int t = 0; t < threads; t++) {
            for (int i = 0; i < perThread; i += 3) {
                assertEquals(Map.of("g:busy", (long) total), heads(store.conversations("ju" + t + "#" + i)));
            }
        }
    }

    // ---------------------------------------------------------------- read cursors

    @Test
    void readCursorsOnlyMoveForwardAndArePerUser() throws Exception {
        assertEquals(Map.of(), store.readCursors("alice"));

        store.advanceReadCursor("alice", "g:r", 5);
        awaitReadCursors(store);
        assertEquals(Map.of("g:r", 5L), store.readCursors("alice"));

        store.advanceReadCursor("alice", "g:r", 2);
        store.advanceReadCursor("alice", "g:r", 5);
        awaitReadCursors(store);
        assertEquals(Map.of("g:r", 5L), store.readCursors("alice"));

        store.advanceReadCursor("alice", "g:r", 8);
        store.advanceReadCursor("alice", "d:alice:bob", 3);
        store.advanceReadCursor("bob", "g:r", 1);
        store.advanceReadCursor("alice2", "g:r", 4);
        awaitReadCursors(store);
        assertEquals(Map.of("g:r", 8L, "d:alice:bob", 3L), store.readCursors("alice"));
        assertEquals(Map.of("g:r", 1L), store.readCursors("bob"));
        assertEquals(Map.of("g:r", 4L), store.readCursors("alice2"));
        assertEquals(Map.of(), store.readCursors("carol"));
        // read cursors and device watermarks are separate
        assertEquals(Map.of(), store.watermarks("alice", "phone"));
    }

    @Test
    void readCursorsInOneConversationForSeveralUsers() throws Exception {
        assertEquals(Map.of(), store.readCursorsIn("g:rc", List.of("alice", "bob")));

        store.advanceReadCursor("alice", "g:rc", 7);
        store.advanceReadCursor("bob", "g:rc", 3);
        store.advanceReadCursor("bob", "g:other", 9);
        store.advanceReadCursor("carol", "g:rc", 4);
        store.advanceReadCursor("dave", "g:other", 2);
        awaitReadCursors(store);
        assertEquals(Map.of("alice", 7L, "bob", 3L), store.readCursorsIn("g:rc", List.of("alice", "bob", "dave", "erin")));
        assertEquals(Map.of("bob", 9L, "dave", 2L), store.readCursorsIn("g:other", List.of("alice", "bob", "carol", "dave")));
        assertEquals(Map.of(), store.readCursorsIn("g:rc", List.of()));
    }

    @Test
    void concurrentReadCursorUpdatesKeepTheHighest() throws Exception {
        int threads = 6;
        List<Callable<Long>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long seed = 100 + t;
            tasks.add(() -> {
                Random random = new Random(seed);
                long max = 0;
                for (int i = 0; i < 500; i++) {
                    long seq = 1 + random.nextInt(100_000);
                    max = Math.max(max, seq);
                    store.advanceReadCursor("alice", "g:cr", seq);
                }
                return max;
            });
        }
        long expected = runConcurrently(threads, tasks).stream().mapToLong(Long::longValue).max().orElseThrow();
        awaitReadCursors(store);
        assertEquals(Map.of("g:cr", expected), store.readCursors("alice"));
    }

    // ---------------------------------------------------------------- watermarks

    @Test
    void watermarksOnlyMoveForward() throws Exception {
        assertEquals(Map.of(), store.watermarks("alice", "phone"));

        store.advanceWatermark("alice", "phone", "g:w", 5);
        awaitWatermarks(store);
        assertEquals(Map.of("g:w", 5L), store.watermarks("alice", "phone"));

        store.advanceWatermark("alice", "phone", "g:w", 3);
        store.advanceWatermark("alice", "phone", "g:w", 5);
        awaitWatermarks(store);
        assertEquals(Map.of("g:w", 5L), store.watermarks("alice", "phone"));

        store.advanceWatermark("alice", "phone", "g:w", 7);
        store.advanceWatermark("alice", "phone", "d:alice:bob", 2);
        store.advanceWatermark("alice", "laptop", "g:w", 1);
        store.advanceWatermark("bob", "phone", "g:w", 9);
        awaitWatermarks(store);
        assertEquals(Map.of("g:w", 7L, "d:alice:bob", 2L), store.watermarks("alice", "phone"));
        assertEquals(Map.of("g:w", 1L), store.watermarks("alice", "laptop"));
        assertEquals(Map.of("g:w", 9L), store.watermarks("bob", "phone"));
        assertEquals(Map.of(), store.watermarks("bob", "laptop"));
    }

    @Test
    void concurrentWatermarkUpdatesKeepTheHighest() throws Exception {
        int threads = 6;
        List<Callable<Long>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long seed = t;
            tasks.add(() -> {
                Random random = new Random(seed);
                long max = 0;
                for (int i = 0; i < 500; i++) {
                    long seq = 1 + random.nextInt(100_000);
                    max = Math.max(max, seq);
                    store.advanceWatermark("alice", "phone", "g:cw", seq);
                }
                return max;
            });
        }
        long expected = runConcurrently(threads, tasks).stream().mapToLong(Long::longValue).max().orElseThrow();
        awaitWatermarks(store);
        assertEquals(Map.of("g:cw", expected), store.watermarks("alice", "phone"));
    }

    // ---------------------------------------------------------------- sizes

    @Test
    void largeBodiesRoundTrip() throws Exception {
        Random random = new Random(42);
        List<byte[]> bodies = new ArrayList<>();
        for (int size : new int[]{1 << 20, 256 * 1024, 64 * 1024, 0, 1}) {
            byte[] body = new byte[size];
            random.nextBytes(body);
            bodies.add(body);
        }
        List<Message> acked = new ArrayList<>();
        for (byte[] body : bodies) {
            acked.add(append(draft("alice", cid(), "g:big", ByteString.copyFrom(body)), List.of("alice")).message());
        }
        List<Message> stored = store.range("g:big", 1, Long.MAX_VALUE, 100);
        assertEquals(acked, stored);
        for (int i = 0; i < bodies.size(); i++) {
            assertArrayEquals(bodies.get(i), stored.get(i).getBody().getValue().toByteArray());
        }
    }

    @Test
    void manyConversationsPerUser() throws Exception {
        Map<String, Long> expected = new ConcurrentHashMap<>();
        List<CompletableFuture<Appended>> pending = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            String conversation = "g:many" + i;
            expected.put(conversation, 1L);
            pending.add(store.append(draft("alice", cid(), conversation, "x"), List.of("alice", "bob")).toCompletableFuture());
        }
        for (CompletableFuture<Appended> f : pending) {
            f.get(WAIT_SECONDS, TimeUnit.SECONDS);
        }
        assertEquals(expected, heads(store.conversations("bob")));
    }
}
