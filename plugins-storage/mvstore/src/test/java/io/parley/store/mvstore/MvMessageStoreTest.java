package io.parley.store.mvstore;

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
class MvMessageStoreTest {

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
        assertEquals(Path.of("/opt/parley/data/store"), MvStoreOptions.resolveDir("data/store", "/opt/parley"));
        assertEquals(Path.of("/var/lib/parley"), MvStoreOptions.resolveDir("/var/lib/parley", "/opt/parley"));
        assertEquals(Path.of("").toAbsolutePath().resolve("data/store"), MvStoreOptions.resolveDir("data/store", null));
        assertEquals(Path.of("").toAbsolutePath().resolve("data/store"), MvStoreOptions.resolveDir("data/store", " "));
    }

    @Test
    void closeStopsTheWriterAndLaterCallsFailAsRetryable() throws Exception {
        MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir));
        await(store.append(draft("alice", "k1", "g:c"), List.of("alice")));
        assertTrue(writerThreads() >= 1);
        store.close();
        store.close();
        assertEquals(0, writerThreads(), "writer thread left behind");
        assertEquals(List.of(), Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(name -> name.startsWith("H2") || name.startsWith("MVStore")).toList(), "H2 threads left behind");

        ExecutionException e = assertThrows(ExecutionException.class,
                () -> await(store.append(draft("alice", "k2", "g:c"), List.of("alice"))));
        ParleyException refusal = assertInstanceOf(ParleyException.class, e.getCause());
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refusal.code());
        assertTrue(refusal.retryable());
        assertThrows(ParleyException.class, () -> store.head("g:c"));
    }

    private static long writerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals(MvMessageStore.WRITER_THREAD) && t.isAlive()).count();
    }

    @Test
    void malformedDraftsAreRefusedWithoutTouchingTheStore() throws Exception {
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir))) {
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
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir))) {
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
        MvStoreOptions options = MvStoreOptions.defaults(dir).withFsync(false);
        try (MvMessageStore store = MvMessageStore.open(options)) {
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
    void aSecondStoreCannotOpenTheSameFile() {
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir))) {
            assertThrows(RuntimeException.class, () -> MvMessageStore.open(MvStoreOptions.defaults(dir)).close());
            assertEquals(0, store.head("g:c"));
        }
    }

    @Test
    void concurrentAppendsShareCommits() throws Exception {
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir))) {
            long before = store.currentVersion();
            int appends = 4000;
            List<CompletableFuture<Appended>> pending = new ArrayList<>();
            for (int i = 0; i < appends; i++) {
                pending.add(store.append(draft("u" + i % 50, "k" + i, "g:" + i % 20), List.of("u" + i % 50))
                        .toCompletableFuture());
            }
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            long commits = store.currentVersion() - before;
            assertTrue(commits < appends / 4, commits + " commits for " + appends + " appends");
        }
    }

    @Test
    void idempotencyKeysArePrunedAfterTheDedupeWindow() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000);
        long window = TimeUnit.HOURS.toMillis(168);
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir), now::get)) {
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
    void aPruningBacklogIsWorkedOffWithinSecondsNotOnePassPerInterval() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000);
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir).withFsync(false), now::get)) {
            PruningBacklog backlog = PruningBacklog.append(store, MvMessageStore.PRUNE_MAX_PER_PASS * 2 + 500,
                    MvMessageStoreTest::draft);
            now.addAndGet(TimeUnit.HOURS.toMillis(168) + 1);
            await(store.housekeepingNow());
            backlog.assertSomeLeft(MvMessageStore.PRUNE_MAX_PER_PASS);
            // the writer runs the next passes on its own, 100 ms apart
            backlog.awaitPruned(20);
        }
    }

    @Test
    void readersSeeGaplessCommittedPrefixesWhileTheWriterRuns() throws Exception {
        MvStoreOptions options = MvStoreOptions.defaults(dir).withFsync(false);
        try (MvMessageStore store = MvMessageStore.open(options)) {
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
}
