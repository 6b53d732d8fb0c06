package io.parley.store.mvstore;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.MessageStore;
import org.h2.mvstore.Cursor;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
    private static final int PRUNE_MAX_PER_PASS = 50_000;
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

    private final MvStoreOptions options;
    /** Wall clock (epoch millis) that dates idempotency keys for pruning. */
    private final LongSupplier clock;
    private final Path file;
    private final MVStore mv;
    private final MVMap<Long, byte[]> log;
    private final MVMap<byte[], Long> index;
    private final MVMap<byte[], Long> dedupe;
    private final MVMap<byte[], Long> dedupeExpiry;
    private final MVMap<byte[], Long> members;
    private final MVMap<byte[], Long> watermarks;
    private final MVMap<byte[], byte[]> groups;
    private final MVMap<byte[], Long> readCursors;

    private final BlockingQueue<Op> queue;
    private final Thread writer;
    /** The last durable version of every map; replaced by the writer after each commit. */
    private volatile Snapshot snapshot;
    /** Set first by {@link #close}: no new operations are accepted. */
    private volatile boolean closed;
    /** Set once the writer has exited: an operation still queued will never be taken by it. */
    private volatile boolean stopped;

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
    private long lastCompaction = System.nanoTime();
    private long nextLogId;
    // writer thread only: when the writer last took the pending watermarks (System.nanoTime)
    private long lastWatermarkDrain;

    private MvMessageStore(MvStoreOptions options, LongSupplier clock, Path file, MVStore mv) {
        this.options = options;
        this.clock = clock;
        this.file = file;
        this.mv = mv;
        this.log = mv.openMap("log", new MVMap.Builder<Long, byte[]>()
                .keyType(LongDataType.INSTANCE).valueType(ByteArrayDataType.INSTANCE));
        this.index = openBinaryMap(mv, "index");
        this.dedupe = openBinaryMap(mv, "dedupe");
        this.dedupeExpiry = openBinaryMap(mv, "dedupe.expiry");
        this.members = openBinaryMap(mv, "members");
        this.watermarks = openBinaryMap(mv, "watermarks");
        this.groups = mv.openMap("groups", new MVMap.Builder<byte[], byte[]>()
                .keyType(BytesType.INSTANCE).valueType(ByteArrayDataType.INSTANCE));
        this.readCursors = openBinaryMap(mv, "readcursors");
        MVMap<String, String> meta = mv.openMap("parley.meta");
        String format = meta.putIfAbsent("format", FORMAT);
        if (format != null && !FORMAT.equals(format)) {
            throw new IllegalStateException(file + " has store format " + format + ", this bundle reads " + FORMAT);
        }
        mv.commit();
        if (options.fsync()) {
            mv.sync();
        }
        this.snapshot = takeSnapshot();
        this.nextLogId = nextLogId();
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
        MVStore mv = new MVStore.Builder()
                .fileName(file.toString())
                .cacheSize(options.cacheMb())
                // no background commits: only the writer commits, once per batch
                .autoCommitDisabled()
                .autoCommitBufferSize(0)
                .open();
        if (options.fsync()) {
            mv.setRetentionTime(FSYNC_RETENTION_MILLIS);
        }
        MvMessageStore store;
        try {
            store = new MvMessageStore(options, clock, file, mv);
        } catch (RuntimeException | Error e) {
            mv.closeImmediately();
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

    /** From the live log: the writer's view. */
    private long nextLogId() {
        Long last = log.lastKey();
        return last == null ? 1 : last + 1;
    }

    /** The store file. */
    public Path file() {
        return file;
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
        return mv.getCurrentVersion();
    }

    /** How many watermark puts the writer has made into the MVMap and committed so far (one per key per drain). */
    long watermarkWrites() {
        return watermarkWrites;
    }

    private void enqueue(Op op, CompletableFuture<?> result) {
        if (closed) {
            result.completeExceptionally(unavailable("message store is closed"));
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
        if (watermarksPending()) {
            // only if the stop batch's commit failed (logged there)
            LOG.warn("Closing {} with watermark updates that could not be written; those devices get some "
                    + "messages again", file);
        }
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
            Long logId = dedupe.get(s.dedupe.root, key);
            byte[] bytes = logId == null ? null : log.get(s.log.root, logId);
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
            Cursor<byte[], Long> cursor = index.cursor(s.index, fromKey, toKey, false);
            while (result.size() < limit && cursor.hasNext()) {
                cursor.next();
                byte[] bytes = log.get(s.log.root, cursor.getValue());
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
        return read(s -> headIn(s.index, conversation));
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        byte[] prefix = Keys.prefix(Keys.checkPart("user", userId));
        return read(s -> {
            List<ConversationHead> result = new ArrayList<>();
            Cursor<byte[], Long> cursor = members.cursor(s.members, prefix, null, false);
            while (cursor.hasNext()) {
                byte[] key = cursor.next();
                if (!Keys.startsWith(key, prefix)) {
                    break;
                }
                String conversation = Keys.lastPart(key, prefix.length);
                result.add(new ConversationHead(conversation, headIn(s.index, conversation)));
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
            Map<String, Long> result = seqsByLastPart(watermarks, s.watermarks, prefix);
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
            byte[] record = groups.get(s.groups.root, key);
            // a copy: the stored array is shared with the map's page cache
            return record == null ? Optional.<byte[]>empty() : Optional.of(record.clone());
        });
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        byte[] prefix = Keys.prefix(Keys.checkPart("user", userId));
        return read(s -> seqsByLastPart(readCursors, s.readCursors, prefix));
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
                Long seq = readCursors.get(s.readCursors.root, keys.get(i++));
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
     * @param root the index version to look in; null for the live index (writer thread only)
     * @return the highest seq of the conversation in that version, 0 if none
     */
    private long headIn(RootReference<byte[], Long> root, String conversation) {
        byte[] beyond = Keys.message(conversation, Long.MAX_VALUE);
        byte[] last = root == null ? index.lowerKey(beyond) : index.lowerKey(root, beyond);
        if (last == null || last.length != beyond.length
                || !Arrays.equals(last, 0, last.length - Long.BYTES, beyond, 0, beyond.length - Long.BYTES)) {
            return 0;
        }
        return Keys.seqOf(last);
    }

    /** Runs {@code reader} on the last durable version, keeping that version's pages from being reclaimed. */
    private <T> T read(Function<Snapshot, T> reader) {
        if (closed && stopped) {
            throw unavailable("message store is closed");
        }
        MVStore.TxCounter usage = mv.registerVersionUsage();
        try {
            return reader.apply(snapshot);
        } catch (RuntimeException e) {
            if (mv.isClosed()) {
                throw unavailable("message store is closed");
            }
            throw e;
        } finally {
            mv.deregisterVersionUsage(usage);
        }
    }

    private static Message parse(byte[] bytes) {
        try {
            return Message.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt message record", e);
        }
    }

    private Snapshot takeSnapshot() {
        return new Snapshot(log.getRoot(), index.getRoot(), dedupe.getRoot(), members.getRoot(),
                watermarks.getRoot(), groups.getRoot(), readCursors.getRoot());
    }

    // ------------------------------------------------------------------------------------------------ writer thread

    /** Writer thread only: when the last batch was written (System.nanoTime). */
    private long lastBatch = System.nanoTime();

    private void runWriter() {
        List<Op> batch = new ArrayList<>(Math.min(options.maxBatch(), 8192));
        boolean stop = false;
        while (!stop) {
            try {
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
                if (work || drain) {
                    stop = writeBatch(batch, drain);
                    lastBatch = System.nanoTime();
                }
                batch.clear();
                long now = System.nanoTime();
                boolean idle = now - lastBatch >= COMPACT_INTERVAL_NANOS; // no write for a second
                if (!stop && now - lastPrune >= TimeUnit.SECONDS.toNanos(options.housekeepingSeconds())) {
                    housekeeping(true, idle ? COMPACT_IDLE_BYTES : COMPACT_BUSY_BYTES);
                } else if (!stop && idle && now - lastCompaction >= COMPACT_INTERVAL_NANOS) {
                    housekeeping(false, COMPACT_IDLE_BYTES);
                } else if (!stop && now - lastCompaction >= COMPACT_BUSY_INTERVAL_NANOS) {
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
     * How long the writer waits for the next operation: until the pending watermarks are due, else
     * {@link #IDLE_POLL_NANOS} (an update arriving meanwhile queues a {@link Wake}).
     */
    private long pollNanos(long now) {
        if (pendingWatermarks.isEmpty()) {
            // updates left over by a failed commit are retried with the next batch, not in a loop
            return IDLE_POLL_NANOS;
        }
        return Math.max(0, Math.min(IDLE_POLL_NANOS, lastWatermarkDrain + watermarkFlushNanos - now));
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
     * Applies, commits, syncs, publishes, then completes the batch.
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
        try {
            if (drainWatermarks) {
                watermarkPuts = applyWatermarks(takeWatermarks());
            }
            for (int i = 0; i < batch.size(); i++) {
                Op op = batch.get(i);
                if (op instanceof AppendOp append) {
                    results[i] = apply(append, now);
                } else if (op instanceof ReadCursorOp cursor) {
                    raise(readCursors, cursor.key, cursor.seq);
                } else if (op instanceof HousekeepingOp) {
                    housekeeping = true;
                } else if (op == Stop.STOP) {
                    stop = true;
                }
            }
            commitDurably();
            if (drainWatermarks) {
                // only now: readers find the taken updates in the snapshot just published
                drainingWatermarks = null;
                watermarkWrites += watermarkPuts;
            }
        } catch (RuntimeException e) {
            // taken watermarks stay in drainingWatermarks and go with the next drain
            LOG.error("Message store commit of {} operations failed; rolled back, appends fail as retryable",
                    batch.size(), e);
            rollbackQuietly();
            for (Op op : batch) {
                fail(op, unavailable("message store write failed"));
            }
            return stop;
        }
        for (int i = 0; i < batch.size(); i++) {
            Op op = batch.get(i);
            if (op instanceof AppendOp append) {
                append.result.complete((Appended) results[i]);
            } else if (op instanceof BarrierOp barrier) {
                barrier.done.complete(null);
            }
        }
        if (housekeeping) {
            housekeeping(true, COMPACT_IDLE_BYTES);
            for (Op op : batch) {
                if (op instanceof HousekeepingOp h) {
                    h.done.complete(null);
                }
            }
        }
        return stop;
    }

    private Appended apply(AppendOp op, long now) {
        Message draft = op.draft;
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
        long seq = headIn(null, conversation) + 1;
        Message stored = draft.toBuilder().setSeq(seq).build();
        long logId = nextLogId++;
        log.put(logId, stored.toByteArray());
        index.put(Keys.message(conversation, seq), logId);
        if (dedupeKey != null) {
            dedupe.put(dedupeKey, logId);
            if (options.dedupeWindowHours() > 0) {
                dedupeExpiry.put(Keys.dedupeExpiry(now, dedupeKey), logId);
            }
        }
        for (String member : op.members) {
            list(member, conversation, seq);
        }
        GroupChange group = op.group;
        if (group != null) {
            groups.put(group.key, group.record);
            for (String user : group.joined) {
                list(user, conversation, seq);
            }
            for (String user : group.left) {
                members.remove(Keys.member(user, conversation));
            }
        }
        return new Appended(stored, false);
    }

    /** Lists the conversation for the user, remembering {@code seq} if it was not listed yet. */
    private void list(String user, String conversation, long seq) {
        byte[] key = Keys.member(user, conversation);
        if (members.get(key) == null) {
            members.put(key, seq);
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
    private long applyWatermarks(Map<Device, ConcurrentHashMap<String, Long>> updates) {
        long puts = 0;
        for (Map.Entry<Device, ConcurrentHashMap<String, Long>> device : updates.entrySet()) {
            String user = device.getKey().user();
            String deviceId = device.getKey().device();
            for (Map.Entry<String, Long> update : device.getValue().entrySet()) {
                if (raise(watermarks, Keys.watermark(user, deviceId, update.getKey()), update.getValue())) {
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

    private void commitDurably() {
        mv.commit();
        if (options.fsync()) {
            mv.sync();
        }
        snapshot = takeSnapshot();
    }

    private void rollbackQuietly() {
        try {
            if (!mv.isClosed()) {
                mv.rollback();
                nextLogId = nextLogId();
            }
        } catch (RuntimeException e) {
            LOG.error("Message store rollback failed", e);
        }
    }

    /**
     * Compacts the file (rewrites the live pages of mostly dead chunks so the chunks can be reused; the MVStore
     * background housekeeping is off with its auto-commit) and, if {@code prune}, drops expired idempotency keys.
     * Runs on the writer between batches.
     */
    private void housekeeping(boolean prune, int compactBytes) {
        lastCompaction = System.nanoTime();
        if (prune) {
            lastPrune = lastCompaction;
        }
        try {
            int pruned = 0;
            if (prune && options.dedupeWindowHours() > 0) {
                long cutoff = clock.getAsLong() - TimeUnit.HOURS.toMillis(options.dedupeWindowHours());
                List<byte[]> expired = new ArrayList<>();
                List<Long> logIds = new ArrayList<>();
                Cursor<byte[], Long> cursor = dedupeExpiry.cursor(null);
                while (expired.size() < PRUNE_MAX_PER_PASS && cursor.hasNext()) {
                    byte[] key = cursor.next();
                    if (Keys.expiryMillis(key) >= cutoff) {
                        break;
                    }
                    expired.add(key);
                    logIds.add(cursor.getValue());
                }
                for (int i = 0; i < expired.size(); i++) {
                    dedupeExpiry.remove(expired.get(i));
                    // conditional: the key may have been reused after an earlier prune
                    dedupe.remove(Keys.dedupeKeyOfExpiry(expired.get(i)), logIds.get(i));
                }
                pruned = expired.size();
            }
            if (options.compactFillRate() > 0) {
                mv.compact(options.compactFillRate(), compactBytes);
            }
            commitDurably();
            if (pruned > 0) {
                LOG.debug("Pruned {} idempotency keys older than {} h", pruned, options.dedupeWindowHours());
            }
        } catch (RuntimeException e) {
            LOG.warn("Message store housekeeping failed", e);
            rollbackQuietly();
        }
    }

    private static void fail(Op op, Throwable error) {
        if (op instanceof AppendOp append) {
            append.result.completeExceptionally(error);
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
    private sealed interface Op permits AppendOp, ReadCursorOp, BarrierOp, HousekeepingOp, Stop, Wake {
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

    /** One committed, durable version of every map readers use. */
    private record Snapshot(RootReference<Long, byte[]> log, RootReference<byte[], Long> index,
                            RootReference<byte[], Long> dedupe, RootReference<byte[], Long> members,
                            RootReference<byte[], Long> watermarks, RootReference<byte[], byte[]> groups,
                            RootReference<byte[], Long> readCursors) {
    }
}
