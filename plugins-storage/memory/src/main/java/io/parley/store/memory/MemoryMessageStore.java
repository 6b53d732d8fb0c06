package io.parley.store.memory;

import com.google.protobuf.Any;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * A {@link MessageStore} that keeps everything on the heap, for tests, demos and single-node setups that do not
 * need history across restarts.
 *
 * <p>Durability policy: <b>none</b>. An append completes as soon as the message is in memory (before the stage is
 * returned); everything is lost when the bundle stops or the JVM exits, and seqs restart at 1 afterwards.
 *
 * <p>Retention: nothing is evicted (dropping history would silently lose messages that offline devices have not
 * fetched yet). Instead the store is bounded by {@link Limits}: once it holds {@code maxMessages} messages or
 * {@code maxBytes} of them (serialized size plus a fixed per-message overhead), every further append, group event
 * and growing replacement fails as retryable {@code UNAVAILABLE}, and {@link #writeFailure()} says why, so the
 * server's health turns DOWN instead of the heap running out.
 *
 * <p>Threading: every method is thread-safe and non-blocking apart from short per-conversation monitors. Seqs are
 * assigned under the conversation's monitor, so appends from one thread are sequenced in call order. The
 * idempotency key is claimed with one atomic {@code putIfAbsent} before the seq is assigned, so of several
 * concurrent appends with the same key exactly one is stored; the others complete with it once it is.
 *
 * <p>A group event replaces the record and updates the conversation lists under the group conversation's monitor,
 * before its message becomes visible to {@link #range}/{@link #head}: the record and lists belong to the event with
 * the highest seq, and a reader that sees the event also sees its effects. Readers are not locked out, so one may
 * see the new record with the previous head, or one user's list updated before another's.
 */
public final class MemoryMessageStore implements MessageStore {

    /**
     * The store's bound.
     *
     * @param maxMessages most messages held (group events and tombstones included); at least 1
     * @param maxBytes    most bytes of messages held, counted as serialized size + {@link #OVERHEAD_BYTES} each
     */
    public record Limits(long maxMessages, long maxBytes) {
        /** Heap cost of a stored message beyond its serialized bytes (the message, its strings and maps, the idempotency
         * entry): ~550 bytes measured for a 64-byte text on Java 17 with compressed oops, rounded up. */
        public static final int OVERHEAD_BYTES = 600;

        public Limits {
            if (maxMessages < 1 || maxBytes < 1) {
                throw new IllegalArgumentException("memory store limits must be positive: " + maxMessages
                        + " messages, " + maxBytes + " bytes");
            }
        }

        /** No practical bound (tests). */
        public static Limits unbounded() {
            return new Limits(Long.MAX_VALUE, Long.MAX_VALUE);
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(MemoryMessageStore.class);

    private final Limits limits;
    private final AtomicLong heldMessages = new AtomicLong();
    private final AtomicLong heldBytes = new AtomicLong();
    /** Set by the first refusal for lack of room; the store never frees room, so it stays set. */
    private volatile String full;

    private final ConcurrentHashMap<String, Conversation> conversations = new ConcurrentHashMap<>();
    /** (sender, client_msg_id) → the stored message; incomplete while its append is running. */
    private final ConcurrentHashMap<ClientKey, CompletableFuture<Message>> byClientId = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Set<String>> memberships = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<DeviceKey, ConcurrentHashMap<String, Long>> watermarks = new ConcurrentHashMap<>();
    /** groupId → the record of its last event; the arrays are private copies, never handed out. */
    private final ConcurrentHashMap<String, byte[]> groups = new ConcurrentHashMap<>();
    /** user → conversation → read cursor. */
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Long>> readCursors = new ConcurrentHashMap<>();

    /** An unbounded store (tests). */
    public MemoryMessageStore() {
        this(Limits.unbounded());
    }

    public MemoryMessageStore(Limits limits) {
        this.limits = limits;
    }

    /** Messages held now (group events and tombstones included). */
    public long heldMessages() {
        return heldMessages.get();
    }

    /** Bytes held now, as counted against {@link Limits#maxBytes}. */
    public long heldBytes() {
        return heldBytes.get();
    }

    @Override
    public Optional<String> writeFailure() {
        return Optional.ofNullable(full);
    }

    /**
     * Takes room for {@code messages} more messages of {@code bytes} more bytes (either may be 0, bytes may be
     * negative), or throws retryable UNAVAILABLE and takes nothing.
     */
    private void reserve(long messages, long bytes) {
        long m = heldMessages.addAndGet(messages);
        long b = heldBytes.addAndGet(bytes);
        if ((messages > 0 && m > limits.maxMessages()) || (bytes > 0 && b > limits.maxBytes())) {
            heldMessages.addAndGet(-messages);
            heldBytes.addAndGet(-bytes);
            String reason = "the in-memory store is full (" + (m - messages) + " of at most " + limits.maxMessages()
                    + " messages, " + (b - bytes) + " of at most " + limits.maxBytes()
                    + " bytes; max.messages / max.bytes in parley.store.memory.cfg); it keeps every message until the"
                    + " server restarts";
            if (full == null) {
                LOG.warn("Refusing writes as retryable UNAVAILABLE from now on: {}", reason);
            }
            full = reason;
            throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, reason, true);
        }
    }

    private static long cost(Message m) {
        return m.getSerializedSize() + Limits.OVERHEAD_BYTES;
    }

    @Override
    public CompletionStage<Appended> append(Message draft, Collection<String> members) {
        if (draft.getConversation().isEmpty() || draft.getSender().isEmpty()) {
            return invalid("a draft needs a conversation and a sender");
        }
        List<String> memberList = List.copyOf(members);
        return appendOnce(draft, d -> store(d, memberList));
    }

    /**
     * {@inheritDoc}
     *
     * <p>A user in both {@code joined} and {@code left} ends up not listed.
     */
    @Override
    public CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                      Collection<String> joined, Collection<String> left) {
        if (groupId == null || groupId.isEmpty() || record == null) {
            return invalid("a group event needs a group id and a record");
        }
        if (!event.getConversation().equals("g:" + groupId) || event.getSender().isEmpty()) {
            return invalid("a group event needs a sender and conversation g:" + groupId);
        }
        byte[] recordCopy = record.clone();
        List<String> joinedList = List.copyOf(joined);
        List<String> leftList = List.copyOf(left);
        return appendOnce(event, d -> storeGroupEvent(d, groupId, recordCopy, joinedList, leftList));
    }

    /** Claims the draft's idempotency key (if it has one), then runs {@code store} unless it was already claimed. */
    private CompletionStage<Appended> appendOnce(Message draft, UnaryOperator<Message> store) {
        if (draft.getClientMsgId().isEmpty()) {
            return CompletableFuture.completedFuture(new Appended(store.apply(draft), false));
        }
        ClientKey key = new ClientKey(draft.getSender(), draft.getClientMsgId());
        CompletableFuture<Message> claim = new CompletableFuture<>();
        CompletableFuture<Message> original = byClientId.putIfAbsent(key, claim);
        if (original != null) {
            return original.thenApply(message -> new Appended(message, true));
        }
        try {
            Message stored = store.apply(draft);
            claim.complete(stored);
            return CompletableFuture.completedFuture(new Appended(stored, false));
        } catch (RuntimeException e) {
            byClientId.remove(key, claim);
            claim.completeExceptionally(e);
            return CompletableFuture.failedFuture(e);
        }
    }

    private Message store(Message draft, Collection<String> members) {
        String conversationId = draft.getConversation();
        reserve(1, cost(draft));
        Message stored = conversations.computeIfAbsent(conversationId, id -> new Conversation()).append(draft);
        for (String member : members) {
            memberships.computeIfAbsent(member, m -> ConcurrentHashMap.newKeySet()).add(conversationId);
        }
        return stored;
    }

    private Message storeGroupEvent(Message event, String groupId, byte[] record, List<String> joined,
                                    List<String> left) {
        String conversationId = event.getConversation();
        Conversation conversation = conversations.computeIfAbsent(conversationId, id -> new Conversation());
        synchronized (conversation) {
            reserve(1, cost(event));
            groups.put(groupId, record);
            for (String user : joined) {
                memberships.computeIfAbsent(user, m -> ConcurrentHashMap.newKeySet()).add(conversationId);
            }
            for (String user : left) {
                Set<String> ids = memberships.get(user);
                if (ids != null) {
                    ids.remove(conversationId);
                }
            }
            return conversation.append(event);
        }
    }

    private static CompletionStage<Appended> invalid(String message) {
        return CompletableFuture.failedFuture(new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, message));
    }

    @Override
    public CompletionStage<Optional<Message>> replace(String conversation, long seq, String type, Any body,
                                                      Map<String, String> ext) {
        Conversation c = conversations.get(conversation);
        Optional<Message> replaced;
        try {
            replaced = c == null ? Optional.empty() : c.replace(seq, old -> {
                Message m = old.toBuilder().setType(type).setBody(body).clearExt().putAllExt(ext).build();
                reserve(0, (long) m.getSerializedSize() - old.getSerializedSize());
                return m;
            });
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(e);
        }
        replaced.ifPresent(m -> {
            if (!m.getClientMsgId().isEmpty()) {
                byClientId.put(new ClientKey(m.getSender(), m.getClientMsgId()), CompletableFuture.completedFuture(m));
            }
        });
        return CompletableFuture.completedFuture(replaced);
    }

    @Override
    public Optional<Message> findByClientId(String sender, String clientMsgId) {
        CompletableFuture<Message> stored = byClientId.get(new ClientKey(sender, clientMsgId));
        if (stored == null || !stored.isDone() || stored.isCompletedExceptionally()) {
            return Optional.empty();
        }
        return Optional.of(stored.join());
    }

    @Override
    public List<Message> range(String conversation, long fromSeq, long toSeq, int limit) {
        Conversation c = conversations.get(conversation);
        return c == null ? List.of() : c.range(fromSeq, toSeq, limit);
    }

    @Override
    public long head(String conversation) {
        Conversation c = conversations.get(conversation);
        return c == null ? 0 : c.head();
    }

    /** The head is in memory: as exact as {@link #head}, under the conversation's lock, which appends hold briefly. */
    @Override
    public boolean knownToHold(String conversation, long seq) {
        return head(conversation) >= seq;
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        Set<String> ids = memberships.get(userId);
        if (ids == null) {
            return List.of();
        }
        List<ConversationHead> heads = new ArrayList<>(ids.size());
        for (String id : ids) {
            heads.add(new ConversationHead(id, head(id)));
        }
        heads.sort(Comparator.comparing(ConversationHead::conversation));
        return heads;
    }

    @Override
    public Map<String, Long> watermarks(String userId, String deviceId) {
        Map<String, Long> device = watermarks.get(new DeviceKey(userId, deviceId));
        return device == null ? Map.of() : Map.copyOf(device);
    }

    @Override
    public void advanceWatermark(String userId, String deviceId, String conversation, long seq) {
        watermarks.computeIfAbsent(new DeviceKey(userId, deviceId), k -> new ConcurrentHashMap<>())
                .merge(conversation, seq, Math::max);
    }

    @Override
    public Optional<byte[]> groupRecord(String groupId) {
        byte[] record = groups.get(groupId);
        return record == null ? Optional.empty() : Optional.of(record.clone());
    }

    /** Applied synchronously; a {@code seq} below 1 is ignored. */
    @Override
    public void advanceReadCursor(String userId, String conversation, long seq) {
        if (seq > 0) {
            readCursors.computeIfAbsent(userId, k -> new ConcurrentHashMap<>()).merge(conversation, seq, Math::max);
        }
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        Map<String, Long> cursors = readCursors.get(userId);
        return cursors == null ? Map.of() : Map.copyOf(cursors);
    }

    @Override
    public Map<String, Long> readCursorsIn(String conversation, Collection<String> userIds) {
        Map<String, Long> result = new HashMap<>();
        for (String user : userIds) {
            Map<String, Long> cursors = readCursors.get(user);
            Long seq = cursors == null ? null : cursors.get(conversation);
            if (seq != null) {
                result.put(user, seq);
            }
        }
        return result;
    }

    private record ClientKey(String sender, String clientMsgId) {
    }

    private record DeviceKey(String userId, String deviceId) {
    }

    /** One conversation's messages; the message with seq {@code n} is at index {@code n - 1}. */
    private static final class Conversation {
        private final ArrayList<Message> messages = new ArrayList<>();

        synchronized Message append(Message draft) {
            Message stored = draft.toBuilder().setSeq(messages.size() + 1L).build();
            messages.add(stored);
            return stored;
        }

        synchronized long head() {
            return messages.size();
        }

        /** @param change may throw; the message is then left as it was */
        synchronized Optional<Message> replace(long seq, UnaryOperator<Message> change) {
            if (seq < 1 || seq > messages.size()) {
                return Optional.empty();
            }
            Message m = change.apply(messages.get((int) (seq - 1)));
            messages.set((int) (seq - 1), m);
            return Optional.of(m);
        }

        synchronized List<Message> range(long fromSeq, long toSeq, int limit) {
            long from = Math.max(fromSeq, 1);
            long to = Math.min(toSeq, messages.size());
            if (limit <= 0 || from > to) {
                return List.of();
            }
            long end = Math.min(to, from - 1 + limit);
            return List.copyOf(messages.subList((int) (from - 1), (int) end));
        }
    }
}
