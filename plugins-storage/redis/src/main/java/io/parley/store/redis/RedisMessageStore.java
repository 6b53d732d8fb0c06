package io.parley.store.redis;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import io.parley.store.redis.Scripts.Script;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link MessageStore} on Redis, standalone or Redis Cluster (see {@link Keys} for the layout, {@link Scripts} for
 * the atomic steps).
 *
 * <p><b>An append</b> is two atomic steps, each one Lua script on one hash slot:
 * <ol>
 *   <li><i>reserve</i> (the sender's slot): the (sender, client_msg_id) is reserved for the conversation, unless
 *       another conversation already owns it — then the append is a duplicate of what that conversation stored under
 *       the key, and stores nothing;</li>
 *   <li><i>append</i> (the conversation's slot): the idempotency check inside the conversation, the seq, the message,
 *       its index entry, the group record (group events) and the conversation-list changes as <i>pending</i>, all in
 *       one script; several appends of a conversation go in one call (group commit);</li>
 * </ol>
 * then the pending list changes are applied to each user's list (one script per user, on the user's slot, ignored if
 * a later change was applied) and cleared. The stage completes after that, when every reply has arrived: the message
 * is then in Redis memory, and on disk as far as the server's persistence settings say (docs/delivery.md, "Redis").
 *
 * <p><b>Retries are harmless.</b> Lettuce re-sends a command after a reconnect if it did not get its reply, so a
 * script may run twice. Reserve answers the conversation it reserved; append finds its own message by the
 * idempotency key and answers it (its message id tells this store it was its own run, not a duplicate); list changes
 * carry the seq of the change and are applied at most once in effect. A crash between the append and the list
 * changes leaves them pending in the conversation; the client's retry (the send was never acknowledged) finds the
 * stored message with its pending changes and applies them.
 *
 * <p><b>Ordering.</b> A conversation has at most one append script call in flight; appends are taken into calls in
 * submission order, so seqs follow submission order, and stages complete in submission order (which is seq order).
 * Across conversations everything is pipelined.
 *
 * <p><b>Threading.</b> Every method is thread-safe. {@link #append}, {@link #appendGroupEvent}, {@link #replace},
 * {@link #advanceWatermark} and {@link #advanceReadCursor} never block: they queue commands that one of the calling
 * threads writes (see {@link Pipeline}); replies are handled on Lettuce's event loop, and stages are completed on this
 * store's completion thread, never on the event loop. The read methods block the caller until the reply arrives (at
 * most the command timeout); the core calls them from its workers only.
 */
public final class RedisMessageStore implements MessageStore, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RedisMessageStore.class);
    /** The warning that Redis's persistence settings make acknowledged messages losable. */
    private static final Logger DURABILITY = LoggerFactory.getLogger(RedisMessageStore.class.getName() + ".durability");
    private static final int RANGE_CHUNK = 1000;
    private static final long MAX_BATCH_BYTES = 8L << 20;
    private static final long LOOKUP_RETRY_MILLIS = 20;
    private static final char CHANGE_SEPARATOR = '\0';
    private static final int KNOWN_MAX = 200_000;

    private final RedisStoreOptions options;
    private final Keys keys;
    private final Link link;
    private final Pipeline pipeline;
    private final ScheduledExecutorService completer;
    private final ConcurrentHashMap<String, Conv> conversations = new ConcurrentHashMap<>();
    /** Appends, group events and replacements accepted and not yet completed. */
    private final AtomicInteger accepted = new AtomicInteger();
    /** Watermark, read-cursor and cleanup writes not yet answered. */
    private final Set<CompletableFuture<?>> sideWrites = ConcurrentHashMap.newKeySet();
    private final AtomicLong lastSideFailureLog = new AtomicLong();
    /** Appends whose script answered this store's own earlier run (a re-sent command); for tests and diagnostics. */
    private final AtomicLong reruns = new AtomicLong();
    private final String reservationTtl;
    /**
     * What this node learnt of conversations from its own appends and reads: the highest seq known to exist, and the
     * users a list change made through this node listed (removed again by an unlist through it). Never ahead of Redis;
     * may lag behind other nodes' appends. Bounded: cleared when it passes {@link #KNOWN_MAX} entries.
     */
    private final ConcurrentHashMap<String, Long> knownHeads = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Set<String>> knownListed = new ConcurrentHashMap<>();
    private volatile boolean closed;
    private volatile String failure;

    private RedisMessageStore(RedisStoreOptions options, Link link) {
        this.options = options;
        this.keys = new Keys(options.keyPrefix());
        this.link = link;
        this.pipeline = new Pipeline(link);
        this.reservationTtl = Long.toString(TimeUnit.HOURS.toSeconds(options.dedupeWindowHours()));
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "parley-redis-completer");
            t.setDaemon(true);
            return t;
        });
        executor.setRemoveOnCancelPolicy(true);
        this.completer = executor;
    }

    /**
     * Connects, checks the server (Redis 7 or later) and loads the scripts; blocking.
     *
     * @throws RedisException if Redis cannot be reached or is too old
     */
    public static RedisMessageStore open(RedisStoreOptions options) {
        Link link = Link.open(options);
        RedisMessageStore store = new RedisMessageStore(options, link);
        try {
            store.checkServer();
            return store;
        } catch (RuntimeException e) {
            store.completer.shutdownNow();
            link.close();
            throw e;
        }
    }

    private void checkServer() {
        String info = await(link.async().info("server"));
        String version = field(info, "redis_version");
        int major = version == null ? 0 : Integer.parseInt(version.split("\\.")[0]);
        if (major < 7) {
            throw new RedisException("the Redis store needs Redis 7.0 or later (scripts with flags); " + link
                    + " runs " + version);
        }
        for (Script script : Scripts.ALL) {
            String sha = await(link.async().scriptLoad(Keys.utf8(script.body())));
            if (!script.sha().equals(sha)) {
                throw new RedisException("script " + script.name() + ": Redis answered SHA " + sha);
            }
        }
        String persistence;
        try {
            Map<String, String> config = await(link.async().configGet("appendonly", "appendfsync"));
            persistence = "appendonly " + config.get("appendonly") + ", appendfsync " + config.get("appendfsync");
            if (!"yes".equals(config.get("appendonly"))) {
                DURABILITY.warn("{} runs without AOF (appendonly no): acknowledged messages are lost when Redis restarts "
                        + "or crashes; see docs/delivery.md, Redis", link);
            } else if (!"always".equals(config.get("appendfsync"))) {
                DURABILITY.warn("{} runs with appendfsync {}: up to about a second of acknowledged messages can be lost if "
                        + "Redis or its machine crashes; appendfsync always loses none", link,
                        config.get("appendfsync"));
            }
        } catch (ParleyException e) {
            persistence = "persistence settings unknown (CONFIG GET refused)";
        }
        LOG.info("Message store on {} (Redis {}, {}), key prefix '{}'", link, version, persistence,
                options.keyPrefix());
    }

    private static String field(String info, String name) {
        for (String line : info.split("\r?\n")) {
            if (line.startsWith(name + ":")) {
                return line.substring(name.length() + 1).trim();
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ appends

    /** One append or group event, from acceptance to completion; its mutable fields are guarded by its {@link Conv}. */
    private static final class Op {
        final Message draft;
        final Conv conv;
        final Collection<String> joined;
        final Collection<String> left;
        final byte[] record;
        final CompletableFuture<Appended> future = new CompletableFuture<>();
        boolean reserved;
        /** The list changes written with this op (set when its append script is queued). */
        String changes = "";
        String owner;
        Throwable reserveError;
        boolean resolved;
        Appended appended;
        Throwable error;

        Op(Message draft, Conv conv, Collection<String> joined, Collection<String> left, byte[] record) {
            this.draft = draft;
            this.conv = conv;
            this.joined = List.copyOf(joined);
            this.left = List.copyOf(left);
            this.record = record;
        }
    }

    /** The appends of one conversation not yet completed; guarded by itself. */
    private static final class Conv {
        final String id;
        /** Accepted, not yet taken into a script call, in submission order. */
        final ArrayDeque<Op> waiting = new ArrayDeque<>();
        /** Every accepted op not yet completed, in submission order (a superset of {@link #waiting}). */
        final ArrayDeque<Op> order = new ArrayDeque<>();
        boolean busy;
        boolean removed;

        Conv(String id) {
            this.id = id;
        }
    }

    @Override
    public CompletionStage<Appended> append(Message draft, Collection<String> members) {
        return submit(draft, members, List.of(), null);
    }

    @Override
    public CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                      Collection<String> joined, Collection<String> left) {
        return submit(event, joined, left, record.clone());
    }

    private CompletionStage<Appended> submit(Message draft, Collection<String> joined, Collection<String> left,
                                             byte[] record) {
        accepted.incrementAndGet();
        if (closed) {
            accepted.decrementAndGet();
            return CompletableFuture.failedFuture(closedException());
        }
        String conversation = draft.getConversation();
        Op op;
        for (;;) {
            Conv conv = conversations.computeIfAbsent(conversation, Conv::new);
            synchronized (conv) {
                if (conv.removed) {
                    continue;
                }
                op = new Op(draft, conv, joined, left, record);
                conv.waiting.add(op);
                conv.order.add(op);
                break;
            }
        }
        Op submitted = op;
        script(Scripts.RESERVE, new byte[][] {keys.reservation(draft.getSender(), draft.getClientMsgId())},
                Keys.utf8(conversation), Keys.utf8(reservationTtl))
                .whenComplete((reply, error) -> {
                    Throwable failed = error;
                    String owner = null;
                    if (failed == null) {
                        try {
                            owner = Keys.string((byte[]) reply.get(0));
                        } catch (RuntimeException e) {
                            failed = unexpected("reserve", reply, e);
                        }
                    }
                    synchronized (submitted.conv) {
                        submitted.reserved = true;
                        submitted.owner = owner;
                        if (failed != null) {
                            submitted.reserveError = unavailable("reserving the client_msg_id", failed);
                        }
                    }
                    if (failed != null) {
                        noteFailure(failed);
                    }
                    pump(submitted.conv);
                });
        pipeline.drain();
        return op.future;
    }

    /** Starts the conversation's next script call if none is in flight, and completes what is resolved, in order. */
    private void pump(Conv conv) {
        synchronized (conv) {
            if (!conv.busy) {
                List<Op> batch = takeBatch(conv);
                if (!batch.isEmpty()) {
                    conv.busy = true;
                    sendBatch(conv, batch);
                }
            }
            List<Op> done = null;
            while (!conv.order.isEmpty() && conv.order.peek().resolved) {
                if (done == null) {
                    done = new ArrayList<>();
                }
                done.add(conv.order.poll());
            }
            if (done != null) {
                List<Op> complete = done;
                onCompleter(() -> complete(complete));
            }
            if (conv.order.isEmpty()) {
                conv.removed = true;
                conversations.remove(conv.id, conv);
            }
        }
        pipeline.drain();
    }

    /** Guarded by conv: the longest prefix of reserved waiting ops, within the batch limits. */
    private List<Op> takeBatch(Conv conv) {
        List<Op> batch = new ArrayList<>();
        long bytes = 0;
        while (!conv.waiting.isEmpty() && conv.waiting.peek().reserved && batch.size() < options.maxBatch()
                && (batch.isEmpty() || bytes < MAX_BATCH_BYTES)) {
            Op op = conv.waiting.poll();
            if (op.reserveError != null) {
                resolveLocked(op, null, op.reserveError);
            } else if (!op.owner.equals(conv.id)) {
                lookup(op, System.nanoTime() + options.commandTimeout().toNanos());
            } else {
                batch.add(op);
                bytes += op.draft.getSerializedSize() + (op.record == null ? 0 : op.record.length);
            }
        }
        return batch;
    }

    /** Guarded by conv: queues the append script for the batch (the caller drains the pipeline). */
    private void sendBatch(Conv conv, List<Op> batch) {
        byte[][] scriptKeys = {keys.head(conv.id), keys.messages(conv.id), keys.idempotency(conv.id),
                keys.pending(conv.id), keys.record(conv.id)};
        byte[][] args = new byte[batch.size() * 4][];
        int i = 0;
        for (Op op : batch) {
            Message m = op.draft;
            args[i++] = Keys.idempotencyField(m.getSender(), m.getClientMsgId());
            args[i++] = (m.getSeq() == 0 ? m : m.toBuilder().clearSeq().build()).toByteArray();
            op.changes = changes(op);
            args[i++] = Keys.utf8(op.changes);
            if (op.record == null) {
                args[i++] = new byte[0];
            } else {
                byte[] r = new byte[op.record.length + 1];
                r[0] = 'R';
                System.arraycopy(op.record, 0, r, 1, op.record.length);
                args[i++] = r;
            }
        }
        script(Scripts.APPEND, scriptKeys, args).whenComplete((reply, error) -> onBatch(conv, batch, reply, error));
    }

    /**
     * The list changes of an op: '+' user for a user who gets the conversation listed, '-' user for one who leaves. A
     * plain message (no group record, nobody leaving) leaves out the users this node has listed already: in a 1:1
     * conversation only its first message lists anyone, instead of two list scripts per message.
     */
    private String changes(Op op) {
        StringBuilder s = new StringBuilder();
        Set<String> listed = op.record == null && op.left.isEmpty() ? knownListed.get(op.conv.id) : null;
        for (String user : op.joined) {
            if (listed != null && listed.contains(user)) {
                continue;
            }
            s.append(s.isEmpty() ? "" : CHANGE_SEPARATOR).append('+').append(user);
        }
        for (String user : op.left) {
            s.append(s.isEmpty() ? "" : CHANGE_SEPARATOR).append('-').append(user);
        }
        return s.toString();
    }

    /** On the event loop: the reply of one append script call. */
    private void onBatch(Conv conv, List<Op> batch, List<Object> reply, Throwable error) {
        if (error != null) {
            noteFailure(error);
            Throwable failed = unavailable("append", error);
            synchronized (conv) {
                for (Op op : batch) {
                    resolveLocked(op, null, failed);
                }
            }
        } else {
            failure = null;
            for (int i = 0; i < batch.size(); i++) {
                Op op = batch.get(i);
                try {
                    item(op, asList(reply.get(i)));
                } catch (RuntimeException e) {
                    resolve(op, null, unavailable("append", unexpected("append", reply, e)));
                }
            }
        }
        synchronized (conv) {
            conv.busy = false;
        }
        pump(conv);
    }

    private void item(Op op, List<Object> item) {
        long status = (Long) item.get(0);
        long seq = (Long) item.get(1);
        String changes;
        Appended appended;
        noteHead(op.conv.id, seq);
        if (status == 1) {
            appended = new Appended(op.draft.toBuilder().setSeq(seq).build(), false);
            changes = op.changes;
        } else {
            Message original = parse((byte[]) item.get(2), seq);
            // our own script run again by Lettuce after a reconnect, or another send with the same key
            boolean own = original.getId().equals(op.draft.getId());
            if (own) {
                reruns.incrementAndGet();
            }
            appended = new Appended(original, !own);
            changes = item.get(3) == null ? "" : Keys.string((byte[]) item.get(3));
        }
        if (changes.isEmpty()) {
            resolve(op, appended, null);
            return;
        }
        String conversation = op.conv.id;
        applyChanges(conversation, seq, changes).whenComplete((v, error) -> {
            if (error == null) {
                noteListed(conversation, changes);
                sideWrite(link.async().hdel(keys.pending(conversation), Keys.utf8(Long.toString(seq))));
                resolve(op, appended, null);
            } else {
                noteFailure(error);
                resolve(op, null, unavailable("updating conversation lists", error));
            }
            pump(op.conv);
        });
    }

    /** Applies encoded list changes made at {@code seq} to each user's list; idempotent. */
    private CompletableFuture<Void> applyChanges(String conversation, long seq, String changes) {
        List<CompletableFuture<List<Object>>> calls = new ArrayList<>();
        byte[] conv = Keys.utf8(conversation);
        byte[] at = Keys.utf8(Long.toString(seq));
        for (String change : changes.split(String.valueOf(CHANGE_SEPARATOR))) {
            boolean listed = change.charAt(0) == '+';
            calls.add(script(Scripts.LIST, new byte[][] {keys.conversations(change.substring(1))}, conv, at,
                    Keys.utf8(listed ? "1" : "0")));
        }
        pipeline.drain();
        return CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new));
    }

    /** Records the list changes applied at a seq: '+' users are listed now, '-' users are not. */
    private void noteListed(String conversation, String changes) {
        if (knownListed.size() > KNOWN_MAX) {
            knownListed.clear();
        }
        Set<String> listed = knownListed.computeIfAbsent(conversation, c -> ConcurrentHashMap.newKeySet());
        for (String change : changes.split(String.valueOf(CHANGE_SEPARATOR))) {
            if (change.charAt(0) == '+') {
                listed.add(change.substring(1));
            } else {
                listed.remove(change.substring(1));
            }
        }
    }

    /** Records that {@code seq} exists in {@code conversation}. */
    private void noteHead(String conversation, long seq) {
        if (knownHeads.size() > KNOWN_MAX) {
            knownHeads.clear();
        }
        knownHeads.merge(conversation, seq, Math::max);
    }

    /**
     * An append whose client_msg_id another conversation owns: the answer is what that conversation stored under the
     * key. If it has not stored it yet (its append is in flight), look again shortly, until the deadline.
     */
    private void lookup(Op op, long deadline) {
        String owner = op.owner;
        script(Scripts.FIND, new byte[][] {keys.idempotency(owner), keys.messages(owner)},
                Keys.idempotencyField(op.draft.getSender(), op.draft.getClientMsgId()))
                .whenComplete((reply, error) -> {
                    if (error != null) {
                        noteFailure(error);
                        resolve(op, null, unavailable("looking up a duplicate", error));
                    } else if (!reply.isEmpty()) {
                        try {
                            Message original = parse((byte[]) reply.get(1), (Long) reply.get(0));
                            resolve(op, new Appended(original, !original.getId().equals(op.draft.getId())), null);
                        } catch (RuntimeException e) {
                            resolve(op, null, unavailable("looking up a duplicate", unexpected("find", reply, e)));
                        }
                    } else if (System.nanoTime() - deadline < 0) {
                        completer.schedule(() -> {
                            lookup(op, deadline);
                            pipeline.drain();
                        }, LOOKUP_RETRY_MILLIS, TimeUnit.MILLISECONDS);
                        return;
                    } else {
                        resolve(op, null, new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "client_msg_id "
                                + op.draft.getClientMsgId() + " is reserved by a send to " + owner
                                + " that is not stored", true));
                    }
                    pump(op.conv);
                });
    }

    private void resolve(Op op, Appended appended, Throwable error) {
        synchronized (op.conv) {
            resolveLocked(op, appended, error);
        }
    }

    private static void resolveLocked(Op op, Appended appended, Throwable error) {
        op.resolved = true;
        op.appended = appended;
        op.error = error;
    }

    /** On the completion thread, in submission order per conversation. */
    private void complete(List<Op> ops) {
        for (Op op : ops) {
            try {
                if (op.error != null) {
                    op.future.completeExceptionally(op.error);
                } else {
                    op.future.complete(op.appended);
                }
            } catch (RuntimeException e) {
                LOG.warn("A completion callback of the Redis store failed", e);
            } finally {
                accepted.decrementAndGet();
            }
        }
    }

    // ------------------------------------------------------------------ replace

    @Override
    public CompletionStage<Optional<Message>> replace(String conversation, long seq, String type, Any body,
                                                      Map<String, String> ext) {
        accepted.incrementAndGet();
        if (closed) {
            accepted.decrementAndGet();
            return CompletableFuture.failedFuture(closedException());
        }
        byte[] messages = keys.messages(conversation);
        byte[] field = Keys.utf8(Long.toString(seq));
        CompletableFuture<Optional<Message>> result = new CompletableFuture<>();
        link.async().hget(messages, field).toCompletableFuture().thenCompose(stored -> {
            if (stored == null) {
                return CompletableFuture.completedFuture(Optional.<Message>empty());
            }
            Message replacement = parse(stored, 0).toBuilder().setType(type).setBody(body).clearExt().putAllExt(ext)
                    .build();
            CompletableFuture<List<Object>> call = script(Scripts.REPLACE, new byte[][] {messages}, field,
                    replacement.toByteArray());
            pipeline.drain();
            return call.thenApply(reply -> (Long) reply.get(0) == 1
                    ? Optional.of(replacement.toBuilder().setSeq(seq).build()) : Optional.<Message>empty());
        }).whenComplete((replaced, error) -> onCompleter(() -> {
            try {
                if (error != null) {
                    noteFailure(error);
                    result.completeExceptionally(unavailable("replace", error));
                } else {
                    failure = null;
                    result.complete(replaced);
                }
            } finally {
                accepted.decrementAndGet();
            }
        }));
        return result;
    }

    // ------------------------------------------------------------------ watermarks and read cursors

    @Override
    public void advanceWatermark(String userId, String deviceId, String conversation, long seq) {
        raise(keys.watermarks(userId, deviceId), conversation, seq);
    }

    @Override
    public void advanceReadCursor(String userId, String conversation, long seq) {
        raise(keys.readCursors(userId), conversation, seq);
    }

    private void raise(byte[] key, String conversation, long seq) {
        if (closed) {
            return;
        }
        CompletableFuture<List<Object>> call = script(Scripts.RAISE, new byte[][] {key}, Keys.utf8(conversation),
                Keys.utf8(Long.toString(seq)));
        sideWrite(call);
        pipeline.drain();
    }

    private void sideWrite(CompletionStage<?> stage) {
        CompletableFuture<?> future = stage.toCompletableFuture();
        sideWrites.add(future);
        future.whenComplete((v, error) -> {
            sideWrites.remove(future);
            if (error != null) {
                noteFailure(error);
                long now = System.nanoTime();
                long last = lastSideFailureLog.get();
                if (now - last > TimeUnit.SECONDS.toNanos(10) && lastSideFailureLog.compareAndSet(last, now)) {
                    LOG.warn("A watermark, read cursor or cleanup write to {} failed (a device may get messages "
                            + "again): {}", link, error.toString());
                }
            }
        });
    }

    /**
     * @return a stage that completes when every watermark, read-cursor and cleanup write issued before this call has
     *         been answered (successfully or not)
     */
    public CompletableFuture<Void> flush() {
        CompletableFuture<?>[] pending = sideWrites.toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(pending).handle((v, e) -> null);
    }

    /** @return the conversations with appends not completed, for diagnostics */
    String pendingState() {
        StringBuilder out = new StringBuilder("accepted=" + accepted.get() + " sideWrites=" + sideWrites.size());
        conversations.forEach((id, conv) -> {
            synchronized (conv) {
                Op head = conv.order.peek();
                out.append("\n  ").append(id).append(" busy=").append(conv.busy).append(" waiting=")
                        .append(conv.waiting.size()).append(" order=").append(conv.order.size());
                if (head != null) {
                    out.append(" head{reserved=").append(head.reserved).append(" owner=").append(head.owner)
                            .append(" resolved=").append(head.resolved).append(" inWaiting=")
                            .append(conv.waiting.contains(head)).append('}');
                }
            }
        });
        return out.toString();
    }

    /** @return how many appends found their own earlier run of the script (Lettuce re-sent it after a reconnect) */
    long reruns() {
        return reruns.get();
    }

    // ------------------------------------------------------------------ reads

    @Override
    public Optional<Message> findByClientId(String sender, String clientMsgId) {
        byte[] owner = await(link.async().get(keys.reservation(sender, clientMsgId)));
        if (owner == null) {
            return Optional.empty();
        }
        String conversation = Keys.string(owner);
        List<Object> reply = await(call(Scripts.FIND, new byte[][] {keys.idempotency(conversation),
                keys.messages(conversation)}, Keys.idempotencyField(sender, clientMsgId)));
        return reply.isEmpty() ? Optional.empty() : Optional.of(parse((byte[]) reply.get(1), (Long) reply.get(0)));
    }

    @Override
    public List<Message> range(String conversation, long fromSeq, long toSeq, int limit) {
        List<Message> result = new ArrayList<>();
        long from = Math.max(1, fromSeq);
        byte[][] scriptKeys = {keys.head(conversation), keys.messages(conversation)};
        while (result.size() < limit && from <= toSeq) {
            int chunk = Math.min(RANGE_CHUNK, limit - result.size());
            long to = toSeq - from >= chunk - 1 ? from + chunk - 1 : toSeq;
            List<Object> reply = await(call(Scripts.RANGE, scriptKeys, Keys.utf8(Long.toString(from)),
                    Keys.utf8(Long.toString(to)), Keys.utf8(Integer.toString(chunk))));
            if (reply.isEmpty()) {
                break;
            }
            long first = (Long) reply.get(0);
            for (int i = 1; i < reply.size(); i++) {
                byte[] bytes = (byte[]) reply.get(i);
                if (bytes == null) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "seq " + (first + i - 1) + " of "
                            + conversation + " is missing in Redis", true);
                }
                result.add(parse(bytes, first + i - 1));
            }
            int read = reply.size() - 1;
            if (read < chunk) {
                break;
            }
            from += read;
        }
        return result;
    }

    @Override
    public long head(String conversation) {
        long head = number(await(link.async().get(keys.head(conversation))));
        if (head > 0) {
            noteHead(conversation, head);
        }
        return head;
    }

    /** Answers from the seqs this node appended or read when it can; asks Redis only for a seq beyond them. */
    @Override
    public boolean holdsSeq(String conversation, long seq) {
        return knownToHold(conversation, seq) || head(conversation) >= seq;
    }

    /** Answers from the heads this node appended or read; no round trip. */
    @Override
    public boolean knownToHold(String conversation, long seq) {
        Long known = knownHeads.get(conversation);
        return known != null && seq <= known;
    }

    /** A lookup is a round trip (behind an fsync with appendfsync always); the append de-duplicates anyway. */
    @Override
    public boolean lookupBeforeAppend() {
        return false;
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        Map<byte[], byte[]> listed = await(link.async().hgetall(keys.conversations(userId)));
        Map<String, RedisFuture<byte[]>> heads = new LinkedHashMap<>();
        for (Map.Entry<byte[], byte[]> e : listed.entrySet()) {
            if (number(e.getValue()) > 0) {
                String conversation = Keys.string(e.getKey());
                heads.put(conversation, link.async().get(keys.head(conversation)));
            }
        }
        List<ConversationHead> result = new ArrayList<>(heads.size());
        for (Map.Entry<String, RedisFuture<byte[]>> e : heads.entrySet()) {
            result.add(new ConversationHead(e.getKey(), number(await(e.getValue()))));
        }
        return result;
    }

    @Override
    public Map<String, Long> watermarks(String userId, String deviceId) {
        return numbers(await(link.async().hgetall(keys.watermarks(userId, deviceId))));
    }

    @Override
    public Optional<byte[]> groupRecord(String groupId) {
        return Optional.ofNullable(await(link.async().get(keys.record("g:" + groupId))));
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        return numbers(await(link.async().hgetall(keys.readCursors(userId))));
    }

    @Override
    public Map<String, Long> readCursorsIn(String conversation, Collection<String> userIds) {
        byte[] field = Keys.utf8(conversation);
        Map<String, RedisFuture<byte[]>> lookups = new LinkedHashMap<>();
        for (String user : userIds) {
            lookups.put(user, link.async().hget(keys.readCursors(user), field));
        }
        Map<String, Long> result = new HashMap<>();
        for (Map.Entry<String, RedisFuture<byte[]>> e : lookups.entrySet()) {
            byte[] value = await(e.getValue());
            if (value != null) {
                result.put(e.getKey(), number(value));
            }
        }
        return result;
    }

    @Override
    public Optional<String> writeFailure() {
        if (closed) {
            return Optional.of("the Redis message store is closed");
        }
        if (!link.isOpen()) {
            return Optional.of("not connected to " + link);
        }
        return Optional.ofNullable(failure);
    }

    // ------------------------------------------------------------------ close

    /**
     * Refuses new writes, waits until every accepted append, group event and replacement has completed and every
     * side write has been answered (each is bounded by the command timeout), then closes the connection and stops the
     * client's threads and the completion thread. Blocking.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        long deadline = System.nanoTime() + options.commandTimeout().toNanos() + TimeUnit.SECONDS.toNanos(5);
        try {
            while (accepted.get() > 0 && System.nanoTime() - deadline < 0) {
                Thread.sleep(2);
            }
            flush().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("Closing the Redis store with writes unanswered", e);
        }
        if (accepted.get() > 0) {
            LOG.warn("Closing the Redis store with {} appends not completed", accepted.get());
        }
        completer.shutdown();
        try {
            completer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        link.close();
    }

    // ------------------------------------------------------------------ plumbing

    /** Queues EVALSHA (EVAL if Redis does not know the script); the caller drains the pipeline. */
    private CompletableFuture<List<Object>> script(Script script, byte[][] scriptKeys, byte[]... args) {
        CompletableFuture<List<Object>> result = new CompletableFuture<>();
        send(script, false, scriptKeys, args, result);
        return result;
    }

    /** {@link #script} and drain. */
    private CompletableFuture<List<Object>> call(Script script, byte[][] scriptKeys, byte[]... args) {
        CompletableFuture<List<Object>> result = script(script, scriptKeys, args);
        pipeline.drain();
        return result;
    }

    private void send(Script script, boolean eval, byte[][] scriptKeys, byte[][] args,
                      CompletableFuture<List<Object>> result) {
        CommandArgs<byte[], byte[]> commandArgs = new CommandArgs<>(ByteArrayCodec.INSTANCE)
                .add(eval ? script.body() : script.sha()).add(scriptKeys.length).addKeys(scriptKeys)
                .addValues(args);
        AsyncCommand<byte[], byte[], List<Object>> command = new AsyncCommand<>(new Command<>(
                eval ? CommandType.EVAL : CommandType.EVALSHA, new NestedMultiOutput<>(ByteArrayCodec.INSTANCE),
                commandArgs));
        command.whenComplete((reply, error) -> {
            if (error == null) {
                result.complete(asList(reply));
            } else if (!eval && unwrap(error) instanceof RedisNoScriptException) {
                // Redis restarted or its script cache was flushed: load it with EVAL (a no-op if it ran already)
                send(script, true, scriptKeys, args, result);
                pipeline.drain();
            } else {
                result.completeExceptionally(unwrap(error));
            }
        });
        pipeline.enqueue(command);
    }

    /** Runs on the completion thread; inline if it has stopped (a close that gave up waiting). */
    private void onCompleter(Runnable task) {
        try {
            completer.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            task.run();
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asList(Object reply) {
        return (List<Object>) reply;
    }

    private <T> T await(CompletionStage<T> stage) {
        try {
            return stage.toCompletableFuture().get(options.commandTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "interrupted while reading from Redis", true);
        } catch (ExecutionException | TimeoutException e) {
            throw unavailable("read", e);
        }
    }

    private void noteFailure(Throwable error) {
        Throwable cause = unwrap(error);
        if (cause instanceof RedisConnectionException || cause instanceof RedisCommandTimeoutException) {
            failure = "Redis (" + link + ") does not answer: " + cause.getMessage();
        } else if (cause instanceof RedisCommandExecutionException && cause.getMessage() != null) {
            String m = cause.getMessage();
            if (m.startsWith("OOM") || m.startsWith("MISCONF") || m.startsWith("READONLY") || m.startsWith("LOADING")
                    || m.startsWith("CLUSTERDOWN") || m.startsWith("MASTERDOWN") || m.startsWith("NOREPLICAS")) {
                failure = "Redis (" + link + ") refuses writes: " + m;
            }
        }
    }

    /** A reply this store cannot read: the operation fails (retryable) instead of hanging, and it is logged. */
    private static RuntimeException unexpected(String script, Object reply, RuntimeException e) {
        LOG.warn("Unexpected reply of the {} script: {}", script, reply, e);
        return new IllegalStateException("unexpected reply of the " + script + " script: " + e, e);
    }

    private static Throwable unwrap(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    private ParleyException unavailable(String what, Throwable error) {
        Throwable cause = unwrap(error);
        if (cause instanceof ParleyException pe) {
            return pe;
        }
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "Redis " + what + " failed: " + cause, true);
    }

    private static ParleyException closedException() {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the Redis message store is closed", true);
    }

    private static Message parse(byte[] bytes, long seq) {
        try {
            return Message.newBuilder().mergeFrom(bytes).setSeq(seq).build();
        } catch (InvalidProtocolBufferException e) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INTERNAL, "a stored message does not parse: " + e);
        }
    }

    private static long number(byte[] value) {
        return value == null ? 0 : Long.parseLong(Keys.string(value));
    }

    private static Map<String, Long> numbers(Map<byte[], byte[]> hash) {
        Map<String, Long> result = new HashMap<>();
        hash.forEach((k, v) -> result.put(Keys.string(k), number(v)));
        return result;
    }
}
