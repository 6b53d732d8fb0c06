package io.parley.core.spi.store;

import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Message archive plus the small key-value state delivery needs: per-conversation seq, the dedupe index, each
 * user's conversation list and per-device delivery watermarks. Registered as an OSGi service with
 * {@value #NAME}; the core binds the one its configuration names.
 *
 * <p>Threading: every method is thread-safe. {@link #append}, {@link #advanceWatermark} and {@link #knownToHold}
 * must not block; the other read methods may do disk I/O and are only called from core workers, never from a network
 * event loop. {@link #advanceWatermark} and {@link #knownToHold} may be called on an event loop.
 *
 * <p>Contract (checked for every store by the contract suite in this bundle's test jar):
 * <ul>
 *   <li>seq starts at 1 and rises by exactly 1 per conversation; a seq is never reused, across restarts too;</li>
 *   <li>appends submitted from one thread are sequenced in submission order;</li>
 *   <li>the append stages of one conversation complete in seq order (the core delivers from the completion,
 *       so this keeps live delivery in order);</li>
 *   <li>an append stage completes only when the message is durable under the store's documented policy;</li>
 *   <li>(sender, client_msg_id) is unique: a repeated append returns the original with {@code duplicate};</li>
 *   <li>watermarks only move forward.</li>
 * </ul>
 */
@ConsumerType
public interface MessageStore {

    /** Service property (String): the store's name, e.g. {@code "mvstore"}, {@code "memory"}. */
    String NAME = "parley.store.name";

    /**
     * @param draft   a message with every core field but {@code seq} set (id, client_msg_id, sender,
     *                sender_device, conversation, server_time, type, body)
     * @param members users to list the conversation for in {@link #conversations} (for 1:1: both users); may be
     *                empty (group messages: group members are listed through {@link #appendGroupEvent})
     * @return the stored message (with seq) and whether it was a duplicate; completed on a store thread, so
     *         callers hop to their own executor for real work
     */
    CompletionStage<Appended> append(Message draft, Collection<String> members);

    /** @return the message an earlier append stored for this idempotency key, if any */
    Optional<Message> findByClientId(String sender, String clientMsgId);

    /**
     * @param fromSeq first seq, inclusive (at least 1)
     * @param toSeq   last seq, inclusive; {@code Long.MAX_VALUE} for "up to the head"
     * @param limit   maximum number of messages returned
     * @return the stored messages in that range, in seq order
     */
    List<Message> range(String conversation, long fromSeq, long toSeq, int limit);

    /** @return the highest seq of the conversation, 0 if it has none */
    long head(String conversation);

    /**
     * Asked for every delivery ack and read mark (a seq beyond the head is refused). A store whose {@link #head} is a
     * network round trip answers from the seqs it appended or read before and asks its backend only beyond them.
     *
     * @return true if the conversation's head is at least {@code seq}
     * @since 1.2
     */
    default boolean holdsSeq(String conversation, long seq) {
        return head(conversation) >= seq;
    }

    /**
     * Asked on a network event loop for every delivery ack, before {@link #holdsSeq}: a store that can tell from
     * memory that the conversation's head is at least {@code seq} answers true, and the core applies the ack there
     * without handing it to a worker. Must not block, do I/O or take a lock that a write holds long.
     *
     * @return true if the head is known to be at least {@code seq}; false if it is not known without a lookup (the
     *         default) — false does not mean the store lacks {@code seq}: the core then asks {@link #holdsSeq} on a
     *         worker
     * @since 1.3
     */
    default boolean knownToHold(String conversation, long seq) {
        return false;
    }

    /**
     * @return true (the default) if the core should look every send's idempotency key up with {@link #findByClientId}
     *         before running the type's processor, so that a repeated send is answered without processing it again;
     *         false for a store whose lookup is a network round trip — the core then leaves de-duplication to
     *         {@link #append}, which reports a repeat as a duplicate and stores nothing (the processor runs again)
     * @since 1.2
     */
    default boolean lookupBeforeAppend() {
        return true;
    }

    /** @return every conversation the user is a member of, with its head */
    List<ConversationHead> conversations(String userId);

    /** @return conversation → the highest seq this device acknowledged; conversations it never acked are absent */
    Map<String, Long> watermarks(String userId, String deviceId);

    /**
     * Raise the device's watermark for a conversation to {@code seq} if it is higher. May be applied
     * asynchronously and made durable with the next group commit: after a crash a watermark may be a little
     * behind, which only means some messages are delivered again (clients de-duplicate by seq).
     */
    void advanceWatermark(String userId, String deviceId, String conversation, long seq);

    /**
     * Appends a group's system event and replaces the group's record, in one atomic, durable step, and updates
     * the conversation lists: {@code joined} users get the group conversation in {@link #conversations}, {@code left}
     * users lose it. Sequencing, dedupe on (sender, client_msg_id) and ordering are those of {@link #append}; on a
     * duplicate nothing is changed (record and lists stay as they are) and the original event is returned.
     *
     * @param event   a {@code group.event} message draft for conversation {@code "g:" + groupId}
     * @param groupId the group
     * @param record  the group's new record (opaque bytes, owned by the core)
     */
    CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                               Collection<String> joined, Collection<String> left);

    /** @return the record the last {@link #appendGroupEvent} stored for the group, if any */
    Optional<byte[]> groupRecord(String groupId);

    /**
     * Raise the user's read cursor for a conversation to {@code seq} if it is higher. Same durability as
     * {@link #advanceWatermark}.
     */
    void advanceReadCursor(String userId, String conversation, long seq);

    /** @return conversation → the user's read cursor; conversations never marked read are absent */
    Map<String, Long> readCursors(String userId);

    /**
     * The read cursors of several users in one conversation. The core calls it (from a worker) once per large group
     * to count how many members have read each message, and for members who join such a group. The default asks
     * {@link #readCursors(String)} once per user; a store that can look a cursor up by (user, conversation) directly
     * should override it.
     *
     * @param userIds the users to look up (for the core: the group's members; up to {@code group.max.members})
     * @return user → read cursor in {@code conversation}, for those of {@code userIds} that have one
     * @since 2.1
     */
    default Map<String, Long> readCursorsIn(String conversation, Collection<String> userIds) {
        Map<String, Long> result = new HashMap<>();
        for (String user : userIds) {
            Long seq = readCursors(user).get(conversation);
            if (seq != null) {
                result.put(user, seq);
            }
        }
        return result;
    }

    /**
     * Why the store cannot accept writes right now (a full disk, a failed device), or empty while it can. While it
     * reports a problem, writes fail with a retryable {@code UNAVAILABLE} and reads keep working from what is
     * durable; the store recovers by itself when the cause goes away. The core reports the store DOWN in health and
     * readiness checks while this is non-empty. Cheap and non-blocking; any thread.
     *
     * @since 2.2
     */
    default Optional<String> writeFailure() {
        return Optional.empty();
    }

    /**
     * Replaces the message at {@code (conversation, seq)} in place: the recall (tombstone) primitive. The replacement
     * keeps every field the core owns — id, client_msg_id, sender, sender_device, conversation, seq, server_time —
     * and takes {@code type}, {@code body} and {@code ext}; its idempotency key keeps pointing at it. Ordered and
     * durable like {@link #append} (the stage completes when the change is durable); a reader sees the old message or
     * the new one, never a mix. Must not block.
     *
     * @return the replacement as stored, or empty if there is no message at that seq
     * @since 1.1
     */
    default CompletionStage<Optional<Message>> replace(String conversation, long seq, String type,
                                                       com.google.protobuf.Any body, Map<String, String> ext) {
        return java.util.concurrent.CompletableFuture.failedFuture(new io.parley.core.api.ParleyException(
                io.parley.core.proto.ErrorCode.ERROR_CODE_UNAVAILABLE, "this message store cannot replace messages"));
    }

    /** The result of {@link #append}. */
    record Appended(Message message, boolean duplicate) {
    }

    /** One entry of a user's conversation list. */
    record ConversationHead(String conversation, long head) {
    }
}
