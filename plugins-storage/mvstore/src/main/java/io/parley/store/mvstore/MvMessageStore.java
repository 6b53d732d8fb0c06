package io.parley.store.mvstore;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import org.h2.mvstore.Cursor;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.MVStoreException;
import org.h2.mvstore.RootReference;
import org.h2.mvstore.type.ByteArrayDataType;
import org.h2.mvstore.type.LongDataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * The default persistent {@link MessageStore}: one H2 MVStore file, {@code <dir>/}{@value #FILE_NAME}, written by
 * a single group-commit writer thread.
 *
 * <p><b>Writes.</b> {@link #append}, {@link #appendGroupEvent} and {@link #advanceReadCursor} only enqueue
 * (they never block; a full queue refuses the append as retryable UNAVAILABLE). The writer thread
 * {@value #WRITER_THREAD} takes up to {@code maxBatch} queued operations, applies them in queue order (assigning
 * seqs, checking idempotency keys), commits them as one MVStore version, forces the file to disk when {@code fsync}
 * is on, publishes the new version to readers and only then completes the batch's stages. Messages with their seqs,
 * idempotency keys, conversation lists, group records and read cursors of a batch are in the same commit (a group
 * event's message, record and list changes thus become durable and visible together), so a crash loses whole
 * batches of unacknowledged work and never half of one; the MVStore auto-commit is switched off so that no commit
 * can split a batch.
 *
 * <p><b>Watermarks</b> are coalesced in memory instead: {@link #advanceWatermark} merges the seq into a pending map
 * (user, device → conversation → highest seq) and the writer writes that map into the {@code watermarks} MVMap at
 * most once per {@link MvStoreOptions#watermarkFlushMillis()} (0: with every batch), one put per key however many
 * acks raised it, inside an ordinary batch's commit or, when nothing else is queued, a commit of its own. Every batch
 * that holds a {@link #flush} barrier, a housekeeping pass or the stop of {@link #close} writes them too, so after
 * {@code flush()} or {@code close()} every earlier update is durable. After a crash a watermark may thus be up to
 * the flush interval (plus one commit) behind; the contract allows it. {@link #watermarks} reads the pending maps
 * as well, so an update is visible to reads as soon as {@code advanceWatermark} returns, durable or not. Memory:
 * the pending map holds one entry per distinct (user, device, conversation) acknowledged within one interval, and
 * while the writer applies it, that interval's map as well.
 *
 * <p><b>Reads</b> run on the caller's thread against the last published version (an MVCC snapshot of every map),
 * so they see only durable data and never a seq that a crash could hand out again (watermarks add the pending
 * updates, see above). They take no lock the writer holds; the snapshot's version is registered with the MVStore while it is read, so its pages are not reclaimed.
 *
 * <p><b>Layout.</b> Ordered maps with binary keys (see {@link Keys}). Messages go to an append-only {@code log}
 * (append number → serialized {@link Message}), so a commit rewrites only the log's right edge however many
 * conversations the batch touched; {@code index} ({@code conversation,seq} → append number) keeps each
 * conversation's entries adjacent, so a range read is one cursor over adjacent small index entries plus log
 * lookups (recent messages are in the page cache), and a conversation's head is its last index key. Keying the
 * messages themselves by {@code conversation,seq} would rewrite a whole leaf of message bodies per conversation
 * per commit; one map per conversation would bloat the MVStore metadata with millions of 1:1 conversations.
 * Further maps: {@code dedupe} ({@code sender,clientMsgId} → append number), {@code dedupe.expiry}
 * ({@code millis,dedupeKey}, appended in time order, for pruning), {@code members} ({@code user,conversation} →
 * the seq of the first message that listed the user, or of the group event that added them), {@code watermarks}
 * ({@code user,device,conversation} → seq), {@code groups} ({@code groupId} → the record of the group's last
 * event) and {@code readcursors} ({@code user,conversation} → seq). Seqs are never reused because a seq is derived from the index and index entries are never removed.
 *
 * <p><b>Threading.</b> Every method may be called from any thread. Only the writer thread changes the file;
 * readers take {@link #snapshot} (the open file and one durable version of its maps) once per read and never block
 * the writer (a read that a write failure's reopen cut short is repeated on the reopened file, waiting at most a
 * moment for it). The writer's batch loop takes no lock per operation.
 *
 * <p><b>Write failures</b> (a full disk, a quota, an I/O error, a failed fsync). MVStore closes its file when a
 * write fails ("panic"). A failed commit thus fails its whole batch as retryable UNAVAILABLE: nothing of it becomes
 * visible, and nothing of it is in the file's last complete commit, the state a reopen reads (a partly written
 * chunk is ignored); only when the fsync itself failed may the whole batch, never a part, turn up there. The
 * store then enters the <i>failed state</i>: {@link #writeFailure()} tells why (e.g. {@code disk full: No space
 * left on device (<dir>)}); appends, group events, {@link #flush} and {@link #housekeepingNow} are refused at once
 * as retryable UNAVAILABLE with that reason;
 * watermark updates stay pending (and visible to reads) and read cursor updates are kept by the writer, both written
 * after recovery. The writer drops the file's in-memory state and reopens it (read-write if possible, else
 * read-only), so reads go on from its last complete commit, which holds every acknowledged message. It then retries
 * on its own, after 1 s and backing off to every {@value #RETRY_MAX_SECONDS} s: reopen the file read-write if
 * needed and commit and sync a small probe. Once that works (space was freed), writes are accepted again, with seqs
 * and append numbers taken from the file, so none is reused or skipped. One WARN line on entering the failed state,
 * one INFO line on recovery. {@link #close} works in the failed state: it tries once more, then closes whatever is
 * open (updates still pending are then lost, with a WARN line).
 *
 * <p>Lifecycle: {@link #open} starts the writer; {@link #close} lets it finish everything queued so far (nothing
 * accepted is dropped), commits and closes the file. Methods called after close fail with retryable UNAVAILABLE.
 */
public final class MvMessageStore implements MessageStore, AutoCloseable {

    /** The store file inside the configured directory. */
    public static final String FILE_NAME = "messages.mv.db";
    /** Name of the writer thread. */
    public static final String WRITER_THREAD = "parley-mvstore-writer";

    private static final Logger LOG = LoggerFactory.getLogger(MvMessageStore.class);
    private static final String FORMAT = "1";
    /** Idempotency keys a housekeeping pass prunes at most (one commit, on the writer). */
    static final int PRUNE_MAX_PER_PASS = 5_000;
    /**
     * How soon the next pass runs after one that stopped at {@link #PRUNE_MAX_PER_PASS}: up to 50,000 keys a second,
     * so pruning keeps up with a busy server (once per {@code housekeepingSeconds} alone it would not).
     */
    private static final long PRUNE_BACKLOG_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /**
     * Live bytes one compaction pass rewrites: a large pass when the writer has been idle for a second, a small
     * one when appends have kept it busy for {@link #COMPACT_BUSY_INTERVAL_NANOS}, so compaction never stalls a
     * loaded writer for long (it runs on the writer thread, and appends wait behind it) yet keeps up over time.
     */
    private static final int COMPACT_IDLE_BYTES = 16 << 20;
    private static final int COMPACT_BUSY_BYTES = 1 << 20;
    private static final long COMPACT_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long COMPACT_BUSY_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long IDLE_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Chunk retention with fsync: every commit is on disk before the next write, so freed space is safe to reuse. */
    private static final int FSYNC_RETENTION_MILLIS = 2000;
    /** While writes fail: first retry after this long, then twice as long each time, up to the maximum. */
    static final long RETRY_MIN_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final int RETRY_MAX_SECONDS = 5;
    static final long RETRY_MAX_NANOS = TimeUnit.SECONDS.toNanos(RETRY_MAX_SECONDS);
    /** How long a read waits for the writer to reopen the file after a write failure closed it under the read. */
    private static final long READ_REOPEN_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** Key in {@code parley.meta} the writer rewrites to find out whether writes work again. */
    private static final String PROBE_KEY = "write.probe";

    private final MvStoreOptions options;
    /** Wall clock (epoch millis) that dates idempotency keys for pruning. */
    private final LongSupplier clock;
    private final Path file;
    /**
     * The open file and its maps the writer works on. Writer thread only (and {@link #close} once the writer has
     * exited): readers take the file of {@link #snapshot}. Replaced when the writer reopens the file after a write
     * failure.
     */
    private Db db;

    private final BlockingQueue<Op> queue;
    private final Thread writer;
    /** The last durable version of every map, with the file it belongs to; replaced by the writer after each commit. */
    private volatile Snapshot snapshot;
    /** Set first by {@link #close}: no new operations are accepted. */
    private volatile boolean closed;
    /** Set once the writer has exited: an operation still queued will never be taken by it. */
    private volatile boolean stopped;
    /** Why writes fail (see the class comment), null while they work. Written by the writer only. */
    private volatile String writeFailure;
    /** Set by the writer while it could not reopen the file at all after a write failure: reads fail too. */
    private volatile boolean readsDown;

    // Coalesced watermarks (see the class comment). advanceWatermark merges into pendingWatermarks holding
    // watermarkLock's read lock; the writer swaps the map out holding its write lock, so once the swap returns no
    // merge into the swapped-out map is in progress or can start, and applying it loses nothing.
    private final StampedLock watermarkLock = new StampedLock();
    /** Updates not yet taken by the writer; replaced (never cleared) by the writer. */
    private volatile ConcurrentHashMap<Device, ConcurrentHashMap<String, Long>> pendingWatermarks =
            new ConcurrentHashMap<>();
    /**
     * Updates the writer has taken but not yet published in {@link #snapshot}, else null. Set before
     * {@link #pendingWatermarks} is replaced and cleared only after the snapshot holding them is published; kept
     * (and the next updates folded in) when their commit fails.
     */
    private volatile ConcurrentHashMap<Device, ConcurrentHashMap<String, Long>> drainingWatermarks;
    /** Set by the update that queues a {@link Wake}; cleared by the writer before it takes the pending updates. */
    private final AtomicBoolean watermarkWakeQueued = new AtomicBoolean();
    private final long watermarkFlushNanos;
    /** Watermark puts into the MVMap whose commit is published; for tests. Written by the writer only. */
    private volatile long watermarkWrites;
    // writer thread only: when idempotency keys were last pruned and the file compacted (System.nanoTime),
    // and the append number of the next message
    private long lastPrune = System.nanoTime();
    /** Set by a pass that stopped at {@link #PRUNE_MAX_PER_PASS}: more keys have expired. */
    private boolean pruneBacklog;
    private long lastCompaction = System.nanoTime();
    private long nextLogId;
    // writer thread only: when the writer last took the pending watermarks (System.nanoTime)
    private long lastWatermarkDrain;
    // writer thread only, while writes fail: when they began to fail, the next retry and the current back-off
    // (System.nanoTime)
    private long failedSince;
    private long retryAt;
    private long retryDelayNanos;
    /**
     * Writer thread only: read cursor updates ({@link Keys#member} key → seq) whose commit failed or that arrived
     * while writes failed; written with the next batch that commits.
     */
    private final TreeMap<byte[], Long> retryCursors = new TreeMap<>(Arrays::compare);

    private MvMessageStore(MvStoreOptions options, LongSupplier clock, Path file, Db db) {
        this.options = options;
        this.clock = clock;
        this.file = file;
        this.db = db;
        this.snapshot = takeSnapshot(db);
        this.nextLogId = nextLogId(db);
        this.watermarkFlushNanos = TimeUnit.MILLISECONDS.toNanos(options.watermarkFlushMillis());
        this.lastWatermarkDrain = System.nanoTime();
        this.queue = new LinkedBlockingQueue<>(options.queueMax());
        this.writer = new Thread(this::runWriter, WRITER_THREAD);
        this.writer.setDaemon(true);
    }

    /**
     * Opens (creating it if needed) the store in {@code options.dir()}, after MVStore has rolled back to the last
     * complete commit, and starts the writer thread.
     *
     * @throws UncheckedIOException if the directory cannot be created
     * @throws org.h2.mvstore.MVStoreException if the file cannot be opened, e.g. another process has it open
     */
    public static MvMessageStore open(MvStoreOptions options) {
        return open(options, System::currentTimeMillis);
    }

    /** {@link #open(MvStoreOptions)} with another wall clock, for tests of the dedupe window. */
    static MvMessageStore open(MvStoreOptions options, LongSupplier clock) {
        try {
            Files.createDirectories(options.dir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create store directory " + options.dir(), e);
        }
        Path file = options.dir().resolve(FILE_NAME);
        Db db = Db.open(options, file, false);
        MvMessageStore store;
        try {
            store = new MvMessageStore(options, clock, file, db);
        } catch (RuntimeException | Error e) {
            db.mv().closeImmediately();
            throw e;
        }
        store.writer.start();
        LOG.info("Message store opened: {} ({} messages, fsync={}, max batch {}, watermarks written every {} ms)",
                file, store.nextLogId - 1, options.fsync(), options.maxBatch(), options.watermarkFlushMillis());
        return store;
    }

    private static MVMap<byte[], Long> openBinaryMap(MVStore mv, String name) {
        return mv.openMap(name, new MVMap.Builder<byte[], Long>()
                .keyType(BytesType.INSTANCE).valueType(LongDataType.INSTANCE));
    }

    /** From the live log of {@code db}: the writer's view. */
    private static long nextLogId(Db db) {
        Long last = db.log().lastKey();
        return last == null ? 1 : last + 1;
    }

    /** The store file. */
    public Path file() {
        return file;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Set by the writer when a commit (or its fsync) fails, e.g. {@code disk full: No space left on device
     * (<dir>)}, and cleared when a retry has committed again; see the class comment. One volatile read.
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
            memberList = List.copyOf(members);
            for (String member : memberList) {
                Keys.checkPart("member", member);
            }
        } catch (IllegalArgumentException | NullPointerException e) {
            return CompletableFuture.failedFuture(
                    new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "bad append: " + e.getMessage()));
        }
        AppendOp op = new AppendOp(draft, memberList, null, new CompletableFuture<>());
        enqueue(op, op.result);
        return op.result;
    }

    /** {@inheritDoc} Enqueued and committed like {@link #append}. */
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
     * writer makes it durable within {@link MvStoreOptions#watermarkFlushMillis()} (see the class comment). Waits
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
            // read the field under the lock: the writer cannot swap it out until this merge is done
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

    /** Applied by the writer and durable with its next commit, like {@link #advanceWatermark}. */
    @Override
    public void advanceReadCursor(String userId, String conversation, long seq) {
        Keys.checkPart("user", userId);
        Keys.checkPart("conversation", conversation);
        if (seq <= 0 || closed) {
            return;
        }
        if (!queue.offer(new ReadCursorOp(Keys.member(userId, conversation), seq))) {
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

    /** Runs a housekeeping pass (pruning, compaction) on the writer now; completes when it is durable. */
    CompletionStage<Void> housekeepingNow() {
        HousekeepingOp op = new HousekeepingOp(new CompletableFuture<>());
        enqueue(op, op.done);
        return op.done;
    }

    /** The MVStore version the next commit will write; the number of commits so far, plus a constant. */
    long currentVersion() {
        return snapshot.db().mv().getCurrentVersion();
    }

    /** How many watermark puts the writer has made into the MVMap and committed so far (one per key per drain). */
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
     * Stops accepting operations, lets the writer finish everything already queued, then closes the file.
     * Idempotent; blocks until the writer thread has exited.
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
            // only if the stop batch's commit failed or writes were failing (logged there)
            LOG.warn("Closing {} with watermark or read cursor updates that could not be written; those devices "
                    + "get some messages again", file);
        }
        MVStore mv = db.mv(); // the writer has exited: its last file (join() orders its writes before this read)
        try {
            mv.close();
        } catch (RuntimeException e) {
            LOG.error("Closing {} failed; it will be recovered to its last commit when opened", file, e);
            mv.closeImmediately();
        }
        LOG.info("Message store closed: {}", file);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public Optional<Message> findByClientId(String sender, String clientMsgId) {
        byte[] key = Keys.dedupe(Keys.checkPart("sender", sender), clientMsgId);
        return read(s -> {
            Long logId = s.db.dedupe().get(s.dedupe.root, key);
            byte[] bytes = logId == null ? null : s.db.log().get(s.log.root, logId);
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
        return read(s -> {
            List<Message> result = new ArrayList<>(Math.min(limit, 256));
            Cursor<byte[], Long> cursor = s.db.index().cursor(s.index, fromKey, toKey, false);
            while (result.size() < limit && cursor.hasNext()) {
                cursor.next();
                byte[] bytes = s.db.log().get(s.log.root, cursor.getValue());
                if (bytes == null) {
                    throw new IllegalStateException("index entry without message in " + conversation);
                }
                result.add(parse(bytes));
            }
            return result;
        });
    }

    @Override
    public long head(String conversation) {
        Keys.checkPart("conversation", conversation);
        return read(s -> headIn(s.db.index(), s.index, conversation));
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        byte[] prefix = Keys.prefix(Keys.checkPart("user", userId));
        return read(s -> {
            List<ConversationHead> result = new ArrayList<>();
            Cursor<byte[], Long> cursor = s.db.members().cursor(s.members, prefix, null, false);
            while (cursor.hasNext()) {
                byte[] key = cursor.next();
                if (!Keys.startsWith(key, prefix)) {
                    break;
                }
                String conversation = Keys.lastPart(key, prefix.length);
                result.add(new ConversationHead(conversation, headIn(s.db.index(), s.index, conversation)));
            }
            return result;
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>The committed watermarks raised by the pending updates: every {@link #advanceWatermark} that returned
     * before this call is included. A reader never sees a watermark go back, although the writer moves updates
     * from the pending map to the draining one and then into the snapshot: this reads {@link #pendingWatermarks},
     * then {@link #drainingWatermarks}, then the snapshot, while the writer writes them in the opposite order
     * (draining before pending when it takes the updates; the snapshot before clearing draining when it has
     * committed them). So if the pending map read here is a newer one than the map that held an update, the writer
     * had already made that map the draining one; if the draining map read is not that map either, its commit had
     * already been published in the snapshot read after it. An update once seen is seen by every later read.
     */
    @Override
    public Map<String, Long> watermarks(String userId, String deviceId) {
        byte[] prefix = Keys.prefix(Keys.checkPart("user", userId), Keys.checkPart("device", deviceId));
        Device device = new Device(userId, deviceId);
        // order matters, see above: pending, then draining, then (inside read) the snapshot
        Map<String, Long> pending = pendingWatermarks.get(device);
        Map<Device, ConcurrentHashMap<String, Long>> drainingMap = drainingWatermarks;
        Map<String, Long> draining = drainingMap == null ? null : drainingMap.get(device);
        return read(s -> {
            Map<String, Long> result = seqsByLastPart(s.db.watermarks(), s.watermarks, prefix);
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
        return read(s -> {
            byte[] record = s.db.groups().get(s.groups.root, key);
            // a copy: the stored array is shared with the map's page cache
            return record == null ? Optional.<byte[]>empty() : Optional.of(record.clone());
        });
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        byte[] prefix = Keys.prefix(Keys.checkPart("user", userId));
        return read(s -> seqsByLastPart(s.db.readCursors(), s.readCursors, prefix));
    }

    /** One point lookup per user in the same snapshot, instead of the default's scan of each user's cursors. */
    @Override
    public Map<String, Long> readCursorsIn(String conversation, Collection<String> userIds) {
        Keys.checkPart("conversation", conversation);
        List<byte[]> keys = new ArrayList<>(userIds.size());
        for (String user : userIds) {
            keys.add(Keys.member(Keys.checkPart("user", user), conversation));
        }
        return read(s -> {
            Map<String, Long> result = new HashMap<>();
            int i = 0;
            for (String user : userIds) {
                Long seq = s.db.readCursors().get(s.readCursors.root, keys.get(i++));
                if (seq != null) {
                    result.put(user, seq);
                }
            }
            return result;
        });
    }

    /** @return last key part → seq for every key of {@code map} (as of {@code root}) that starts with {@code prefix} */
    private static Map<String, Long> seqsByLastPart(MVMap<byte[], Long> map, RootReference<byte[], Long> root,
                                                    byte[] prefix) {
        Map<String, Long> result = new HashMap<>();
        Cursor<byte[], Long> cursor = map.cursor(root, prefix, null, false);
        while (cursor.hasNext()) {
            byte[] key = cursor.next();
            if (!Keys.startsWith(key, prefix)) {
                break;
            }
            result.put(Keys.lastPart(key, prefix.length), cursor.getValue());
        }
        return result;
    }

    /**
     * @param index the index map of the file {@code root} belongs to
     * @param root  the index version to look in; null for the live index (writer thread only)
     * @return the highest seq of the conversation in that version, 0 if none
     */
    private static long headIn(MVMap<byte[], Long> index, RootReference<byte[], Long> root, String conversation) {
        byte[] beyond = Keys.message(conversation, Long.MAX_VALUE);
        byte[] last = root == null ? index.lowerKey(beyond) : index.lowerKey(root, beyond);
        if (last == null || last.length != beyond.length
                || !Arrays.equals(last, 0, last.length - Long.BYTES, beyond, 0, beyond.length - Long.BYTES)) {
            return 0;
        }
        return Keys.seqOf(last);
    }

    /**
     * Runs {@code reader} on the last durable version, keeping that version's pages from being reclaimed. If a
     * write failure closed that version's file under the read, runs it again on the file the writer reopens
     * (waiting up to {@link #READ_REOPEN_WAIT_NANOS} for it).
     */
    private <T> T read(Function<Snapshot, T> reader) {
        if (closed && stopped) {
            throw unavailable("message store is closed");
        }
        Snapshot s = snapshot;
        long waitingSince = 0;
        boolean waiting = false;
        while (true) {
            MVStore mv = s.db.mv();
            MVStore.TxCounter usage = mv.registerVersionUsage();
            Snapshot current;
            try {
                // read after registering: that version's pages are kept; usually s itself or a newer commit
                current = snapshot;
                if (current.db == s.db) {
                    return reader.apply(current);
                }
            } catch (RuntimeException e) {
                if (!mv.isClosed()) {
                    throw e;
                }
                if (closed && stopped) {
                    throw unavailable("message store is closed");
                }
                current = snapshot;
                if (current.db == s.db) {
                    // the writer has not reopened the file yet
                    long now = System.nanoTime();
                    if (!waiting) {
                        waiting = true;
                        waitingSince = now;
                    }
                    if (readsDown || closed || now - waitingSince > READ_REOPEN_WAIT_NANOS) {
                        String failure = writeFailure;
                        throw unavailable(failure == null ? "message store file is closed"
                                : "message store cannot read its file after a write failure: " + failure);
                    }
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                }
            } finally {
                mv.deregisterVersionUsage(usage);
            }
            s = current;
        }
    }

    private static Message parse(byte[] bytes) {
        try {
            return Message.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt message record", e);
        }
    }

    private static Snapshot takeSnapshot(Db db) {
        return new Snapshot(db, db.log().getRoot(), db.index().getRoot(), db.dedupe().getRoot(),
                db.members().getRoot(), db.watermarks().getRoot(), db.groups().getRoot(), db.readCursors().getRoot());
    }

    // ------------------------------------------------------------------------------------------------ writer thread

    /** Writer thread only: when the last batch was written (System.nanoTime). */
    private long lastBatch = System.nanoTime();

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
                    lastBatch = System.nanoTime();
                }
                batch.clear();
                long now = System.nanoTime();
                boolean idle = now - lastBatch >= COMPACT_INTERVAL_NANOS; // no write for a second
                boolean more = !stop && writeFailure == null;
                long pruneInterval = pruneBacklog ? PRUNE_BACKLOG_NANOS
                        : TimeUnit.SECONDS.toNanos(options.housekeepingSeconds());
                if (more && now - lastPrune >= pruneInterval) {
                    housekeeping(true, idle ? COMPACT_IDLE_BYTES : COMPACT_BUSY_BYTES);
                } else if (more && idle && now - lastCompaction >= COMPACT_INTERVAL_NANOS) {
                    housekeeping(false, COMPACT_IDLE_BYTES);
                } else if (more && now - lastCompaction >= COMPACT_BUSY_INTERVAL_NANOS) {
                    housekeeping(false, COMPACT_BUSY_BYTES);
                }
            } catch (InterruptedException e) {
                // nobody interrupts this thread on purpose: an interrupt would close the MVStore file channel
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

    /**
     * How long the writer waits for the next operation: until the pending watermarks or the next pass of a pruning
     * backlog are due, else {@link #IDLE_POLL_NANOS} (an update arriving meanwhile queues a {@link Wake}).
     */
    private long pollNanos(long now) {
        long wait = IDLE_POLL_NANOS;
        // updates left over by a failed commit are retried with the next batch, not in a loop
        if (!pendingWatermarks.isEmpty()) {
            wait = Math.min(wait, lastWatermarkDrain + watermarkFlushNanos - now);
        }
        if (pruneBacklog) {
            wait = Math.min(wait, lastPrune + PRUNE_BACKLOG_NANOS - now);
        }
        return Math.max(0, wait);
    }

    private boolean watermarksPending() {
        return drainingWatermarks != null || !pendingWatermarks.isEmpty();
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
     * Applies, commits, syncs, publishes, then completes the batch. A failed commit enters the failed state (see
     * {@link #enterFailedState}) and fails the whole batch.
     *
     * @param drainWatermarks also take the pending watermarks and write them in the same commit
     * @return whether the batch held the stop marker
     */
    private boolean writeBatch(List<Op> batch, boolean drainWatermarks) {
        Object[] results = new Object[batch.size()];
        boolean stop = false;
        long now = clock.getAsLong();
        boolean housekeeping = false;
        long watermarkPuts = 0;
        Db db = this.db;
        boolean retriedCursors = !retryCursors.isEmpty();
        try {
            if (drainWatermarks) {
                watermarkPuts = applyWatermarks(db, takeWatermarks());
            }
            if (retriedCursors) {
                for (Map.Entry<byte[], Long> cursor : retryCursors.entrySet()) {
                    raise(db.readCursors(), cursor.getKey(), cursor.getValue());
                }
            }
            for (int i = 0; i < batch.size(); i++) {
                Op op = batch.get(i);
                if (op instanceof AppendOp append) {
                    results[i] = apply(db, append, now);
                } else if (op instanceof ReplaceOp replace) {
                    results[i] = apply(db, replace);
                } else if (op instanceof ReadCursorOp cursor) {
                    raise(db.readCursors(), cursor.key, cursor.seq);
                } else if (op instanceof HousekeepingOp) {
                    housekeeping = true;
                } else if (op == Stop.STOP) {
                    stop = true;
                }
            }
        } catch (RuntimeException e) {
            // not a write: nothing of this batch reached the file. Taken watermarks stay in drainingWatermarks
            // and go with the next drain, read cursors with the next batch.
            String why;
            if (db.mv().isClosed()) {
                why = enterFailedState(e, "read while applying a batch");
            } else {
                LOG.error("Message store batch of {} operations failed; rolled back, appends fail as retryable",
                        batch.size(), e);
                rollbackQuietly(db);
                why = "message store write failed";
            }
            failBatch(batch, why);
            return stop;
        }
        try {
            commitDurably(db);
        } catch (RuntimeException e) {
            failBatch(batch, enterFailedState(e, "commit of " + batch.size() + " operations"));
            return stop;
        }
        if (drainWatermarks) {
            // only now: readers find the taken updates in the snapshot just published
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
            boolean done = housekeeping(true, COMPACT_IDLE_BYTES);
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

    /** Fails every operation of a batch that was not committed; keeps its read cursor updates for a retry. */
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

    /** Writer thread: rewrites the message's log entry with the new type, body and ext. */
    private static Optional<Message> apply(Db db, ReplaceOp op) {
        Long logId = db.index().get(Keys.message(op.conversation, op.seq));
        byte[] bytes = logId == null ? null : db.log().get(logId);
        if (bytes == null) {
            return Optional.empty();
        }
        Message replaced = parse(bytes).toBuilder().setType(op.type).setBody(op.body).clearExt().putAllExt(op.ext)
                .build();
        db.log().put(logId, replaced.toByteArray());
        return Optional.of(replaced);
    }

    private Appended apply(Db db, AppendOp op, long now) {
        Message draft = op.draft;
        MVMap<Long, byte[]> log = db.log();
        MVMap<byte[], Long> dedupe = db.dedupe();
        byte[] dedupeKey = null;
        if (!draft.getClientMsgId().isEmpty()) {
            dedupeKey = Keys.dedupe(draft.getSender(), draft.getClientMsgId());
            // the live maps: they hold earlier appends of this batch too
            Long existing = dedupe.get(dedupeKey);
            byte[] original = existing == null ? null : log.get(existing);
            if (original != null) {
                return new Appended(parse(original), true);
            }
        }
        String conversation = draft.getConversation();
        long seq = headIn(db.index(), null, conversation) + 1;
        Message stored = draft.toBuilder().setSeq(seq).build();
        long logId = nextLogId++;
        log.put(logId, stored.toByteArray());
        db.index().put(Keys.message(conversation, seq), logId);
        if (dedupeKey != null) {
            dedupe.put(dedupeKey, logId);
            if (options.dedupeWindowHours() > 0) {
                db.dedupeExpiry().put(Keys.dedupeExpiry(now, dedupeKey), logId);
            }
        }
        for (String member : op.members) {
            list(db, member, conversation, seq);
        }
        GroupChange group = op.group;
        if (group != null) {
            db.groups().put(group.key, group.record);
            for (String user : group.joined) {
                list(db, user, conversation, seq);
            }
            for (String user : group.left) {
                db.members().remove(Keys.member(user, conversation));
            }
        }
        return new Appended(stored, false);
    }

    /** Lists the conversation for the user, remembering {@code seq} if it was not listed yet. */
    private static void list(Db db, String user, String conversation, long seq) {
        byte[] key = Keys.member(user, conversation);
        if (db.members().get(key) == null) {
            db.members().put(key, seq);
        }
    }

    /**
     * Takes the pending watermarks: they become {@link #drainingWatermarks} (joining those a failed commit left
     * there) and a new pending map starts.
     *
     * @return the updates to write; stays {@link #drainingWatermarks} until their commit is published
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
    private static long applyWatermarks(Db db, Map<Device, ConcurrentHashMap<String, Long>> updates) {
        long puts = 0;
        for (Map.Entry<Device, ConcurrentHashMap<String, Long>> device : updates.entrySet()) {
            String user = device.getKey().user();
            String deviceId = device.getKey().device();
            for (Map.Entry<String, Long> update : device.getValue().entrySet()) {
                if (raise(db.watermarks(), Keys.watermark(user, deviceId, update.getKey()), update.getValue())) {
                    puts++;
                }
            }
        }
        return puts;
    }

    /** @return whether {@code seq} was higher than the stored value, and so was put */
    private static boolean raise(MVMap<byte[], Long> map, byte[] key, long seq) {
        Long current = map.get(key);
        if (current == null || current < seq) {
            map.put(key, seq);
            return true;
        }
        return false;
    }

    private void commitDurably(Db db) {
        db.mv().commit();
        if (options.fsync()) {
            db.mv().sync();
        }
        snapshot = takeSnapshot(db);
    }

    private void rollbackQuietly(Db db) {
        try {
            if (!db.mv().isClosed()) {
                db.mv().rollback();
                nextLogId = nextLogId(db);
            }
        } catch (RuntimeException e) {
            LOG.error("Message store rollback failed", e);
        }
    }

    /**
     * Compacts the file (rewrites the live pages of mostly dead chunks so the chunks can be reused; the MVStore
     * background housekeeping is off with its auto-commit) and, if {@code prune}, drops expired idempotency keys.
     * Runs on the writer between batches.
     *
     * @return whether the pass committed; if its write failed, the store is in the failed state
     */
    private boolean housekeeping(boolean prune, int compactBytes) {
        lastCompaction = System.nanoTime();
        if (prune) {
            lastPrune = lastCompaction;
        }
        Db db = this.db;
        try {
            int pruned = 0;
            if (prune && options.dedupeWindowHours() > 0) {
                long cutoff = clock.getAsLong() - TimeUnit.HOURS.toMillis(options.dedupeWindowHours());
                List<byte[]> expired = new ArrayList<>();
                List<Long> logIds = new ArrayList<>();
                Cursor<byte[], Long> cursor = db.dedupeExpiry().cursor(null);
                while (expired.size() < PRUNE_MAX_PER_PASS && cursor.hasNext()) {
                    byte[] key = cursor.next();
                    if (Keys.expiryMillis(key) >= cutoff) {
                        break;
                    }
                    expired.add(key);
                    logIds.add(cursor.getValue());
                }
                for (int i = 0; i < expired.size(); i++) {
                    db.dedupeExpiry().remove(expired.get(i));
                    // conditional: the key may have been reused after an earlier prune
                    db.dedupe().remove(Keys.dedupeKeyOfExpiry(expired.get(i)), logIds.get(i));
                }
                pruned = expired.size();
            }
            if (prune) {
                pruneBacklog = pruned >= PRUNE_MAX_PER_PASS;
            }
            if (options.compactFillRate() > 0) {
                // writes (and commits) the moved pages itself
                db.mv().compact(options.compactFillRate(), compactBytes);
            }
            commitDurably(db);
            if (pruned > 0) {
                LOG.debug("Pruned {} idempotency keys older than {} h", pruned, options.dedupeWindowHours());
            }
            return true;
        } catch (RuntimeException e) {
            if (db.mv().isClosed() || isWriteError(e)) {
                enterFailedState(e, "housekeeping");
            } else {
                LOG.warn("Message store housekeeping failed", e);
                rollbackQuietly(db);
            }
            return false;
        }
    }

    // ------------------------------------------------------------------------------------------------ write failures

    /**
     * After a failed commit, sync or compaction: refuses writes from now on ({@link #writeFailure}), drops the
     * file's in-memory state (whatever the failed commit left there never becomes visible) and reopens the file
     * for reads, at its last complete commit. The writer retries from {@link #whileFailing}.
     *
     * @param what what failed, for the log
     * @return the error message for the operations that fail because of this
     */
    private String enterFailedState(RuntimeException e, String what) {
        String reason = describe(e, options.dir());
        boolean first = writeFailure == null;
        // before anything else: appends are refused at once from here on
        writeFailure = reason;
        if (first) {
            failedSince = System.nanoTime();
            LOG.warn("Message store {} failed: {}. Refusing writes as retryable UNAVAILABLE and serving reads from "
                    + "the last commit; retrying by itself every {}-{} s", what, reason,
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
     * The writer's loop while writes fail: fails queued appends, group events, barriers and housekeeping requests
     * at once (read cursor updates are kept for later), and tries to write again at {@link #retryAt}, backing off
     * up to {@link #RETRY_MAX_NANOS}. On the stop marker it tries once more and, if that works, writes the stop
     * batch (watermarks and kept read cursors) as usual.
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
     * One retry: makes sure the file is open for writing (reopening it if a failed write closed it or it could
     * only be opened read-only), then commits (and syncs) a small change. If that works, writes are accepted
     * again, with the seqs and append numbers of the file as it is on disk.
     *
     * @return whether writes work again
     */
    private boolean tryToRecover() {
        Db current = db;
        if (current.mv().isClosed() || current.mv().isReadOnly()) {
            if (!reopen() || db.mv().isReadOnly()) {
                return false;
            }
            current = db;
        }
        try {
            current.meta().put(PROBE_KEY, Long.toString(clock.getAsLong()));
            commitDurably(current);
        } catch (RuntimeException e) {
            String reason = describe(e, options.dir());
            LOG.debug("Message store write retry failed: {}", reason, e);
            writeFailure = reason;
            reopen();
            return false;
        }
        nextLogId = nextLogId(current);
        String reason = writeFailure;
        writeFailure = null;
        LOG.info("Message store accepts writes again after {} s ({} was: {})",
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - failedSince), file, reason);
        return true;
    }

    /**
     * Drops the current file's in-memory state and opens the file again, read-write if possible, else read-only,
     * so that reads work from its last complete commit; publishes the snapshot of the reopened file. If neither
     * works, reads fail as UNAVAILABLE ({@link #readsDown}) until a later retry can open it.
     *
     * @return whether the file is open
     */
    private boolean reopen() {
        Db old = db;
        old.mv().closeImmediately(); // nothing more is written; a no-op if a failed write already closed it
        Db fresh = null;
        RuntimeException error = null;
        for (boolean readOnly : new boolean[] {false, true}) {
            try {
                fresh = Db.open(options, file, readOnly);
                break;
            } catch (RuntimeException e) {
                if (error == null) {
                    error = e;
                } else {
                    error.addSuppressed(e);
                }
            }
        }
        if (fresh == null) {
            if (!readsDown) {
                readsDown = true;
                LOG.warn("Message store cannot reopen {} after a write failure; reads fail too until a retry can",
                        file, error);
            }
            return false;
        }
        db = fresh;
        nextLogId = nextLogId(fresh);
        snapshot = takeSnapshot(fresh);
        if (readsDown) {
            readsDown = false;
            LOG.info("Message store reopened {}{}", file, fresh.mv().isReadOnly() ? " read-only" : "");
        } else if (fresh.mv().isReadOnly()) {
            LOG.debug("Message store reopened {} read-only", file);
        }
        return true;
    }

    /** @return e.g. {@code disk full: No space left on device (/var/lib/parley)} */
    static String describe(Throwable e, Path dir) {
        IOException io = null;
        Throwable root = e;
        int depth = 0;
        for (Throwable t = e; t != null && depth < 32; t = t.getCause(), depth++) {
            if (io == null && t instanceof IOException x) {
                io = x;
            }
            root = t;
        }
        Throwable cause = io != null ? io : root;
        String detail = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        String kind = detail.contains("No space left on device") || detail.contains("Disk quota exceeded")
                ? "disk full" : "write failed";
        return kind + ": " + detail + " (" + dir + ")";
    }

    /** Whether {@code e} comes from writing or syncing the file rather than from the data. */
    private static boolean isWriteError(Throwable e) {
        int depth = 0;
        for (Throwable t = e; t != null && depth < 32; t = t.getCause(), depth++) {
            if (t instanceof IOException
                    || t instanceof MVStoreException m && m.getErrorCode() == DataUtils.ERROR_WRITING_FAILED) {
                return true;
            }
        }
        return false;
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

    // ------------------------------------------------------------------------------------------------ types

    /** Work for the writer thread. */
    private sealed interface Op permits AppendOp, ReplaceOp, ReadCursorOp, BarrierOp, HousekeepingOp, Stop, Wake {
    }

    /** A replacement in place (see {@link #replace}); the message keeps its log entry, index and dedupe keys. */
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

    /** {@code key} is a {@link Keys#member}-shaped {@code user,conversation} key. */
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

    /**
     * One open MVStore file and its maps. Immutable; the writer replaces it as a whole when it reopens the file after
     * a write failure, and a {@link Snapshot}'s roots belong to the {@code Db} it names.
     */
    private record Db(MVStore mv, MVMap<String, String> meta, MVMap<Long, byte[]> log, MVMap<byte[], Long> index,
                      MVMap<byte[], Long> dedupe, MVMap<byte[], Long> dedupeExpiry, MVMap<byte[], Long> members,
                      MVMap<byte[], Long> watermarks, MVMap<byte[], byte[]> groups,
                      MVMap<byte[], Long> readCursors) {

        /**
         * Opens the file (MVStore rolls it back to its last complete commit) and its maps, creating them if the file
         * is new and {@code readOnly} is false. Read-write, this commits (and syncs) only if something was created.
         *
         * @throws org.h2.mvstore.MVStoreException if the file cannot be opened
         * @throws IllegalStateException if the file has another store format
         */
        static Db open(MvStoreOptions options, Path file, boolean readOnly) {
            MVStore.Builder builder = new MVStore.Builder()
                    .fileName(file.toString())
                    .cacheSize(options.cacheMb())
                    // no background commits: only the writer commits, once per batch
                    .autoCommitDisabled()
                    .autoCommitBufferSize(0);
            if (readOnly) {
                builder.readOnly();
            }
            MVStore mv = builder.open();
            try {
                boolean writable = !mv.isReadOnly(); // also read-only if the file is not writable
                if (writable && options.fsync()) {
                    mv.setRetentionTime(FSYNC_RETENTION_MILLIS);
                }
                Db db = new Db(mv, mv.openMap("parley.meta"),
                        mv.openMap("log", new MVMap.Builder<Long, byte[]>()
                                .keyType(LongDataType.INSTANCE).valueType(ByteArrayDataType.INSTANCE)),
                        openBinaryMap(mv, "index"), openBinaryMap(mv, "dedupe"), openBinaryMap(mv, "dedupe.expiry"),
                        openBinaryMap(mv, "members"), openBinaryMap(mv, "watermarks"),
                        mv.openMap("groups", new MVMap.Builder<byte[], byte[]>()
                                .keyType(BytesType.INSTANCE).valueType(ByteArrayDataType.INSTANCE)),
                        openBinaryMap(mv, "readcursors"));
                String format = writable ? db.meta.putIfAbsent("format", FORMAT) : db.meta.get("format");
                if (format != null && !FORMAT.equals(format)) {
                    throw new IllegalStateException(file + " has store format " + format + ", this bundle reads "
                            + FORMAT);
                }
                if (writable) {
                    mv.commit();
                    if (options.fsync()) {
                        mv.sync();
                    }
                }
                return db;
            } catch (RuntimeException | Error e) {
                mv.closeImmediately();
                throw e;
            }
        }
    }

    /** One committed, durable version of every map readers use, and the open file ({@code db}) it belongs to. */
    private record Snapshot(Db db, RootReference<Long, byte[]> log, RootReference<byte[], Long> index,
                            RootReference<byte[], Long> dedupe, RootReference<byte[], Long> members,
                            RootReference<byte[], Long> watermarks, RootReference<byte[], byte[]> groups,
                            RootReference<byte[], Long> readCursors) {
    }
}
