package io.parley.store.mvstore;

import java.nio.file.Path;

/**
 * Settings of an {@link MvMessageStore}; the plain-Java twin of {@link MvStoreConfig}.
 *
 * @param dir                   directory holding {@value MvMessageStore#FILE_NAME}; created if missing
 * @param maxBatch              most operations (appends, group events, read cursor updates) written by one commit
 * @param maxDelayMicros        how long the writer waits for more operations before committing a non-full
 *                              batch; 0 commits as soon as the writer is free (batches still form under load)
 * @param fsync                 force the file to disk after every commit, before acknowledging; without it an
 *                              acknowledged message survives a process crash but not a power loss
 * @param dedupeWindowHours     idempotency keys are remembered at least this long; 0 keeps them forever
 * @param queueMax              operations waiting for the writer before appends are refused as UNAVAILABLE
 * @param cacheMb               MVStore page cache, in MiB
 * @param compactFillRate       compact the file (at most once a second, between batches) while live data is
 *                              below this percentage of the used chunks; 0 disables compaction
 * @param housekeepingSeconds   how often the writer prunes expired idempotency keys
 * @param watermarkFlushMillis  delivery watermarks are coalesced in memory and written at most this often (one
 *                              write per (user, device, conversation) per interval), and with every {@code flush()}
 *                              and close; after a crash a watermark may be up to this much behind. 0 writes them
 *                              with every batch
 */
public record MvStoreOptions(Path dir, int maxBatch, long maxDelayMicros, boolean fsync, long dedupeWindowHours,
                             int queueMax, int cacheMb, int compactFillRate, int housekeepingSeconds,
                             long watermarkFlushMillis) {

    public MvStoreOptions {
        if (dir == null) {
            throw new IllegalArgumentException("dir is required");
        }
        if (maxBatch < 1 || maxDelayMicros < 0 || dedupeWindowHours < 0 || queueMax < 1 || cacheMb < 1
                || compactFillRate < 0 || compactFillRate > 100 || housekeepingSeconds < 1
                || watermarkFlushMillis < 0) {
            throw new IllegalArgumentException("invalid mvstore options: " + this);
        }
    }

    /** The shipped defaults (see {@code conf/parley.store.mvstore.cfg}) with the given directory. */
    public static MvStoreOptions defaults(Path dir) {
        return new MvStoreOptions(dir, 4096, 0, true, 168, 100_000, 64, 80, 60, 1000);
    }

    public MvStoreOptions withFsync(boolean fsync) {
        return new MvStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax, cacheMb,
                compactFillRate, housekeepingSeconds, watermarkFlushMillis);
    }

    public MvStoreOptions withBatching(int maxBatch, long maxDelayMicros) {
        return new MvStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax, cacheMb,
                compactFillRate, housekeepingSeconds, watermarkFlushMillis);
    }

    public MvStoreOptions withDedupeWindowHours(long hours) {
        return new MvStoreOptions(dir, maxBatch, maxDelayMicros, fsync, hours, queueMax, cacheMb,
                compactFillRate, housekeepingSeconds, watermarkFlushMillis);
    }

    public MvStoreOptions withWatermarkFlushMillis(long millis) {
        return new MvStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax, cacheMb,
                compactFillRate, housekeepingSeconds, millis);
    }

    /**
     * @param dir  the configured directory
     * @param home the value of system property {@code parley.home}, or null
     * @return {@code dir} if absolute, else {@code dir} resolved against {@code home} if set, else against the
     *         working directory; always absolute
     */
    public static Path resolveDir(String dir, String home) {
        Path path = Path.of(dir);
        if (!path.isAbsolute()) {
            path = (home == null || home.isBlank() ? Path.of("") : Path.of(home)).resolve(path);
        }
        return path.toAbsolutePath().normalize();
    }
}
