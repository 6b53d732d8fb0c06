package io.parley.store.rocksdb;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore.Appended;
import io.parley.core.spi.testing.PruningBacklog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RocksMessageStoreTest {

    @TempDir
    Path dir;

    private static final AtomicLong IDS = new AtomicLong();

    static Message draft(String sender, String clientMsgId, String conversation) {
        long n = IDS.incrementAndGet();
        return Message.newBuilder().setId("m" + n).setClientMsgId(clientMsgId).setSender(sender)
                .setSenderDevice("phone").setConversation(conversation).setServerTime(n).setType("text")
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.test.Text")
                        .setValue(ByteString.copyFromUtf8("body " + n)))
                .build();
    }

    static <T> T await(java.util.concurrent.CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void relativeDirectoriesResolveAgainstParleyHomeElseTheWorkingDirectory() {
        assertEquals(Path.of("/opt/parley/data/rocksdb"), RocksStoreOptions.resolveDir("data/rocksdb", "/opt/parley"));
        assertEquals(Path.of("/var/lib/parley"), RocksStoreOptions.resolveDir("/var/lib/parley", "/opt/parley"));
        assertEquals(Path.of("").toAbsolutePath().resolve("data/rocksdb"), RocksStoreOptions.resolveDir("data/rocksdb", null));
        assertEquals(Path.of("").toAbsolutePath().resolve("data/rocksdb"), RocksStoreOptions.resolveDir("data/rocksdb", " "));
    }

    @Test
    void closeStopsTheWriterAndLaterCallsFailAsRetryable() throws Exception {
        RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir));
        await(store.append(draft("alice", "k1", "g:c"), List.of("alice")));
        assertTrue(writerThreads() >= 1);
        store.close();
        store.close();
        assertEquals(0, writerThreads(), "writer thread left behind");

        ExecutionException e = assertThrows(ExecutionException.class,
                () -> await(store.append(draft("alice", "k2", "g:c"), List.of("alice"))));
        ParleyException refusal = assertInstanceOf(ParleyException.class, e.getCause());
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refusal.code());
        assertTrue(refusal.retryable());
        assertThrows(ParleyException.class, () -> store.head("g:c"));
    }

    private static long writerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals(RocksMessageStore.WRITER_THREAD) && t.isAlive()).count();
    }

    @Test
    void malformedDraftsAreRefusedWithoutTouchingTheStore() throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            for (Message bad : List.of(draft("alice", "k", ""), draft("", "k", "g:x"), draft("alice", "k", "g\0x"))) {
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> await(store.append(bad, List.of("alice"))));
                assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, ((ParleyException) e.getCause()).code());
            }
            assertEquals(Optional.empty(), store.findByClientId("alice", "k"));
        }
    }

    @Test
    void malformedGroupEventsAreRefusedWithoutTouchingTheStore() throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            byte[] record = {1};
            List<CompletableFuture<Appended>> refused = List.of(
                    store.appendGroupEvent(draft("alice", "k", "g:other"), "team", record, List.of(), List.of())
                            .toCompletableFuture(),
                    store.appendGroupEvent(draft("alice", "k", "g:"), "", record, List.of(), List.of())
                            .toCompletableFuture(),
                    store.appendGroupEvent(draft("", "k", "g:team"), "team", record, List.of(), List.of())
                            .toCompletableFuture(),
                    store.appendGroupEvent(draft("alice", "k", "g:team"), "team", record, List.of("a\0b"), List.of())
                            .toCompletableFuture(),
                    store.appendGroupEvent(draft("alice", "k", "g:team"), "team", record, List.of(), List.of(""))
                            .toCompletableFuture());
            for (CompletableFuture<Appended> f : refused) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> await(f));
                assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, ((ParleyException) e.getCause()).code());
            }
            await(store.flush());
            assertEquals(Optional.empty(), store.findByClientId("alice", "k"));
            assertEquals(Optional.empty(), store.groupRecord("team"));
            assertEquals(0, store.head("g:team"));
        }
    }

    @Test
    void readersSeeAGroupEventsRecordAndListChangeTogether() throws Exception {
        RocksStoreOptions options = RocksStoreOptions.defaults(dir).withFsync(false);
        try (RocksMessageStore store = RocksMessageStore.open(options)) {
            int events = 1500;
            AtomicBoolean writing = new AtomicBoolean(true);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<Long> reader = pool.submit(() -> {
                    long checks = 0;
                    while (writing.get()) {
                        long head = store.head("g:live");
                        Optional<byte[]> record = store.groupRecord("live");
                        if (record.isEmpty()) {
                            assertEquals(0, head);
                            continue;
                        }
                        // event n stores record n with seq n and lists "j<n>", all in one commit
                        long n = Long.parseLong(new String(record.get(), StandardCharsets.UTF_8));
                        assertTrue(n >= head, "record " + n + " older than head " + head);
                        assertEquals(List.of("g:live"), store.conversations("j" + n).stream()
                                .map(h -> h.conversation()).toList(), "record " + n + " visible before its list change");
                        checks++;
                    }
                    return checks;
                });
                List<CompletableFuture<Appended>> pending = new ArrayList<>();
                for (int n = 1; n <= events; n++) {
                    pending.add(store.appendGroupEvent(draft("alice", "ev" + n, "g:live"), "live",
                            Long.toString(n).getBytes(StandardCharsets.UTF_8), List.of("j" + n),
                            List.of()).toCompletableFuture());
                    if (n % 100 == 0) {
                        pending.get(pending.size() - 1).get(30, TimeUnit.SECONDS);
                    }
                }
                for (int n = 1; n <= events; n++) {
                    assertEquals(n, pending.get(n - 1).get(30, TimeUnit.SECONDS).message().getSeq());
                }
                writing.set(false);
                assertTrue(reader.get(30, TimeUnit.SECONDS) > 0);
            } finally {
                writing.set(false);
                pool.shutdownNow();
                assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void aSecondStoreCannotOpenTheSameDatabase() {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            assertThrows(RuntimeException.class, () -> RocksMessageStore.open(RocksStoreOptions.defaults(dir)).close());
            assertEquals(0, store.head("g:c"));
        }
    }

    @Test
    void deliveryAcksAreCheckedAgainstWrittenHeadsWithoutADatabaseRead() throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir).withFsync(false))) {
            for (int i = 1; i <= 3; i++) {
                assertEquals(i, store.append(draft("alice", "h" + i, "d:alice:bob"), List.of("alice", "bob"))
                        .toCompletableFuture().get(10, TimeUnit.SECONDS).message().getSeq());
            }
            long reads = store.headReads();
            assertTrue(store.knownToHold("d:alice:bob", 3), "the written head is known without a read");
            assertFalse(store.knownToHold("d:alice:bob", 4));
            assertTrue(store.holdsSeq("d:alice:bob", 3));
            assertTrue(store.holdsSeq("d:alice:bob", 1));
            assertEquals(reads, store.headReads(), "seqs up to a written head are answered from memory");
            assertFalse(store.holdsSeq("d:alice:bob", 4), "beyond the head");
            assertFalse(store.holdsSeq("d:carol:dave", 1), "a conversation with no messages");
            assertEquals(reads + 2, store.headReads(), "what memory cannot confirm is read from the database");
        }
        try (RocksMessageStore reopened = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            assertFalse(reopened.knownToHold("d:alice:bob", 3), "nothing is known before a read after a restart");
            assertTrue(reopened.holdsSeq("d:alice:bob", 3), "after a restart the head comes from the database");
            assertTrue(reopened.knownToHold("d:alice:bob", 3), "the head read is known from then on");
            assertFalse(reopened.holdsSeq("d:alice:bob", 4));
            assertEquals(2, reopened.headReads());
        }
    }

    @Test
    void concurrentAppendsShareBatches() throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            long before = store.batchesWritten();
            int appends = 4000;
            List<CompletableFuture<Appended>> pending = new ArrayList<>();
            for (int i = 0; i < appends; i++) {
                pending.add(store.append(draft("u" + i % 50, "k" + i, "g:" + i % 20), List.of("u" + i % 50))
                        .toCompletableFuture());
            }
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            long batches = store.batchesWritten() - before;
            assertTrue(batches < appends / 4, batches + " batches (WAL records and syncs) for " + appends + " appends");
        }
    }

    @Test
    void idempotencyKeysArePrunedAfterTheDedupeWindow() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000);
        long window = TimeUnit.HOURS.toMillis(168);
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir), now::get)) {
            Appended old = await(store.append(draft("alice", "old", "g:p"), List.of("alice")));
            now.addAndGet(window - 10);
            Appended recent = await(store.append(draft("alice", "recent", "g:p"), List.of("alice")));
            now.addAndGet(20);
            await(store.housekeepingNow());

            assertEquals(Optional.empty(), store.findByClientId("alice", "old"));
            assertEquals(Optional.of(recent.message()), store.findByClientId("alice", "recent"));
            assertTrue(await(store.append(draft("alice", "recent", "g:p"), List.of("alice"))).duplicate());
            Appended reused = await(store.append(draft("alice", "old", "g:p"), List.of("alice")));
            assertFalse(reused.duplicate());
            assertEquals(3, reused.message().getSeq());
            // pruning forgets keys, never messages
            assertEquals(List.of(old.message()), store.range("g:p", 1, 1, 10));
        }
    }

    @Test
    void idempotencyKeysAreDatedOncePerBatchNotOncePerMessage() throws Exception {
        int appends = 3000;
        long batches;
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            long before = store.batchesWritten();
            List<CompletableFuture<Appended>> pending = new ArrayList<>();
            for (int i = 0; i < appends; i++) {
                pending.add(store.append(draft("u" + i % 7, "k" + i, "g:" + i % 5), List.of("u" + i % 7))
                        .toCompletableFuture());
            }
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            batches = store.batchesWritten() - before;
        }
        try (org.rocksdb.Options options = new org.rocksdb.Options();
             org.rocksdb.RocksDB rocks = org.rocksdb.RocksDB.openReadOnly(options, dir.toString())) {
            assertEquals(0, count(rocks, Keys.DEDUPE_EXPIRY), "no per-key expiry entries");
            long entries = count(rocks, Keys.DEDUPE_EXPIRY_BATCH);
            assertTrue(entries >= 1 && entries <= batches + appends / RocksMessageStore.EXPIRY_PAIRS_PER_ENTRY,
                    entries + " expiry entries for " + batches + " batches");
            assertEquals(appends, count(rocks, Keys.DEDUPE));
        }
    }

    @Test
    void expiryEntriesListTheirKeysAndACorruptOneIsRecognised() {
        List<byte[]> parts = List.of(Keys.dedupe("alice", "k1"), Keys.message("g:p", 1),
                Keys.dedupe("bob", "k\u00e9"), Keys.message("g:q", 7));
        byte[] value = Keys.expiryValue(parts, 0, 4);
        List<byte[]> read = Keys.expiryPairs(value);
        assertEquals(4, read.size());
        for (int i = 0; i < 4; i++) {
            assertTrue(java.util.Arrays.equals(parts.get(i), read.get(i)), "part " + i);
        }
        assertEquals(2, Keys.expiryPairs(Keys.expiryValue(parts, 2, 4)).size());
        assertThrows(IllegalStateException.class, () -> Keys.expiryPairs(java.util.Arrays.copyOf(value, value.length - 1)));
        assertThrows(IllegalStateException.class, () -> Keys.expiryPairs(Keys.expiryValue(parts, 0, 3)));
        assertThrows(IllegalStateException.class, () -> Keys.expiryPairs(new byte[] {0, 0, 1}));
    }

    @Test
    void aPruningBacklogIsWorkedOffWithinSecondsNotOnePassAMinute() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000);
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir).withFsync(false),
                now::get)) {
            PruningBacklog backlog = PruningBacklog.append(store, RocksMessageStore.PRUNE_MAX_PER_PASS * 2 + 500,
                    RocksMessageStoreTest::draft);
            now.addAndGet(TimeUnit.HOURS.toMillis(168) + 1);
            await(store.housekeepingNow());
            backlog.assertSomeLeft(RocksMessageStore.PRUNE_MAX_PER_PASS);
            // the writer runs the next passes on its own, 100 ms apart
            backlog.awaitPruned(20);
        }
    }

    @Test
    void perKeyExpiryEntriesOfAnEarlierVersionAreStillPruned() throws Exception {
        long window = TimeUnit.HOURS.toMillis(168);
        Message stored = draft("alice", "legacy", "g:p").toBuilder().setSeq(1).build();
        byte[] messageKey = Keys.message("g:p", 1);
        byte[] dedupeKey = Keys.dedupe("alice", "legacy");
        try (org.rocksdb.Options options = new org.rocksdb.Options().setCreateIfMissing(true);
             org.rocksdb.RocksDB rocks = org.rocksdb.RocksDB.open(options, dir.toString())) {
            rocks.put(Keys.meta("format"), "1".getBytes(StandardCharsets.UTF_8));
            rocks.put(messageKey, stored.toByteArray());
            rocks.put(dedupeKey, messageKey);
            rocks.put(Keys.dedupeExpiry(1_000, dedupeKey), messageKey);
        }
        AtomicLong now = new AtomicLong(1_000 + window - 1);
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir), now::get)) {
            assertTrue(await(store.append(draft("alice", "legacy", "g:p"), List.of("alice"))).duplicate());
            await(store.housekeepingNow());
            assertEquals(Optional.of(stored), store.findByClientId("alice", "legacy"), "not expired yet");

            now.addAndGet(2);
            await(store.housekeepingNow());
            assertEquals(Optional.empty(), store.findByClientId("alice", "legacy"));
            assertEquals(List.of(stored), store.range("g:p", 1, 1, 10));
        }
        try (org.rocksdb.Options options = new org.rocksdb.Options();
             org.rocksdb.RocksDB rocks = org.rocksdb.RocksDB.openReadOnly(options, dir.toString())) {
            assertEquals(0, count(rocks, Keys.DEDUPE_EXPIRY));
        }
    }

    private static long count(org.rocksdb.RocksDB rocks, byte kind) {
        long n = 0;
        try (org.rocksdb.RocksIterator it = rocks.newIterator()) {
            for (it.seek(new byte[] {kind}); it.isValid() && it.key()[0] == kind; it.next()) {
                n++;
            }
        }
        return n;
    }

    @Test
    void readersSeeGaplessCommittedPrefixesWhileTheWriterRuns() throws Exception {
        RocksStoreOptions options = RocksStoreOptions.defaults(dir).withFsync(false);
        try (RocksMessageStore store = RocksMessageStore.open(options)) {
            AtomicLong maxAcked = new AtomicLong();
            AtomicBoolean writing = new AtomicBoolean(true);
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Future<?>> writers = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int thread = t;
                    writers.add(pool.submit(() -> {
                        for (int round = 0; round < 20; round++) {
                            List<CompletableFuture<Appended>> window = new ArrayList<>();
                            for (int i = 0; i < 100; i++) {
                                window.add(store.append(draft("u" + thread, "t" + thread + "r" + round + "i" + i, "g:rw"),
                                        List.of("u" + thread, "reader")).toCompletableFuture());
                            }
                            for (CompletableFuture<Appended> f : window) {
                                long seq = f.get(30, TimeUnit.SECONDS).message().getSeq();
                                maxAcked.accumulateAndGet(seq, Math::max);
                            }
                        }
                        return null;
                    }));
                }
                List<Future<Long>> readers = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    readers.add(pool.submit(() -> {
                        long reads = 0;
                        while (writing.get()) {
                            long floor = maxAcked.get();
                            long head = store.head("g:rw");
                            assertTrue(head >= floor, "acked seq " + floor + " not visible, head " + head);
                            long from = Math.max(1, floor - 150);
                            List<Message> page = store.range("g:rw", from, Long.MAX_VALUE, 400);
                            for (int i = 0; i < page.size(); i++) {
                                assertEquals(from + i, page.get(i).getSeq());
                            }
                            assertTrue(from + page.size() - 1 >= floor);
                            store.conversations("reader");
                            reads++;
                        }
                        return reads;
                    }));
                }
                for (Future<?> w : writers) {
                    w.get(60, TimeUnit.SECONDS);
                }
                writing.set(false);
                for (Future<Long> r : readers) {
                    assertTrue(r.get(30, TimeUnit.SECONDS) > 0);
                }
            } finally {
                writing.set(false);
                pool.shutdownNow();
                assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
            }
            assertEquals(8000, store.head("g:rw"));
        }
    }
    @Test
    void aFullQueueRefusesAppendsAsRetryableAndCompletesTheAcceptedOnes() throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir).withQueueMax(2))) {
            List<CompletableFuture<Appended>> pending = new ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                pending.add(store.append(draft("alice", "q" + i, "g:q"), List.of("alice")).toCompletableFuture());
            }
            int refused = 0;
            List<Long> seqs = new ArrayList<>();
            for (CompletableFuture<Appended> f : pending) {
                try {
                    seqs.add(f.get(30, TimeUnit.SECONDS).message().getSeq());
                } catch (ExecutionException e) {
                    ParleyException refusal = assertInstanceOf(ParleyException.class, e.getCause());
                    assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refusal.code());
                    assertTrue(refusal.retryable());
                    refused++;
                }
            }
            assertTrue(refused > 0, "a queue of 2 took 3000 appends at once");
            for (int i = 0; i < seqs.size(); i++) {
                assertEquals(i + 1, seqs.get(i), "the accepted appends got gapless seqs in submission order");
            }
            assertEquals(seqs.size(), store.head("g:q"));
        }
    }

    @Test
    void watermarksAreCoalescedVisibleAtOnceAndWrittenOnFlush() throws Exception {
        RocksStoreOptions options = RocksStoreOptions.defaults(dir).withWatermarkFlushMillis(3_600_000);
        try (RocksMessageStore store = RocksMessageStore.open(options)) {
            for (int seq = 1; seq <= 500; seq++) {
                store.advanceWatermark("bob", "phone", "g:w" + seq % 5, seq);
            }
            assertEquals(java.util.Map.of("g:w0", 500L, "g:w1", 496L, "g:w2", 497L, "g:w3", 498L, "g:w4", 499L),
                    store.watermarks("bob", "phone"), "visible before any write");
            assertEquals(0, store.watermarkWrites(), "nothing written within the interval");
            await(store.flush());
            assertEquals(5, store.watermarkWrites(), "one put per key, however many acks raised it");
            store.advanceWatermark("bob", "phone", "g:w0", 3);
            await(store.flush());
            assertEquals(5, store.watermarkWrites(), "a lower seq writes nothing");
            assertEquals(500L, store.watermarks("bob", "phone").get("g:w0"));
        }
        try (RocksMessageStore store = RocksMessageStore.open(options)) {
            assertEquals(500L, store.watermarks("bob", "phone").get("g:w0"));
        }
    }

    @Test
    void aListingSurvivesTheCacheAfterAGroupRemovesAndReAddsAUserInOneBatch() throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            await(store.appendGroupEvent(draft("alice", "e1", "g:t").toBuilder().setType("group.event").build(), "t",
                    new byte[] {1}, List.of("bob"), List.of()));
            // queued back to back: join, leave, join again, leave again - most likely one batch
            List<CompletableFuture<Appended>> events = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                boolean join = i % 2 == 0;
                events.add(store.appendGroupEvent(draft("alice", "e" + (i + 2), "g:t").toBuilder()
                                .setType("group.event").build(), "t", new byte[] {(byte) i},
                        join ? List.of("bob") : List.of(), join ? List.of() : List.of("bob")).toCompletableFuture());
            }
            for (CompletableFuture<Appended> f : events) {
                f.get(30, TimeUnit.SECONDS);
            }
            assertEquals(List.of(), store.conversations("bob"));
            // bob is not listed: a 1:1-style append naming him lists him again (the cache must not claim he is)
            await(store.append(draft("alice", "x", "g:t"), List.of("bob")));
            assertEquals(List.of("g:t"), store.conversations("bob").stream().map(h -> h.conversation()).toList());
        }
    }
}
