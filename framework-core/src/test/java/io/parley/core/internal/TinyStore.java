package io.parley.core.internal;

import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The smallest store the engine runs on, for the core's own tests (two engines may share one, as cluster nodes share
 * theirs): every call synchronized, appends completed at once on the caller's thread.
 */
final class TinyStore implements MessageStore {
    private final Map<String, List<Message>> messages = new HashMap<>();
    private final Map<String, Message> byClientId = new HashMap<>();
    private final Map<String, Map<String, Long>> lists = new HashMap<>();
    private final Map<String, Map<String, Long>> watermarks = new HashMap<>();
    private final Map<String, Map<String, Long>> cursors = new HashMap<>();
    private final Map<String, byte[]> groups = new HashMap<>();
    /** Whether {@link #knownToHold} answers from the head (the default) or never, as a store that must look it up. */
    volatile boolean knowsHeads = true;
    /** The thread of the last {@link #advanceWatermark}. */
    volatile Thread lastWatermarkThread;
    /** The thread of the last {@link #append}. */
    volatile Thread lastAppendThread;
    /** How many times {@link #findByClientId} was asked. */
    final java.util.concurrent.atomic.AtomicInteger lookups = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public synchronized CompletionStage<Appended> append(Message draft, Collection<String> members) {
        lastAppendThread = Thread.currentThread();
        Message original = byClientId.get(draft.getSender() + '\0' + draft.getClientMsgId());
        if (original != null) {
            return CompletableFuture.completedFuture(new Appended(original, true));
        }
        List<Message> log = messages.computeIfAbsent(draft.getConversation(), c -> new ArrayList<>());
        Message stored = draft.toBuilder().setSeq(log.size() + 1).build();
        log.add(stored);
        byClientId.put(draft.getSender() + '\0' + draft.getClientMsgId(), stored);
        for (String m : members) {
            lists.computeIfAbsent(m, u -> new HashMap<>()).put(draft.getConversation(), 0L);
        }
        return CompletableFuture.completedFuture(new Appended(stored, false));
    }

    @Override
    public synchronized Optional<Message> findByClientId(String sender, String clientMsgId) {
        lookups.incrementAndGet();
        return Optional.ofNullable(byClientId.get(sender + '\0' + clientMsgId));
    }

    @Override
    public synchronized List<Message> range(String conversation, long fromSeq, long toSeq, int limit) {
        List<Message> out = new ArrayList<>();
        for (Message m : messages.getOrDefault(conversation, List.of())) {
            if (m.getSeq() >= fromSeq && m.getSeq() <= toSeq && out.size() < limit) {
                out.add(m);
            }
        }
        return out;
    }

    @Override
    public synchronized long head(String conversation) {
        return messages.getOrDefault(conversation, List.of()).size();
    }

    @Override
    public synchronized boolean knownToHold(String conversation, long seq) {
        return knowsHeads && head(conversation) >= seq;
    }

    @Override
    public synchronized List<ConversationHead> conversations(String userId) {
        List<ConversationHead> out = new ArrayList<>();
        lists.getOrDefault(userId, Map.of()).keySet().forEach(c -> out.add(new ConversationHead(c, head(c))));
        return out;
    }

    @Override
    public synchronized Map<String, Long> watermarks(String userId, String deviceId) {
        return new HashMap<>(watermarks.getOrDefault(userId + '/' + deviceId, Map.of()));
    }

    @Override
    public synchronized void advanceWatermark(String userId, String deviceId, String conversation, long seq) {
        lastWatermarkThread = Thread.currentThread();
        watermarks.computeIfAbsent(userId + '/' + deviceId, k -> new HashMap<>()).merge(conversation, seq, Math::max);
    }

    @Override
    public synchronized CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                                   Collection<String> joined, Collection<String> left) {
        if (byClientId.containsKey(event.getSender() + '\0' + event.getClientMsgId())) {
            return append(event, List.of());
        }
        groups.put(groupId, record.clone());
        joined.forEach(u -> lists.computeIfAbsent(u, x -> new HashMap<>()).put(event.getConversation(), 0L));
        left.forEach(u -> lists.getOrDefault(u, new HashMap<>()).remove(event.getConversation()));
        return append(event, List.of());
    }

    @Override
    public synchronized Optional<byte[]> groupRecord(String groupId) {
        return Optional.ofNullable(groups.get(groupId)).map(byte[]::clone);
    }

    @Override
    public synchronized void advanceReadCursor(String userId, String conversation, long seq) {
        cursors.computeIfAbsent(userId, k -> new HashMap<>()).merge(conversation, seq, Math::max);
    }

    @Override
    public synchronized Map<String, Long> readCursors(String userId) {
        return new HashMap<>(cursors.getOrDefault(userId, Map.of()));
    }
}
