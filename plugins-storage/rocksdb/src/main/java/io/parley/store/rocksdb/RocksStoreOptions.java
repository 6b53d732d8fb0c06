package io.parley.store.rocksdb;

import java.nio.file.Path;

/**
 * Settings of a {@link RocksMessageStore}; the plain-Java twin of {@link RocksStoreConfig}.
 *
 * @param dir                  the RocksDB directory; created if missing
 * @param maxBatch             most operations (appends, group events, replacements, read cursor updates) written by
 *                             one {@code WriteBatch}, i.e. one WAL record and, with {@code fsync}, one WAL sync
 * @param maxDelayMicros       how long the writer waits for more operations before writing a batch that is not full;
 *                             0 (the default, not configurable) writes as soon as the writer is free (batches still
 *                             form under load). For tests and measurements
 * @param fsync                sync the WAL after every batch, before acknowledging it; without it an acknowledged
 *                             message survives a process crash (the WAL is written to the OS) but not a power loss
 * @param dedupeWindowHours    idempotency keys are remembered at least this long; 0 keeps them forever
 * @param queueMax             operations waiting for the writer before appends are refused as UNAVAILABLE
 * @param watermarkFlushMillis delivery watermarks are coalesced in memory and written at most this often (one put
 *                             per (user, device, conversation) per interval), and with every {@code flush()} and
 *                             close; after a crash a watermark may be up to this much behind. 0 writes them with
 *                             every batch
 */
public record RocksStoreOptions(Path dir, int maxBatch, long maxDelayMicros, boolean fsync, long dedupeWindowHours,
                                int queueMax, long watermarkFlushMillis) {

    public RocksStoreOptions {
        if (dir == null) {
            throw new IllegalArgumentException("dir is required");
        }
        if (maxBatch < 1 || maxDelayMicros < 0 || dedupeWindowHours < 0 || queueMax < 1 || watermarkFlushMillis < 0) {
            throw new IllegalArgumentException("invalid rocksdb store options: " + this);
        }
    }

    /** The shipped defaults (see {@code conf/parley.store.rocksdb.cfg}) with the given directory. */
    public static RocksStoreOptions defaults(Path dir) {
        return new RocksStoreOptions(dir, 4096, 0, true, 168, 100_000, 1000);
    }

    public RocksStoreOptions withFsync(boolean fsync) {
        return new RocksStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax,
                watermarkFlushMillis);
    }

    public RocksStoreOptions withMaxBatch(int maxBatch) {
        return withBatching(maxBatch, maxDelayMicros);
    }

    public RocksStoreOptions withBatching(int maxBatch, long maxDelayMicros) {
        return new RocksStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax,
                watermarkFlushMillis);
    }

    public RocksStoreOptions withDedupeWindowHours(long hours) {
        return new RocksStoreOptions(dir, maxBatch, maxDelayMicros, fsync, hours, queueMax, watermarkFlushMillis);
    }

    public RocksStoreOptions withQueueMax(int queueMax) {
        return new RocksStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax,
                watermarkFlushMillis);
    }

    public RocksStoreOptions withWatermarkFlushMillis(long millis) {
        return new RocksStoreOptions(dir, maxBatch, maxDelayMicros, fsync, dedupeWindowHours, queueMax, millis);
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
