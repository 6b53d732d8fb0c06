package io.parley.store.rocksdb;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.CompressionType;
import org.rocksdb.IndexType;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WALRecoveryMode;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;
import java.util.function.LongSupplier;

/**
 * A persistent {@link MessageStore} on RocksDB (RocksJava from the system/ bundle io.parley.rocksdbjni): one
 * database in {@code dir}, written by a single group-commit writer thread, whose cost per message is one sequential
 * append to the write-ahead log.
 *
 * <p><b>Writes.</b> {@link #append}, {@link #appendGroupEvent}, {@link #replace} and {@link #advanceReadCursor} only
 * enqueue (they never block; a full queue refuses the append as retryable UNAVAILABLE). The writer thread
 * {@value #WRITER_THREAD} takes up to {@code maxBatch} queued operations, applies them in queue order — assigning
 * seqs, checking idempotency keys — into <b>one</b> {@link WriteBatch}, writes it with {@code sync = fsync}: one WAL
 * record and, with fsync, one WAL sync per batch, not per message. Only then does it complete the batch's stages, in
 * queue order (so the stages of one conversation complete in seq order). Seqs are allocated in memory on the writer:
 * a conversation's head is loaded lazily from the database (its last {@code m} key, one {@code seekForPrev}) and then
 * kept in an LRU map of {@value #HEAD_CACHE_MAX} conversations; the heads a batch raises enter that map only once
 * the batch is written, so a failed batch leaves no trace in it. Earlier operations of the same batch are seen
 * through the batch's own overlay (a duplicate sent twice back to back, a group event followed by a replacement).
 *
 * <p><b>Durability.</b> RocksDB writes a batch's WAL record (and syncs it, with {@code fsync}) before it inserts the
 * batch into the memtable and publishes its sequence number, so readers never see a message a crash could take back,
 * and an acknowledged message is durable: with {@code fsync = true} against power loss and OS crashes, with
 * {@code false} against a process crash ({@code kill -9}: the record is in the OS's page cache). A batch is one WAL
 * record, so messages, seqs, idempotency keys, conversation lists, group records and read cursors of a batch are
 * recovered together or not at all: a group event's message, record and list changes become durable and visible
 * together, and a crash loses whole batches of unacknowledged work, never part of one.
 *
 * <p><b>Torn tails.</b> The WAL is checksummed (CRC32C per record fragment, records split into 32 KiB blocks). The
 * database is opened with {@link WALRecoveryMode#PointInTimeRecovery}: replay stops at the first record that is cut
 * short or whose checksum fails, and everything from there on is cut, so the store opens at the last complete batch
 * and never applies a later batch after a hole (which would skip seqs). Since with fsync a batch is acknowledged only
 * after its record is synced, a torn tail only ever holds unacknowledged batches. Chosen over
 * {@code TolerateCorruptedTailRecords}, which refuses to open when the damage is not at the very end of the last log
 * (e.g. a torn record followed by stale bytes of a reused block) and so turns a power loss into manual repair; over
 * {@code AbsoluteConsistency}, which refuses any damaged tail; and over {@code SkipAnyCorruptedRecords}, which could
 * apply a batch after a lost one. The price: damage in the middle of a log (bit rot, not a torn write) also cuts
 * everything after it.
 *
 * <p><b>Watermarks</b> are coalesced in memory, as in the mvstore: {@link #advanceWatermark} merges the seq into a
 * pending map (user, device → conversation → highest seq) and the writer puts that map into the next batch at most
 * once per {@link RocksStoreOptions#watermarkFlushMillis()} (0: with every batch), one put per key however many acks
 * raised it; a batch of its own when nothing else is queued. Every batch that holds a {@link #flush} barrier, a
 * housekeeping request or the stop of {@link #close} writes them too. After a crash a watermark may be up to the
 * interval (plus one batch) behind. {@link #watermarks} adds the pending updates, so an update is visible at once.
 * Read cursors are queued like appends and durable with their batch.
 *
 * <p><b>Reads</b> ({@code range}, {@code head}, lists, cursors) run on the caller's thread against the database
 * (RocksDB reads are thread-safe and never wait for the writer); they see only written batches. A range is one
 * iterator over adjacent keys.
 *
 * <p><b>Layout</b>: see {@link Keys} — {@code m} conversation,seq → message (a conversation's messages are one
 * contiguous ordered range; the head is its last key), {@code d} sender,clientMsgId → message key, {@code E}
 * millis,n → the {@code d} keys one batch wrote (pruning by age: one entry per batch, not one per message; a
 * database written before keeps its per-key {@code e} entries until they expire), {@code l} user,conversation
 * (lists), {@code w} user,device,conversation →
 * seq, {@code r} user,conversation → seq, {@code g} group → record, {@code #} metadata. One column family; messages
 * are stored as the serialized {@link Message} (with its seq), never deleted, so a seq is never reused.
 * Tuning: LZ4-compressed 16 KiB blocks, a {@value #BLOCK_CACHE_MB} MiB block cache that also holds the (partitioned)
 * index and filter blocks, 10-bit bloom filters (the idempotency-key lookup of every send is usually a miss: ~2 us),
 * 64 MiB memtables with a whole-key bloom filter each (so that miss does not search the memtable either), two
 * background jobs.
 *
 * <p><b>Write failures</b> (a full disk, an I/O error, a failed sync). A failed write fails its whole batch as
 * retryable UNAVAILABLE: nothing of it becomes visible; only if the sync itself failed may the whole batch (never a
 * part) be found after recovery. The store then enters the <i>failed state</i>: {@link #writeFailure()} says why,
 * appends, group events, replacements, {@link #flush} and {@link #housekeepingNow} are refused at once; watermark
 * updates stay pending and read cursor updates are kept, both written after recovery. The writer closes the database
 * and opens it again (read-write if it can, else read-only), which replays the WAL up to its last complete record,
 * so reads go on. It retries on its own after 1 s, backing off to every {@value #RETRY_MAX_SECONDS} s (reopen
 * read-write, write and sync a small probe); once that works, writes are accepted again with heads re-read from the
 * database, so no seq is reused or skipped. One WARN line on entering the failed state, one INFO line on recovery.
 *
 * <p><b>Threading.</b> Only the writer thread writes, opens and reopens; readers use the current database under a
 * read lock the writer takes exclusively only to close it, so no read ever touches a closed native handle (a read
 * caught by a reopen is repeated on the reopened database). Lifecycle: {@link #open} starts the writer;
 * {@link #close} lets it finish everything queued so far (nothing accepted is dropped), writes the pending watermarks,
 * and closes every RocksDB handle. Methods called after close fail with retryable UNAVAILABLE.
 */
public final class RocksMessageStore implements MessageStore, AutoCloseable {

    /** Name of the writer thread. */
    public static final String WRITER_THREAD = "parley-rocksdb-writer";

    private static final Logger LOG = LoggerFactory.getLogger(RocksMessageStore.class);
    private static final byte[] FORMAT = "1".getBytes(StandardCharsets.UTF_8);
    private static final byte[] FORMAT_KEY = Keys.meta("format");
    /** Key the writer rewrites to find out whether writes work again. */
    private static final byte[] PROBE_KEY = Keys.meta("write.probe");
    static final int BLOCK_CACHE_MB = 32;
    /** Conversations whose head the writer keeps in memory (least recently used dropped first). */
    static final int HEAD_CACHE_MAX = 1 << 18;
    /** (user, conversation) pairs known to be listed, so that an append lists its members without a lookup. */
    static final int LISTED_CACHE_MAX = 1 << 18;
    /** A batch overlay's answer for a key the batch has not written (compared by identity; never stored). */
    private static final byte[] NOT_IN_BATCH = new byte[0];
    /** Idempotency keys a housekeeping pass examines at most (one synced batch of deletions, on the writer). */
    static final int PRUNE_MAX_PER_PASS = 5_000;
    private static final long HOUSEKEEPING_NANOS = TimeUnit.SECONDS.toNanos(60);
    /** How soon the next pass follows one that stopped at {@link #PRUNE_MAX_PER_PASS}: 50,000 keys a second. */
    private static final long HOUSEKEEPING_BACKLOG_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** Idempotency keys one {@link Keys#dedupeExpiryBatch} entry lists at most. */
    static final int EXPIRY_PAIRS_PER_ENTRY = 1024;
    private static final long IDLE_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** While writes fail: first retry after this long, then twice as long each time, up to the maximum. */
    static final long RETRY_MIN_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final int RETRY_MAX_SECONDS = 5;
    static final long RETRY_MAX_NANOS = TimeUnit.SECONDS.toNanos(RETRY_MAX_SECONDS);
    /** How long a read waits for the writer to reopen the database after a write failure closed it under the read. */
    private static final long READ_REOPEN_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);

    static {
        // loads librocksdbjni-<arch>.so through org.rocksdb's class loader, once per loader: in the server the
        // system/ bundle io.parley.rocksdbjni's, so a replaced store bundle finds it loaded (bundles/rocksdbjni)
        RocksDB.loadLibrary();
    }

    private final RocksStoreOptions options;
    /** Wall clock (epoch millis) that dates idempotency keys for pruning. */
    private final LongSupplier clock;
    private final Path dir;
    // native settings, shared by every open of the database and closed last
    private final LRUCache blockCache;
    private final BloomFilter bloomFilter;
    private final Options dbOptions;
    private final WriteOptions writeOptions;
    private final WriteOptions syncWriteOptions;

    /** The open database readers and the writer use; replaced only by the writer; null while none could be opened. */
    private volatile Db db;

    private final BlockingQueue<Op> queue;
    private final Thread writer;
    /** Set first by {@link #close}: no new operations are accepted. */
    private volatile boolean closed;
    /** Set once the writer has exited: an operation still queued will never be taken by it. */
    private volatile boolean stopped;
    /** Why writes fail (see the class comment), null while they work. Written by the writer only. */
    private volatile String writeFailure;
    /** Set by the writer while it could not open the database at all after a write failure: reads fail too. */
    private volatile boolean readsDown;

    // Coalesced watermarks (as in the mvstore). advanceWatermark merges into pendingWatermarks holding
    // watermarkLock's read lock; the writer swaps the map out holding its write lock, so once the swap returns no
    // merge into the swapped-out map is in progress or can start, and writing it loses nothing.
    private final StampedLock watermarkLock = new StampedLock();
    /** Updates not yet taken by the writer; replaced (never cleared) by the writer. */
    private volatile ConcurrentHashMap<Device, ConcurrentHashMap<String, Long>> pendingWatermarks =
            new ConcurrentHashMap<>();
    /**
     * Updates the writer has taken but not yet written, else null. Set before {@link #pendingWatermarks} is replaced
     * and cleared only after the batch holding them is written; kept (and the next updates folded in) when their
     * write fails.
     */
    private volatile ConcurrentHashMap<Device, ConcurrentHashMap<String, Long>> drainingWatermarks;
    /** Set by the update that queues a {@link Wake}; cleared by the writer before it takes the pending updates. */
    private final AtomicBoolean watermarkWakeQueued = new AtomicBoolean();
    private final long watermarkFlushNanos;
    /** Watermark puts written so far; for tests. Written by the writer only. */
    private volatile long watermarkWrites;
    /** Batches written so far (one WAL record each); for the benchmark. Written by the writer only. */
    private volatile long batchesWritten;
    /**
     * Heads the writer wrote, or that a read found, by conversation: each value is at most the conversation's durable
     * head (heads only grow), so {@link #holdsSeq} answers "yes" from it without a database read — one iterator seek
     * saved per delivery ack and read mark. Written by the writer and by readers (merged with max), read by any
     * thread; cleared when it passes {@value #HEAD_CACHE_MAX} entries.
     */
    private final ConcurrentHashMap<String, Long> knownHeads = new ConcurrentHashMap<>();
    /** Heads read from the database by {@link #head}; for the tests. */
    private final LongAdder headReads = new LongAdder();

    // writer thread only
    private final WriteBatch writeBatch = new WriteBatch();
    private final LinkedHashMap<String, Long> heads = lru(HEAD_CACHE_MAX);
    private final LinkedHashMap<BytesKey, Boolean> listed = lru(LISTED_CACHE_MAX);
    private long nextHousekeeping = System.nanoTime() + HOUSEKEEPING_NANOS;
    private long lastWatermarkDrain = System.nanoTime();
    private long failedSince;
    private long retryAt;
    private long retryDelayNanos;
    /** Read cursor updates ({@link Keys#readCursor} key → seq) whose write failed; written with the next batch. */
    private final TreeMap<byte[], Long> retryCursors = new TreeMap<>(Arrays::compare);

    private RocksMessageStore(RocksStoreOptions options, LongSupplier clock) {
        this.options = options;
        this.clock = clock;
        this.dir = options.dir();
        this.blockCache = new LRUCache((long) BLOCK_CACHE_MB << 20);
        this.bloomFilter = new BloomFilter(10);
        // Index and filter blocks live in the block cache (memory bounded by it, however large the database), at
        // high priority, partitioned (a lookup loads one 4 KiB filter partition, not a table's whole filter) under a
        // pinned top level. Caching whole unpartitioned filters in a small cache made them evict each other:
        // lookups in a database of a million messages took ~400 us instead of ~2 us.
        BlockBasedTableConfig table = new BlockBasedTableConfig()
                .setBlockCache(blockCache)
                .setFilterPolicy(bloomFilter)
                .setBlockSize(16 * 1024)
                .setCacheIndexAndFilterBlocks(true)
                .setCacheIndexAndFilterBlocksWithHighPriority(true)
                .setPinL0FilterAndIndexBlocksInCache(true)
                .setPartitionFilters(true)
                .setIndexType(IndexType.kTwoLevelIndexSearch)
                .setPinTopLevelIndexAndFilter(true)
                .setMetadataBlockSize(4096);
        this.dbOptions = new Options()
                .setCreateIfMissing(true)
                .setWalRecoveryMode(WALRecoveryMode.PointInTimeRecovery)
                .setCompressionType(CompressionType.LZ4_COMPRESSION)
                .setWriteBufferSize(64L << 20)
                // a whole-key bloom filter per memtable (3.2 MiB each): the idempotency-key lookups of every send
                // (the engine's before the processor, the writer's in the batch) are misses, which otherwise search
                // the memtable's skip list: 9 % of the server's CPU samples at 20,000 msg/s (perf, session 12)
                .setMemtablePrefixBloomSizeRatio(0.05)
                .setMemtableWholeKeyFiltering(true)
                .setMaxWriteBufferNumber(2)
                .setMaxBackgroundJobs(2)
                .setBytesPerSync(1L << 20)
                .setKeepLogFileNum(3)
                .setMaxLogFileSize(4L << 20)
                .setInfoLogLevel(InfoLogLevel.WARN_LEVEL)
                .setStatsDumpPeriodSec(0)
                .setTableFormatConfig(table);
        this.writeOptions = new WriteOptions().setSync(options.fsync());
        this.syncWriteOptions = new WriteOptions().setSync(true);
        this.watermarkFlushNanos = TimeUnit.MILLISECONDS.toNanos(options.watermarkFlushMillis());
        this.queue = new LinkedBlockingQueue<>(options.queueMax());
        this.writer = new Thread(this::runWriter, WRITER_THREAD);
        this.writer.setDaemon(true);
    }

    /**
     * Opens (creating it if needed) the database in {@code options.dir()}, after RocksDB has replayed its WAL up to the
     * last complete batch, and starts the writer thread.
     *
     * @throws UncheckedIOException if the directory cannot be created or the database cannot be opened (e.g. another
     *                              process has it open)
     */
    public static RocksMessageStore open(RocksStoreOptions options) {
        return open(options, System::currentTimeMillis);
    }

    /** {@link #open(RocksStoreOptions)} with another wall clock, for tests of the dedupe window. */
    static RocksMessageStore open(RocksStoreOptions options, LongSupplier clock) {
        try {
            Files.createDirectories(options.dir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create store directory " + options.dir(), e);
        }
        RocksMessageStore store = new RocksMessageStore(options, clock);
        try {
            store.db = store.openDb(false);
        } catch (RocksDBException | RuntimeException e) {
            store.closeNatives();
            throw e instanceof RuntimeException r ? r
                    : new UncheckedIOException("cannot open " + options.dir() + ": " + e.getMessage(),
                            new IOException(e));
        }
        store.writer.start();
        LOG.info("Message store opened: RocksDB {} (fsync={}, max batch {}, watermarks written every {} ms)",
                options.dir(), options.fsync(), options.maxBatch(), options.watermarkFlushMillis());
        return store;
    }

    /** The database directory. */
    public Path dir() {
        return dir;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Set by the writer when a batch's write (or its sync) fails, e.g. {@code disk full: No space left on device
     * (<dir>)}, and cleared when a retry has written again; see the class comment. One volatile read.
     */
    @Override
    public Optional<String> writeFailure() {
        return Optional.ofNullable(writeFailure);
    }

    // ------------------------------------------------------------------------------------------------ writes

    @Override
    public CompletionStage<Appended> append(Message draft, Collection<String> members) {
        List<String> memberList;
        try {
            Keys.checkPart("conversation", draft.getConversation());
            Keys.checkPart("sender", draft.getSender());
            memberList = checkUsers(members);
        } catch (IllegalArgumentException | NullPointerException e) {
            return CompletableFuture.failedFuture(
                    new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "bad append: " + e.getMessage()));
        }
        AppendOp op = new AppendOp(draft, memberList, null, new CompletableFuture<>());
        enqueue(op, op.result);
        return op.result;
    }

    /** {@inheritDoc} Enqueued and written like {@link #append}. */
    @Override
    public CompletionStage<Optional<Message>> replace(String conversation, long seq, String type, Any body,
                                                      Map<String, String> ext) {
        try {
            Keys.checkPart("conversation", conversation);
        } catch (IllegalArgumentException | NullPointerException e) {
            return CompletableFuture.failedFuture(
                    new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "bad replace: " + e.getMessage()));
        }
        ReplaceOp op = new ReplaceOp(conversation, seq, type, body, Map.copyOf(ext), new CompletableFuture<>());
        enqueue(op, op.result);
        return op.result;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Enqueued like {@link #append}; the record is copied before this returns. A user in both {@code joined}
     * and {@code left} ends up not listed.
     */
    @Override
    public CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                      Collection<String> joined, Collection<String> left) {
        GroupChange group;
        try {
            Keys.checkPart("group", groupId);
            Keys.checkPart("sender", event.getSender());
            if (!event.getConversation().equals("g:" + groupId)) {
                throw new IllegalArgumentException("the event's conversation must be g:" + groupId);
            }
            group = new GroupChange(Keys.group(groupId), record.clone(), checkUsers(joined), checkUsers(left));
        } catch (IllegalArgumentException | NullPointerException e) {
            return CompletableFuture.failedFuture(
                    new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "bad group event: " + e.getMessage()));
        }
        AppendOp op = new AppendOp(event, List.of(), group, new CompletableFuture<>());
        enqueue(op, op.result);
        return op.result;
    }

    private static List<String> checkUsers(Collection<String> users) {
        List<String> list = List.copyOf(users);
        for (String user : list) {
            Keys.checkPart("user", user);
        }
        return list;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Merges {@code seq} into the pending watermarks, visible to {@link #watermarks} when this returns; the
     * writer makes it durable within {@link RocksStoreOptions#watermarkFlushMillis()} (see the class comment). Waits
     * only while the writer swaps the pending map out (two field writes). Ignored once {@link #close} has begun.
     */
    @Override
    public void advanceWatermark(String userId, String deviceId, String conversation, long seq) {
        Keys.checkPart("user", userId);
        Keys.checkPart("device", deviceId);
        Keys.checkPart("conversation", conversation);
        if (seq <= 0) {
            return;
        }
        Device device = new Device(userId, deviceId);
        long stamp = watermarkLock.readLock();
        try {
            // checked under the lock: close() sets it under the write lock, so the stop batch sees every update
            // that got past this check
            if (closed) {
                return;
            }
            pendingWatermarks.computeIfAbsent(device, d -> new ConcurrentHashMap<>())
                    .merge(conversation, seq, Math::max);
        } finally {
            watermarkLock.unlockRead(stamp);
        }
        // wake an idle writer once per swap; if the queue is full the writer is busy and drains when due anyway
        if (!watermarkWakeQueued.get() && watermarkWakeQueued.compareAndSet(false, true)) {
            queue.offer(Wake.WAKE);
        }
    }

    /** Applied by the writer and durable with its batch. */
    @Override
    public void advanceReadCursor(String userId, String conversation, long seq) {
        Keys.checkPart("user", userId);
        Keys.checkPart("conversation", conversation);
        if (seq <= 0 || closed) {
            return;
        }
        if (!queue.offer(new ReadCursorOp(Keys.readCursor(userId, conversation), seq))) {
            // as for watermarks: the conversation only shows as unread a little longer
            LOG.debug("Write queue full, read cursor update dropped");
        }
    }

    /**
     * A barrier: completes once every operation enqueued before this call (appends, group events, watermark and
     * read cursor updates) is durable and visible to reads.
     */
    public CompletionStage<Void> flush() {
        BarrierOp op = new BarrierOp(new CompletableFuture<>());
        enqueue(op, op.done);
        return op.done;
    }

    /** Runs a housekeeping pass (pruning expired idempotency keys) on the writer now; completes when it is durable. */
    CompletionStage<Void> housekeepingNow() {
        HousekeepingOp op = new HousekeepingOp(new CompletableFuture<>());
        enqueue(op, op.done);
        return op.done;
    }

    /** How many batches (WAL records) the writer has written; for the benchmark. */
    long batchesWritten() {
        return batchesWritten;
    }

    /** How many watermark puts the writer has written so far (one per key per drain). */
    long watermarkWrites() {
        return watermarkWrites;
    }

    private void enqueue(Op op, CompletableFuture<?> result) {
        String failure;
        if (closed) {
            result.completeExceptionally(unavailable("message store is closed"));
        } else if ((failure = writeFailure) != null) {
            // refused at once rather than queued until the writer can fail it
            result.completeExceptionally(unavailable(cannotWrite(failure)));
        } else if (!queue.offer(op)) {
            result.completeExceptionally(unavailable("message store is overloaded"));
        } else if (stopped && queue.remove(op)) {
            // raced close(): the writer has exited and close() drained the queue before this offer
            result.completeExceptionally(unavailable("message store is closed"));
        }
    }

    /**
     * Stops accepting operations, lets the writer finish everything already queued (and write the pending
     * watermarks), then closes the database and every native handle. Idempotent; blocks until the writer has exited.
     */
    @Override
    public synchronized void close() {
        if (stopped) {
            return;
        }
        long stamp = watermarkLock.writeLock();
        try {
            closed = true; // under the write lock: no watermark merge is in progress or can start after this
        } finally {
            watermarkLock.unlockWrite(stamp);
        }
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(Stop.STOP);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        while (writer.isAlive()) {
            try {
                writer.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        stopped = true;
        Op late;
        while ((late = queue.poll()) != null) {
            fail(late, unavailable("message store is closed"));
        }
        if (watermarksPending() || !retryCursors.isEmpty()) {
            // only if the stop batch's write failed or writes were failing (logged there)
            LOG.warn("Closing {} with watermark or read cursor updates that could not be written; those devices "
                    + "get some messages again", dir);
        }
        Db last = db; // the writer has exited: join() orders its writes before this read
        if (last != null) {
            if (!options.fsync() && !last.readOnly) {
                try {
                    last.rocks.flushWal(true); // what a process crash would keep, made to survive a power loss too
                } catch (RocksDBException e) {
                    LOG.warn("Syncing the WAL of {} on close failed", dir, e);
                }
            }
            last.close(writeFailure != null);
        }
        closeNatives();
        LOG.info("Message store closed: RocksDB {}", dir);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeNatives() {
        writeBatch.close();
        writeOptions.close();
        syncWriteOptions.close();
        dbOptions.close();
        bloomFilter.close();
        blockCache.close();
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public Optional<Message> findByClientId(String sender, String clientMsgId) {
        byte[] key = Keys.dedupe(Keys.checkPart("sender", sender), clientMsgId);
        return read(rocks -> {
            byte[] messageKey = rocks.get(key);
            byte[] bytes = messageKey == null ? null : rocks.get(messageKey);
            return bytes == null ? Optional.<Message>empty() : Optional.of(parse(bytes));
        });
    }

    @Override
    public List<Message> range(String conversation, long fromSeq, long toSeq, int limit) {
        Keys.checkPart("conversation", conversation);
        long from = Math.max(fromSeq, 1);
        if (limit <= 0 || toSeq < from) {
            return List.of();
        }
        byte[] fromKey = Keys.message(conversation, from);
        byte[] toKey = Keys.message(conversation, toSeq);
        return read(rocks -> {
            List<Message> result = new ArrayList<>(Math.min(limit, 256));
            try (RocksIterator it = rocks.newIterator()) {
                for (it.seek(fromKey); it.isValid() && result.size() < limit; it.next()) {
                    byte[] key = it.key();
                    if (Arrays.compareUnsigned(key, toKey) > 0) {
                        break;
                    }
                    result.add(parse(it.value()));
                }
                it.status();
            }
            return result;
        });
    }

    @Override
    public long head(String conversation) {
        Keys.checkPart("conversation", conversation);
        headReads.increment();
        long head = read(rocks -> {
            try (RocksIterator it = rocks.newIterator()) {
                return headIn(it, conversation);
            }
        });
        knowHead(conversation, head);
        return head;
    }

    @Override
    public boolean holdsSeq(String conversation, long seq) {
        return knownToHold(conversation, seq) || head(conversation) >= seq;
    }

    /** Answers from the heads the writer wrote or a read found; no database read. Any thread. */
    @Override
    public boolean knownToHold(String conversation, long seq) {
        Long known = knownHeads.get(conversation);
        return known != null && known >= seq;
    }

    /** Records a head that is durable now (a lower bound from then on). Any thread. */
    private void knowHead(String conversation, long head) {
        if (knownHeads.size() >= HEAD_CACHE_MAX) {
            knownHeads.clear();
        }
        knownHeads.merge(conversation, head, Math::max);
    }

    /** @return how many heads {@link #head} read from the database so far */
    long headReads() {
        return headReads.sum();
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        byte[] prefix = Keys.prefix(Keys.LISTED, Keys.checkPart("user", userId));
        return read(rocks -> {
            List<ConversationHead> result = new ArrayList<>();
            try (RocksIterator lists = rocks.newIterator(); RocksIterator messages = rocks.newIterator()) {
                for (lists.seek(prefix); lists.isValid(); lists.next()) {
                    byte[] key = lists.key();
                    if (!Keys.startsWith(key, prefix)) {
                        break;
                    }
                    String conversation = Keys.lastPart(key, prefix.length);
                    result.add(new ConversationHead(conversation, headIn(messages, conversation)));
                }
                lists.status();
            }
            return result;
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>The written watermarks raised by the pending updates: every {@link #advanceWatermark} that returned before
     * this call is included, and a watermark once seen never goes back: this reads {@link #pendingWatermarks}, then
     * {@link #drainingWatermarks}, then the database, while the writer moves updates the opposite way (draining
     * before pending when it takes them; the database before clearing draining once written).
     */
    @Override
    public Map<String, Long> watermarks(String userId, String deviceId) {
        byte[] prefix = Keys.prefix(Keys.WATERMARK, Keys.checkPart("user", userId), Keys.checkPart("device", deviceId));
        Device device = new Device(userId, deviceId);
        // order matters, see above: pending, then draining, then (inside read) the database
        Map<String, Long> pending = pendingWatermarks.get(device);
        Map<Device, ConcurrentHashMap<String, Long>> drainingMap = drainingWatermarks;
        Map<String, Long> draining = drainingMap == null ? null : drainingMap.get(device);
        return read(rocks -> {
            Map<String, Long> result = seqsByLastPart(rocks, prefix);
            if (draining != null) {
                draining.forEach((conversation, seq) -> result.merge(conversation, seq, Math::max));
            }
            if (pending != null) {
                pending.forEach((conversation, seq) -> result.merge(conversation, seq, Math::max));
            }
            return result;
        });
    }

    @Override
    public Optional<byte[]> groupRecord(String groupId) {
        byte[] key = Keys.group(Keys.checkPart("group", groupId));
        // rocks.get returns a fresh array: the caller may keep or change it
        return read(rocks -> Optional.ofNullable(rocks.get(key)));
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        byte[] prefix = Keys.prefix(Keys.READ_CURSOR, Keys.checkPart("user", userId));
        return read(rocks -> seqsByLastPart(rocks, prefix));
    }

    /** One multi-get of the users' keys, instead of the default's scan of each user's cursors. */
    @Override
    public Map<String, Long> readCursorsIn(String conversation, Collection<String> userIds) {
        Keys.checkPart("conversation", conversation);
        List<String> users = List.copyOf(userIds);
        if (users.isEmpty()) {
            return new HashMap<>();
        }
        List<byte[]> keys = new ArrayList<>(users.size());
        for (String user : users) {
            keys.add(Keys.readCursor(Keys.checkPart("user", user), conversation));
        }
        return read(rocks -> {
            List<byte[]> values = rocks.multiGetAsList(keys);
            Map<String, Long> result = new HashMap<>();
            for (int i = 0; i < users.size(); i++) {
                if (values.get(i) != null) {
                    result.put(users.get(i), Keys.longOf(values.get(i)));
                }
            }
            return result;
        });
    }

    /** @return last key part → seq for every key that starts with {@code prefix} */
    private static Map<String, Long> seqsByLastPart(RocksDB rocks, byte[] prefix) throws RocksDBException {
        Map<String, Long> result = new HashMap<>();
        try (RocksIterator it = rocks.newIterator()) {
            for (it.seek(prefix); it.isValid(); it.next()) {
                byte[] key = it.key();
                if (!Keys.startsWith(key, prefix)) {
                    break;
                }
                result.put(Keys.lastPart(key, prefix.length), Keys.longOf(it.value()));
            }
            it.status();
        }
        return result;
    }

    /** @return the highest seq of the conversation (its last {@code m} key), 0 if none; moves {@code it} */
    private static long headIn(RocksIterator it, String conversation) throws RocksDBException {
        byte[] beyond = Keys.message(conversation, Long.MAX_VALUE);
        it.seekForPrev(beyond);
        if (!it.isValid()) {
            it.status();
            return 0;
        }
        byte[] last = it.key();
        if (last.length != beyond.length
                || !Arrays.equals(last, 0, last.length - Long.BYTES, beyond, 0, beyond.length - Long.BYTES)) {
            return 0;
        }
        return Keys.seqOf(last);
    }

    /** A read against the database; may throw {@link RocksDBException}. */
    @FunctionalInterface
    private interface Reader<T> {
        T read(RocksDB rocks) throws RocksDBException;
    }

    /**
     * Runs {@code reader} on the current database under its read lock. If the writer closed that database under the
     * read (a reopen after a write failure), runs it on the reopened one, waiting up to
     * {@link #READ_REOPEN_WAIT_NANOS} for it.
     */
    private <T> T read(Reader<T> reader) {
        long waitingSince = 0;
        boolean waiting = false;
        while (true) {
            if (closed && stopped) {
                throw unavailable("message store is closed");
            }
            Db current = db;
            long stamp = current == null ? 0 : current.enter();
            if (stamp != 0) {
                try {
                    return reader.read(current.rocks);
                } catch (RocksDBException e) {
                    throw unavailable("message store read failed: " + e.getMessage());
                } finally {
                    current.exit(stamp);
                }
            }
            // closed under us (the writer is reopening it), or none could be opened
            long now = System.nanoTime();
            if (!waiting) {
                waiting = true;
                waitingSince = now;
            }
            if (readsDown || closed || now - waitingSince > READ_REOPEN_WAIT_NANOS) {
                String failure = writeFailure;
                throw unavailable(failure == null ? "message store database is closed"
                        : "message store cannot read its database after a write failure: " + failure);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    private static Message parse(byte[] bytes) {
        try {
            return Message.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt message record", e);
        }
    }

    // ------------------------------------------------------------------------------------------------ writer thread

    private void runWriter() {
        List<Op> batch = new ArrayList<>(Math.min(options.maxBatch(), 8192));
        boolean stop = false;
        while (!stop) {
            try {
                if (writeFailure != null) {
                    stop = whileFailing(batch);
                    continue;
                }
                Op first = queue.poll(pollNanos(System.nanoTime()), TimeUnit.NANOSECONDS);
                boolean work = false;
                boolean forceWatermarks = false;
                if (first != null) {
                    batch.add(first);
                    gather(batch);
                    for (Op op : batch) {
                        work |= op != Wake.WAKE;
                        // flush() and close() promise every earlier watermark update durable
                        forceWatermarks |= op instanceof BarrierOp || op instanceof HousekeepingOp || op == Stop.STOP;
                    }
                }
                boolean drain = watermarksPending() && (forceWatermarks
                        || System.nanoTime() - lastWatermarkDrain >= watermarkFlushNanos);
                if (work || drain || !retryCursors.isEmpty()) {
                    stop = writeBatch(batch, drain);
                }
                batch.clear();
                if (!stop && writeFailure == null && System.nanoTime() - nextHousekeeping >= 0) {
                    housekeeping();
                }
            } catch (InterruptedException e) {
                LOG.warn("Ignoring an interrupt of the message store writer");
            } catch (Throwable t) {
                LOG.error("Message store writer failed; failing its batch", t);
                for (Op op : batch) {
                    fail(op, unavailable("message store write failed"));
                    stop |= op == Stop.STOP;
                }
                batch.clear();
            }
        }
    }

    /** Adds whatever is queued, up to the batch limit, waiting up to {@code maxDelayMicros} for more. */
    private void gather(List<Op> batch) throws InterruptedException {
        int max = options.maxBatch();
        queue.drainTo(batch, max - batch.size());
        if (options.maxDelayMicros() == 0) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(options.maxDelayMicros());
        while (batch.size() < max && batch.get(batch.size() - 1) != Stop.STOP) {
            long left = deadline - System.nanoTime();
            Op next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
            if (next == null) {
                return;
            }
            batch.add(next);
            queue.drainTo(batch, max - batch.size());
        }
    }

    /**
     * How long the writer waits for the next operation: until the pending watermarks or the next pass of a pruning
     * backlog are due, else {@link #IDLE_POLL_NANOS} (an update arriving meanwhile queues a {@link Wake}).
     */
    private long pollNanos(long now) {
        long wait = IDLE_POLL_NANOS;
        if (!pendingWatermarks.isEmpty()) {
            wait = Math.min(wait, lastWatermarkDrain + watermarkFlushNanos - now);
        }
        // the next pass of a pruning backlog is due within 100 ms, else a minute away
        return Math.max(0, Math.min(wait, nextHousekeeping - now));
    }

    private boolean watermarksPending() {
        return drainingWatermarks != null || !pendingWatermarks.isEmpty();
    }

    /**
     * Applies the batch into one {@link WriteBatch}, writes it (one WAL record, synced with fsync), then completes
     * the batch's stages in order. A failed write enters the failed state (see {@link #enterFailedState}) and fails
     * the whole batch.
     *
     * @param drainWatermarks also take the pending watermarks and write them in the same batch
     * @return whether the batch held the stop marker
     */
    private boolean writeBatch(List<Op> batch, boolean drainWatermarks) {
        Object[] results = new Object[batch.size()];
        boolean stop = false;
        boolean housekeeping = false;
        long now = clock.getAsLong();
        long watermarkPuts = 0;
        Db db = this.db;
        Pending p = new Pending(db.rocks, batch.size());
        boolean retriedCursors = !retryCursors.isEmpty();
        try {
            if (drainWatermarks) {
                watermarkPuts = applyWatermarks(p, takeWatermarks());
            }
            if (retriedCursors) {
                for (Map.Entry<byte[], Long> cursor : retryCursors.entrySet()) {
                    raise(p, cursor.getKey(), cursor.getValue());
                }
            }
            for (int i = 0; i < batch.size(); i++) {
                Op op = batch.get(i);
                if (op instanceof AppendOp append) {
                    results[i] = apply(p, append, now);
                } else if (op instanceof ReplaceOp replace) {
                    results[i] = apply(p, replace);
                } else if (op instanceof ReadCursorOp cursor) {
                    raise(p, cursor.key, cursor.seq);
                } else if (op instanceof HousekeepingOp) {
                    housekeeping = true;
                } else if (op == Stop.STOP) {
                    stop = true;
                }
            }
            p.putExpiries(now);
        } catch (RocksDBException | RuntimeException e) {
            // a read failed: nothing of this batch was written. Taken watermarks stay in drainingWatermarks and go
            // with the next drain, read cursors with the next batch.
            LOG.error("Message store batch of {} operations failed before its write; appends fail as retryable",
                    batch.size(), e);
            failBatch(batch, "message store write failed");
            return stop;
        }
        try {
            if (writeBatch.count() > 0) {
                db.rocks.write(writeOptions, writeBatch);
                batchesWritten++;
            }
        } catch (RocksDBException e) {
            failBatch(batch, enterFailedState(e, "write of " + batch.size() + " operations"));
            return stop;
        } finally {
            writeBatch.clear();
        }
        // written: the heads and listings of this batch are now the database's
        heads.putAll(p.heads);
        p.heads.forEach(this::knowHead);
        for (BytesKey key : p.listedSeen) {
            if (p.overlay.getOrDefault(key, NOT_IN_BATCH) != null) { // not deleted by this batch
                listed.put(key, Boolean.TRUE);
            }
        }
        if (drainWatermarks) {
            // only now: readers find the taken updates in the database
            drainingWatermarks = null;
            watermarkWrites += watermarkPuts;
        }
        if (retriedCursors) {
            retryCursors.clear();
        }
        for (int i = 0; i < batch.size(); i++) {
            Op op = batch.get(i);
            if (op instanceof AppendOp append) {
                append.result.complete((Appended) results[i]);
            } else if (op instanceof ReplaceOp replace) {
                @SuppressWarnings("unchecked")
                Optional<Message> replaced = (Optional<Message>) results[i];
                replace.result.complete(replaced);
            } else if (op instanceof BarrierOp barrier) {
                barrier.done.complete(null);
            }
        }
        if (housekeeping) {
            boolean done = housekeeping();
            for (Op op : batch) {
                if (op instanceof HousekeepingOp h) {
                    if (done) {
                        h.done.complete(null);
                    } else {
                        fail(h, unavailable("message store housekeeping failed"));
                    }
                }
            }
        }
        return stop;
    }

    /** Fails every operation of a batch that was not written; keeps its read cursor updates for a retry. */
    private void failBatch(List<Op> batch, String why) {
        ParleyException error = unavailable(why);
        for (Op op : batch) {
            if (op instanceof ReadCursorOp cursor) {
                retryCursors.merge(cursor.key, cursor.seq, Math::max);
            } else {
                fail(op, error);
            }
        }
    }

    /** Writer thread: rewrites the stored message with the new type, body and ext, under the same key. */
    private static Optional<Message> apply(Pending p, ReplaceOp op) throws RocksDBException {
        byte[] key = Keys.message(op.conversation, op.seq);
        byte[] bytes = p.get(key);
        if (bytes == null) {
            return Optional.empty();
        }
        Message replaced = parse(bytes).toBuilder().setType(op.type).setBody(op.body).clearExt().putAllExt(op.ext)
                .build();
        p.put(key, replaced.toByteArray());
        return Optional.of(replaced);
    }

    private Appended apply(Pending p, AppendOp op, long now) throws RocksDBException {
        Message draft = op.draft;
        BytesKey dedupeKey = null;
        if (!draft.getClientMsgId().isEmpty()) {
            dedupeKey = new BytesKey(Keys.dedupe(draft.getSender(), draft.getClientMsgId()));
            // through the overlay: earlier appends of this batch count too
            byte[] messageKey = p.get(dedupeKey);
            byte[] original = messageKey == null ? null : p.get(messageKey);
            if (original != null) {
                return new Appended(parse(original), true);
            }
        }
        String conversation = draft.getConversation();
        long seq = head(p, conversation) + 1;
        Message stored = draft.toBuilder().setSeq(seq).build();
        byte[] key = Keys.message(conversation, seq);
        p.put(key, stored.toByteArray());
        p.heads.put(conversation, seq);
        if (dedupeKey != null) {
            p.put(dedupeKey, key);
            if (options.dedupeWindowHours() > 0) {
                p.expires(dedupeKey.bytes, key);
            }
        }
        for (String member : op.members) {
            list(p, member, conversation, seq);
        }
        GroupChange group = op.group;
        if (group != null) {
            p.put(group.key, group.record);
            for (String user : group.joined) {
                list(p, user, conversation, seq);
            }
            for (String user : group.left) {
                byte[] listedKey = Keys.listed(user, conversation);
                p.delete(listedKey);
                listed.remove(new BytesKey(listedKey));
            }
        }
        return new Appended(stored, false);
    }

    /** The conversation's head as of this batch: its own appends, else the cache, else the database. */
    private long head(Pending p, String conversation) throws RocksDBException {
        Long head = p.heads.get(conversation);
        if (head == null) {
            head = heads.get(conversation);
        }
        if (head == null) {
            // not touched by this batch: the database's head is current
            try (RocksIterator it = p.rocks.newIterator()) {
                head = headIn(it, conversation);
            }
            heads.put(conversation, head);
        }
        return head;
    }

    /** Lists the conversation for the user, remembering {@code seq} if it was not listed yet. */
    private void list(Pending p, String user, String conversation, long seq) throws RocksDBException {
        BytesKey key = new BytesKey(Keys.listed(user, conversation));
        if (!p.overlay.containsKey(key) && listed.get(key) != null) {
            return; // listed in the database, and not removed by this batch
        }
        if (p.get(key) == null) {
            p.put(key, Keys.longValue(seq));
        }
        p.listedSeen.add(key);
    }

    /**
     * Takes the pending watermarks: they become {@link #drainingWatermarks} (joining those a failed write left
     * there) and a new pending map starts.
     */
    private Map<Device, ConcurrentHashMap<String, Long>> takeWatermarks() {
        lastWatermarkDrain = System.nanoTime();
        // before the swap: an update merged into the new map queues a wake again
        watermarkWakeQueued.set(false);
        long stamp = watermarkLock.writeLock();
        try {
            ConcurrentHashMap<Device, ConcurrentHashMap<String, Long>> taken = pendingWatermarks;
            ConcurrentHashMap<Device, ConcurrentHashMap<String, Long>> left = drainingWatermarks;
            if (left == null) {
                drainingWatermarks = taken; // before replacing pendingWatermarks, see watermarks()
            } else {
                // nobody merges into either map now; readers of "left" see its values only rise
                taken.forEach((device, seqs) -> {
                    ConcurrentHashMap<String, Long> target =
                            left.computeIfAbsent(device, d -> new ConcurrentHashMap<>());
                    seqs.forEach((conversation, seq) -> target.merge(conversation, seq, Math::max));
                });
            }
            pendingWatermarks = new ConcurrentHashMap<>();
            return drainingWatermarks;
        } finally {
            watermarkLock.unlockWrite(stamp);
        }
    }

    /** @return how many keys were raised */
    private static long applyWatermarks(Pending p, Map<Device, ConcurrentHashMap<String, Long>> updates)
            throws RocksDBException {
        long puts = 0;
        for (Map.Entry<Device, ConcurrentHashMap<String, Long>> device : updates.entrySet()) {
            String user = device.getKey().user();
            String deviceId = device.getKey().device();
            for (Map.Entry<String, Long> update : device.getValue().entrySet()) {
                if (raise(p, Keys.watermark(user, deviceId, update.getKey()), update.getValue())) {
                    puts++;
                }
            }
        }
        return puts;
    }

    /** @return whether {@code seq} was higher than the stored value, and so was put */
    private static boolean raise(Pending p, byte[] key, long seq) throws RocksDBException {
        byte[] current = p.get(key);
        if (current == null || Keys.longOf(current) < seq) {
            p.put(key, Keys.longValue(seq));
            return true;
        }
        return false;
    }

    /**
     * Drops expired idempotency keys, at most {@value #PRUNE_MAX_PER_PASS} a pass: each {@code d} key listed by an
     * {@code E} entry (or, in a database written by an earlier version, named by an {@code e} entry) older than the
     * window that still points at the same message, and the expired entries themselves (one range deletion per kind).
     * Runs on the writer between batches, in a synced batch of its own; a pass that stopped at the limit has the next
     * one run after {@link #HOUSEKEEPING_BACKLOG_NANOS}, else after {@link #HOUSEKEEPING_NANOS}.
     *
     * @return whether the pass was written; if its write failed, the store is in the failed state
     */
    private boolean housekeeping() {
        nextHousekeeping = System.nanoTime() + HOUSEKEEPING_NANOS;
        if (options.dedupeWindowHours() == 0) {
            return true;
        }
        long cutoff = clock.getAsLong() - TimeUnit.HOURS.toMillis(options.dedupeWindowHours());
        RocksDB rocks = db.rocks;
        try (WriteBatch prune = new WriteBatch()) {
            int examined = prune(rocks, prune, Keys.DEDUPE_EXPIRY_BATCH, cutoff, 0);
            examined = prune(rocks, prune, Keys.DEDUPE_EXPIRY, cutoff, examined);
            if (prune.count() > 0) {
                rocks.write(syncWriteOptions, prune);
                LOG.debug("Pruned idempotency keys older than {} h: {} examined", options.dedupeWindowHours(),
                        examined);
            }
            if (examined >= PRUNE_MAX_PER_PASS) {
                nextHousekeeping = System.nanoTime() + HOUSEKEEPING_BACKLOG_NANOS;
            }
            return true;
        } catch (RocksDBException e) {
            enterFailedState(e, "housekeeping");
            return false;
        }
    }

    /**
     * Adds to {@code prune} the deletion of the idempotency keys that the {@code kind} ({@code E} or {@code e})
     * entries older than {@code cutoff} name, while they still point at the same message (a key may have been used
     * again after an earlier prune), and of those entries.
     *
     * @param examined keys examined so far in this pass
     * @return keys examined so far, including this kind's; the pass stops at the first entry after the limit
     */
    private static int prune(RocksDB rocks, WriteBatch prune, byte kind, long cutoff, int examined)
            throws RocksDBException {
        byte[] start = {kind};
        byte[] lastExpired = null;
        try (RocksIterator it = rocks.newIterator()) {
            for (it.seek(start); it.isValid() && examined < PRUNE_MAX_PER_PASS; it.next()) {
                byte[] key = it.key();
                if (key[0] != kind || Keys.expiryMillis(key) >= cutoff) {
                    break;
                }
                lastExpired = key;
                if (kind == Keys.DEDUPE_EXPIRY) {
                    pruneUnchanged(rocks, prune, Keys.dedupeKeyOfExpiry(key), it.value());
                    examined++;
                    continue;
                }
                List<byte[]> pairs;
                try {
                    pairs = Keys.expiryPairs(it.value());
                } catch (IllegalStateException e) {
                    LOG.warn("Dropping a corrupt idempotency key expiry entry; the keys it listed are kept", e);
                    continue;
                }
                for (int i = 0; i < pairs.size(); i += 2) {
                    pruneUnchanged(rocks, prune, pairs.get(i), pairs.get(i + 1));
                }
                examined += pairs.size() / 2;
            }
            it.status();
        }
        if (lastExpired != null) {
            prune.deleteRange(start, Arrays.copyOf(lastExpired, lastExpired.length + 1));
        }
        return examined;
    }

    /** Adds the deletion of {@code dedupeKey} to {@code prune} if it still points at {@code messageKey}. */
    private static void pruneUnchanged(RocksDB rocks, WriteBatch prune, byte[] dedupeKey, byte[] messageKey)
            throws RocksDBException {
        if (Arrays.equals(rocks.get(dedupeKey), messageKey)) {
            prune.delete(dedupeKey);
        }
    }

    // ------------------------------------------------------------------------------------------------ write failures

    /**
     * After a failed write or sync: refuses writes from now on ({@link #writeFailure}), drops the writer's caches and
     * reopens the database (which replays the WAL up to its last complete record) for reads. The writer retries from
     * {@link #whileFailing}.
     *
     * @param what what failed, for the log
     * @return the error message for the operations that fail because of this
     */
    private String enterFailedState(Exception e, String what) {
        String reason = describe(e, dir);
        boolean first = writeFailure == null;
        // before anything else: appends are refused at once from here on
        writeFailure = reason;
        if (first) {
            failedSince = System.nanoTime();
            LOG.warn("Message store {} failed: {}. Refusing writes as retryable UNAVAILABLE and serving reads from "
                    + "what was written; retrying by itself every {}-{} s", what, reason,
                    TimeUnit.NANOSECONDS.toSeconds(RETRY_MIN_NANOS), TimeUnit.NANOSECONDS.toSeconds(RETRY_MAX_NANOS),
                    e);
        } else {
            LOG.debug("Message store {} failed again: {}", what, reason, e);
        }
        retryDelayNanos = RETRY_MIN_NANOS;
        retryAt = System.nanoTime() + retryDelayNanos;
        reopen();
        return cannotWrite(reason);
    }

    /**
     * The writer's loop while writes fail: fails queued appends, group events, replacements, barriers and
     * housekeeping requests at once (read cursor updates are kept for later), and tries to write again at
     * {@link #retryAt}, backing off up to {@link #RETRY_MAX_NANOS}. On the stop marker it tries once more and, if
     * that works, writes the stop batch (watermarks and kept read cursors) as usual.
     *
     * @return whether the writer is to exit
     */
    private boolean whileFailing(List<Op> batch) throws InterruptedException {
        long wait = retryAt - System.nanoTime();
        Op first = wait > 0 ? queue.poll(wait, TimeUnit.NANOSECONDS) : queue.poll();
        boolean stop = false;
        if (first != null) {
            batch.add(first);
            queue.drainTo(batch, options.maxBatch());
            ParleyException refusal = unavailable(cannotWrite(writeFailure));
            for (Op op : batch) {
                if (op == Stop.STOP) {
                    stop = true;
                } else if (op instanceof ReadCursorOp cursor) {
                    retryCursors.merge(cursor.key, cursor.seq, Math::max);
                } else {
                    fail(op, refusal);
                }
            }
            batch.clear();
        }
        if (!stop && System.nanoTime() - retryAt < 0) {
            return false;
        }
        if (!tryToRecover()) {
            retryDelayNanos = Math.min(retryDelayNanos * 2, RETRY_MAX_NANOS);
            retryAt = System.nanoTime() + retryDelayNanos;
            return stop;
        }
        if (stop) {
            batch.add(Stop.STOP);
            writeBatch(batch, true);
            batch.clear();
        }
        return stop;
    }

    /**
     * One retry: makes sure the database is open for writing (reopening it if it could only be opened read-only or
     * not at all), then writes and syncs a small probe. If that works, writes are accepted again.
     *
     * @return whether writes work again
     */
    private boolean tryToRecover() {
        Db current = db;
        if (current == null || current.readOnly) {
            if (!reopen() || db.readOnly) {
                return false;
            }
            current = db;
        }
        try {
            current.rocks.put(syncWriteOptions, PROBE_KEY, Keys.longValue(clock.getAsLong()));
        } catch (RocksDBException e) {
            String reason = describe(e, dir);
            LOG.debug("Message store write retry failed: {}", reason, e);
            writeFailure = reason;
            reopen();
            return false;
        }
        clearCaches();
        String reason = writeFailure;
        writeFailure = null;
        LOG.info("Message store accepts writes again after {} s ({} was: {})",
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - failedSince), dir, reason);
        return true;
    }

    /**
     * Closes the current database (waiting for the reads on it) and opens it again, read-write if possible, else
     * read-only, so that reads work from what was written; the writer's caches are dropped. If neither works, reads
     * fail as UNAVAILABLE ({@link #readsDown}) until a later retry can open it.
     *
     * @return whether a database is open
     */
    private boolean reopen() {
        Db old = db;
        if (old != null) {
            old.close(true);
        }
        clearCaches();
        Db fresh = null;
        Exception error = null;
        for (boolean readOnly : new boolean[] {false, true}) {
            try {
                fresh = openDb(readOnly);
                break;
            } catch (RocksDBException | RuntimeException e) {
                if (error == null) {
                    error = e;
                } else {
                    error.addSuppressed(e);
                }
            }
        }
        db = fresh;
        if (fresh == null) {
            if (!readsDown) {
                readsDown = true;
                LOG.warn("Message store cannot reopen {} after a write failure; reads fail too until a retry can",
                        dir, error);
            }
            return false;
        }
        if (readsDown) {
            readsDown = false;
            LOG.info("Message store reopened {}{}", dir, fresh.readOnly ? " read-only" : "");
        } else if (fresh.readOnly) {
            LOG.debug("Message store reopened {} read-only", dir);
        }
        return true;
    }

    private void clearCaches() {
        heads.clear();
        knownHeads.clear();
        listed.clear();
    }

    /**
     * Opens the database (RocksDB replays the WAL up to its last complete record) and checks or records its format.
     *
     * @throws IllegalStateException if the database has another store format
     */
    private Db openDb(boolean readOnly) throws RocksDBException {
        RocksDB rocks = readOnly ? RocksDB.openReadOnly(dbOptions, dir.toString())
                : RocksDB.open(dbOptions, dir.toString());
        try {
            byte[] format = rocks.get(FORMAT_KEY);
            if (format == null && !readOnly) {
                rocks.put(syncWriteOptions, FORMAT_KEY, FORMAT);
            } else if (format != null && !Arrays.equals(format, FORMAT)) {
                throw new IllegalStateException(dir + " has store format "
                        + new String(format, StandardCharsets.UTF_8) + ", this bundle reads "
                        + new String(FORMAT, StandardCharsets.UTF_8));
            }
            return new Db(rocks, readOnly);
        } catch (RocksDBException | RuntimeException e) {
            rocks.close();
            throw e;
        }
    }

    /** @return e.g. {@code disk full: No space left on device (/var/lib/parley/data/rocksdb)} */
    static String describe(Throwable e, Path dir) {
        String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        for (Throwable t = e.getCause(); t != null && detail.isEmpty(); t = t.getCause()) {
            detail = t.getMessage() == null ? "" : t.getMessage();
        }
        String kind = detail.contains("No space left on device") || detail.contains("Disk quota exceeded")
                ? "disk full" : "write failed";
        return kind + ": " + detail + " (" + dir + ")";
    }

    private static String cannotWrite(String failure) {
        return "message store cannot write: " + failure;
    }

    private static void fail(Op op, Throwable error) {
        if (op instanceof AppendOp append) {
            append.result.completeExceptionally(error);
        } else if (op instanceof ReplaceOp replace) {
            replace.result.completeExceptionally(error);
        } else if (op instanceof BarrierOp barrier) {
            barrier.done.completeExceptionally(error);
        } else if (op instanceof HousekeepingOp housekeeping) {
            housekeeping.done.completeExceptionally(error);
        }
    }

    private static ParleyException unavailable(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, message, true);
    }

    private static <K, V> LinkedHashMap<K, V> lru(int max) {
        return new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                return size() > max;
            }
        };
    }

    // ------------------------------------------------------------------------------------------------ types

    /**
     * The batch being built: its {@link WriteBatch} (the writer's, reused) and an overlay of the keys it puts or
     * deletes (null for a deletion), so that later operations of the batch read what earlier ones wrote.
     */
    private final class Pending {
        final RocksDB rocks;
        /** What this batch wrote so far, key → value (null: deleted); a key it did not touch is absent. */
        final HashMap<BytesKey, byte[]> overlay;
        /** Conversation → head after this batch, for the conversations it appends to. */
        final HashMap<String, Long> heads = new HashMap<>();
        /** {@link Keys#listed} keys this batch found listed or listed. */
        final Set<BytesKey> listedSeen = new HashSet<>();
        /** The idempotency keys this batch writes, each followed by its message key. */
        private final List<byte[]> expiring = new ArrayList<>();

        /** @param operations the batch's size (an append puts two or three keys), to size the overlay once */
        Pending(RocksDB rocks, int operations) {
            this.rocks = rocks;
            this.overlay = new HashMap<>(Math.max(16, operations * 4));
            writeBatch.clear();
        }

        /** @return the key's value as of this batch: its own write, else the database's; null if there is none */
        byte[] get(byte[] key) throws RocksDBException {
            return get(new BytesKey(key));
        }

        byte[] get(BytesKey key) throws RocksDBException {
            byte[] inBatch = overlay.getOrDefault(key, NOT_IN_BATCH);
            return inBatch != NOT_IN_BATCH ? inBatch : rocks.get(key.bytes);
        }

        void put(byte[] key, byte[] value) throws RocksDBException {
            put(new BytesKey(key), value);
        }

        void put(BytesKey key, byte[] value) throws RocksDBException {
            writeBatch.put(key.bytes, value);
            overlay.put(key, value);
        }

        void delete(byte[] key) throws RocksDBException {
            writeBatch.delete(key);
            overlay.put(new BytesKey(key), null);
        }

        /** Notes an idempotency key this batch writes, for pruning once the dedupe window is over. */
        void expires(byte[] dedupeKey, byte[] messageKey) {
            expiring.add(dedupeKey);
            expiring.add(messageKey);
        }

        /**
         * Puts the noted idempotency keys into the batch as {@link Keys#dedupeExpiryBatch} entries dated
         * {@code millis}: one memtable insert per {@value #EXPIRY_PAIRS_PER_ENTRY} keys instead of one per key. An
         * entry's {@code n} is a sequence number this batch's write will take (RocksDB's latest plus one or more; the
         * batch holds at least three puts per entry), so no two entries ever share a key.
         */
        void putExpiries(long millis) throws RocksDBException {
            if (expiring.isEmpty()) {
                return;
            }
            long n = rocks.getLatestSequenceNumber();
            int perEntry = 2 * EXPIRY_PAIRS_PER_ENTRY;
            for (int from = 0; from < expiring.size(); from += perEntry) {
                writeBatch.put(Keys.dedupeExpiryBatch(millis, ++n),
                        Keys.expiryValue(expiring, from, Math.min(expiring.size(), from + perEntry)));
            }
        }
    }

    /** One open database; readers enter it under its lock, which {@link #close} takes exclusively. */
    private static final class Db {
        final RocksDB rocks;
        final boolean readOnly;
        private final StampedLock lock = new StampedLock();
        private boolean closed;

        Db(RocksDB rocks, boolean readOnly) {
            this.rocks = rocks;
            this.readOnly = readOnly;
        }

        /** @return a stamp for {@link #exit}, or 0 if the database is closed */
        long enter() {
            long stamp = lock.readLock();
            if (closed) {
                lock.unlockRead(stamp);
                return 0;
            }
            return stamp;
        }

        void exit(long stamp) {
            lock.unlockRead(stamp);
        }

        /**
         * Waits for the reads in progress, then closes the native handle; later {@link #enter}s return 0.
         *
         * @param afterWriteFailure a write failed: RocksDB then reports that (background) error on close, too
         */
        void close(boolean afterWriteFailure) {
            long stamp = lock.writeLock();
            try {
                if (!closed) {
                    closed = true;
                    try {
                        rocks.closeE();
                    } catch (RocksDBException e) {
                        if (afterWriteFailure) {
                            LOG.debug("Closing RocksDB after a write failure: {}", e.getMessage());
                        } else {
                            LOG.warn("Closing RocksDB failed; its WAL is replayed when it is opened again", e);
                        }
                    }
                }
            } finally {
                lock.unlockWrite(stamp);
            }
        }
    }

    /** Work for the writer thread. */
    private sealed interface Op permits AppendOp, ReplaceOp, ReadCursorOp, BarrierOp, HousekeepingOp, Stop, Wake {
    }

    /** A replacement in place (see {@link #replace}); the message keeps its key and idempotency key. */
    private record ReplaceOp(String conversation, long seq, String type, Any body, Map<String, String> ext,
                             CompletableFuture<Optional<Message>> result) implements Op {
    }

    /** An append; with {@code group} non-null, a group event whose changes are applied unless it is a duplicate. */
    private record AppendOp(Message draft, List<String> members, GroupChange group,
                            CompletableFuture<Appended> result) implements Op {
    }

    /** What a group event changes besides appending its message; {@code key} is a {@link Keys#group} key. */
    private record GroupChange(byte[] key, byte[] record, List<String> joined, List<String> left) {
    }

    /** {@code key} is a {@link Keys#readCursor} key. */
    private record ReadCursorOp(byte[] key, long seq) implements Op {
    }

    private record BarrierOp(CompletableFuture<Void> done) implements Op {
    }

    private record HousekeepingOp(CompletableFuture<Void> done) implements Op {
    }

    /** Queued by {@link #close}; the writer exits after the batch holding it. */
    private enum Stop implements Op {
        STOP
    }

    /** Queued by {@link #advanceWatermark} so that an idle writer notices pending watermarks; no work itself. */
    private enum Wake implements Op {
        WAKE
    }

    /** Key of the pending watermarks: one device of one user. */
    private record Device(String user, String device) {
    }
}
