package io.parley.store.mvstore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static io.parley.store.mvstore.MvMessageStoreTest.await;
import static io.parley.store.mvstore.MvMessageStoreTest.draft;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coalesced watermarks ({@link MvStoreOptions#watermarkFlushMillis()}): one MVMap write per key per interval,
 * visible to reads at once, durable with {@code flush()}, close and the interval, never going back for a reader.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MvWatermarkTest {

    /** Long enough that no drain falls due during a test: only flush() and close() write watermarks. */
    private static final long NEVER_DUE_MILLIS = TimeUnit.HOURS.toMillis(1);

    @TempDir
    Path dir;

    @Test
    void manyAdvancesOfAKeyBetweenFlushesAreOneWriteAndVisibleAtOnce() throws Exception {
        try (MvMessageStore store = MvMessageStore.open(options(NEVER_DUE_MILLIS))) {
            for (long seq = 1; seq <= 500; seq++) {
                store.advanceWatermark("alice", "phone", "g:a", seq);
                store.advanceWatermark("alice", "phone", "d:alice:bob", seq * 2);
                assertEquals(Map.of("g:a", seq, "d:alice:bob", seq * 2), store.watermarks("alice", "phone"));
            }
            store.advanceWatermark("alice", "laptop", "g:a", 7);
            store.advanceWatermark("alice", "phone", "g:a", 3); // lower: no effect
            // an ordinary commit does not write watermarks that are not due
            await(store.append(draft("bob", "k1", "g:a"), List.of("bob")));
            assertEquals(0, store.watermarkWrites());
            assertEquals(Map.of("g:a", 500L, "d:alice:bob", 1000L), store.watermarks("alice", "phone"));
            assertEquals(Map.of("g:a", 7L), store.watermarks("alice", "laptop"));

            await(store.flush());
            assertEquals(3, store.watermarkWrites(), "one write per (user, device, conversation)");
            assertEquals(Map.of("g:a", 500L, "d:alice:bob", 1000L), store.watermarks("alice", "phone"));

            store.advanceWatermark("alice", "phone", "g:a", 10); // below the stored 500: nothing to write
            await(store.flush());
            assertEquals(3, store.watermarkWrites());
            for (long seq = 501; seq <= 600; seq++) {
                store.advanceWatermark("alice", "phone", "g:a", seq);
            }
            await(store.flush());
            assertEquals(4, store.watermarkWrites());
            assertEquals(Map.of("g:a", 600L, "d:alice:bob", 1000L), store.watermarks("alice", "phone"));
        }
    }

    @Test
    void closeWritesPendingWatermarksWithoutAFlush() throws Exception {
        try (MvMessageStore store = MvMessageStore.open(options(NEVER_DUE_MILLIS))) {
            store.advanceWatermark("alice", "phone", "g:a", 5);
            store.advanceWatermark("bob", "phone", "g:a", 9);
        }
        try (MvMessageStore store = MvMessageStore.open(options(NEVER_DUE_MILLIS))) {
            assertEquals(Map.of("g:a", 5L), store.watermarks("alice", "phone"));
            assertEquals(Map.of("g:a", 9L), store.watermarks("bob", "phone"));
            // after close has begun, updates are ignored (the contract allows dropping them)
            store.close();
            store.advanceWatermark("alice", "phone", "g:a", 6);
        }
        try (MvMessageStore store = MvMessageStore.open(options(NEVER_DUE_MILLIS))) {
            assertEquals(Map.of("g:a", 5L), store.watermarks("alice", "phone"));
        }
    }

    @Test
    void anIdleStoreWritesPendingWatermarksWhenTheIntervalHasPassed() throws Exception {
        try (MvMessageStore store = MvMessageStore.open(options(20))) {
            store.advanceWatermark("alice", "phone", "g:a", 5);
            // no flush, no other operation: the writer wakes up for them by itself
            awaitWrites(store, 1);
            assertEquals(Map.of("g:a", 5L), store.watermarks("alice", "phone"));
        }
    }

    /**
     * kill -9 ({@link WatermarkCrashChild}): updates written by a flush survive, updates not yet due are lost (the
     * watermark is at most one interval behind), and updates the interval wrote on an idle store survive.
     */
    @Test
    void afterKillDashNineWatermarksAreAtMostOneIntervalBehind() throws Exception {
        List<String> lines = crashChild("unflushed", NEVER_DUE_MILLIS, "ADVANCED");
        assertEquals(List.of("FLUSHED 100", "ADVANCED 200"), lines);
        try (MvMessageStore store = MvMessageStore.open(options(NEVER_DUE_MILLIS))) {
            // 101..200 were not due within the interval: lost, the device gets those messages again
            assertEquals(Map.of("g:w", 100L), store.watermarks("alice", "phone"));
            // while the append after them, acknowledged, is there
            assertEquals(1, store.head("g:w"));
        }

        lines = crashChild("interval", 50, "DRAINED");
        assertEquals(List.of("DRAINED 300"), lines);
        try (MvMessageStore store = MvMessageStore.open(options(NEVER_DUE_MILLIS))) {
            assertEquals(Map.of("g:w", 300L), store.watermarks("alice", "phone"));
        }
    }

    @Test
    void concurrentAdvancesWhileTheWriterDrainsLoseNothing() throws Exception {
        int threads = 4;
        int keysPerThread = 20_000;
        ConcurrentHashMap<String, Long> expected = new ConcurrentHashMap<>();
        try (MvMessageStore store = MvMessageStore.open(options(1).withFsync(false))) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> tasks = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int thread = t;
                    tasks.add(pool.submit(() -> {
                        Random random = new Random(thread);
                        // every key gets two updates, the higher one first or last; new keys, so that an update
                        // lost to a drain would show (a later, higher one cannot hide it); on until the writer
                        // has published at least one drain meanwhile
                        for (int i = 0; i < keysPerThread || store.watermarkWrites() == 0; i++) {
                            String user = "u" + thread;
                            String device = "d" + i % DEVICES;
                            String conversation = "g:c" + i;
                            long first = 1 + random.nextInt(1000);
                            long second = 1 + random.nextInt(1000);
                            store.advanceWatermark(user, device, conversation, first);
                            store.advanceWatermark(user, device, conversation, second);
                            expected.put(user + "/" + device + "/" + conversation, Math.max(first, second));
                        }
                        return null;
                    }));
                }
                for (Future<?> task : tasks) {
                    task.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
                assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
            }
            assertEquals(expected, allWatermarks(store, threads), "before flush");
            await(store.flush());
            assertEquals(expected, allWatermarks(store, threads), "after flush");
        }
        try (MvMessageStore store = MvMessageStore.open(options(1))) {
            assertEquals(expected, allWatermarks(store, threads), "after restart");
        }
    }

    @Test
    void aReaderNeverSeesAWatermarkGoBackWhileTheWriterDrains() throws Exception {
        // without fsync: many drains in little time (durability is not the point here)
        try (MvMessageStore store = MvMessageStore.open(options(1).withFsync(false))) {
            AtomicLong published = new AtomicLong();
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<Long>> readers = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    readers.add(pool.submit(() -> {
                        long last = 0;
                        long reads = 0;
                        while (running.get()) {
                            long floor = published.get();
                            long seen = store.watermarks("alice", "phone").getOrDefault("g:m", 0L);
                            assertTrue(seen >= floor, "advanced to " + floor + " but read " + seen);
                            assertTrue(seen >= last, "went back from " + last + " to " + seen);
                            last = seen;
                            reads++;
                        }
                        return reads;
                    }));
                }
                Future<?> advancer = pool.submit(() -> {
                    // one update per drain: each drain takes the key out of the pending map (which stays without
                    // it until the next update) while the readers poll
                    for (long seq = 1; seq <= 300; seq++) {
                        store.advanceWatermark("alice", "phone", "g:m", seq);
                        published.set(seq);
                        while (store.watermarkWrites() < seq) {
                            LockSupport.parkNanos(20_000);
                        }
                    }
                    return null;
                });
                advancer.get(60, TimeUnit.SECONDS);
                running.set(false);
                for (Future<Long> reader : readers) {
                    assertTrue(reader.get(30, TimeUnit.SECONDS) > 0);
                }
            } finally {
                running.set(false);
                pool.shutdownNow();
                assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
            }
            await(store.flush());
            assertEquals(Map.of("g:m", published.get()), store.watermarks("alice", "phone"));
        }
    }

    private MvStoreOptions options(long flushMillis) {
        return MvStoreOptions.defaults(dir).withWatermarkFlushMillis(flushMillis);
    }

    private static final int DEVICES = 10;

    /** user/device/conversation → watermark, for the users and devices of the concurrency test. */
    private static Map<String, Long> allWatermarks(MvMessageStore store, int users) {
        Map<String, Long> all = new HashMap<>();
        for (int u = 0; u < users; u++) {
            for (int d = 0; d < DEVICES; d++) {
                String prefix = "u" + u + "/d" + d + "/";
                store.watermarks("u" + u, "d" + d).forEach((conversation, seq) -> all.put(prefix + conversation, seq));
            }
        }
        return all;
    }

    private static void awaitWrites(MvMessageStore store, long writes) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (store.watermarkWrites() < writes) {
            assertTrue(System.nanoTime() < deadline, "watermarks not written within 30 s");
            Thread.sleep(5);
        }
    }

    /** Runs the child until it prints {@code lastLine}, kills it with SIGKILL, returns what it printed. */
    private List<String> crashChild(String mode, long flushMillis, String lastLine) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                WatermarkCrashChild.class.getName(), dir.toString(), Long.toString(flushMillis), mode)
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("child-" + mode + ".err").toFile()))
                .start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                if (line.startsWith(lastLine)) {
                    break;
                }
            }
            assertTrue(child.isAlive(), "child exited early: " + lines + "; see child-" + mode + ".err");
            child.destroyForcibly(); // SIGKILL on Unix
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        } finally {
            child.destroyForcibly();
        }
        assertEquals(137, child.exitValue(), "expected death by SIGKILL");
        return lines;
    }
}
