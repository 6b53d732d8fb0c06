package io.parley.store.mvstore;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Forked by {@link MvWatermarkTest} and killed with SIGKILL after its last line. Arguments: store directory,
 * {@code watermark.flush.millis}, mode. Advances alice/phone's watermark in {@code g:w} and prints:
 * <ul>
 *   <li>{@code unflushed}: {@code FLUSHED 100} once 1..100 are durable by {@code flush()}, then advances to 200,
 *       appends one message to {@code g:w} and prints {@code ADVANCED 200} once that append is acknowledged;</li>
 *   <li>{@code interval}: advances to 300 (one update, so any write of the key writes 300) and prints
 *       {@code DRAINED 300} once the writer has committed it by itself (no flush).</li>
 * </ul>
 */
public final class WatermarkCrashChild {

    private WatermarkCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long flushMillis = Long.parseLong(args[1]);
        MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir).withWatermarkFlushMillis(flushMillis));
        if (args[2].equals("unflushed")) {
            advance(store, 1, 100);
            store.flush().toCompletableFuture().get(30, TimeUnit.SECONDS);
            System.out.println("FLUSHED 100");
            advance(store, 101, 200);
            store.append(MvMessageStoreTest.draft("bob", "after", "g:w"), List.of("bob"))
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
            System.out.println("ADVANCED 200");
        } else {
            store.advanceWatermark("alice", "phone", "g:w", 300);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (store.watermarkWrites() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            if (store.watermarkWrites() > 0) {
                System.out.println("DRAINED 300");
            }
        }
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    private static void advance(MvMessageStore store, long from, long to) {
        for (long seq = from; seq <= to; seq++) {
            store.advanceWatermark("alice", "phone", "g:w", seq);
        }
    }
}
