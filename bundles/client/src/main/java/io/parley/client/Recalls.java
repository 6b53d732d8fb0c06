package io.parley.client;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.command.recall.proto.RecallEvent;
import io.parley.command.recall.proto.RecallResult;
import io.parley.command.recall.proto.Recalled;
import io.parley.core.proto.Message;

import java.time.Instant;
import java.util.Optional;

/**
 * Recalled messages (the {@value #COMMAND_TYPE} command, docs/protocol.md §6d): what a client needs to show them.
 * When a message is recalled, the server replaces it in place with a {@value #TOMBSTONE_TYPE} tombstone (same id, seq,
 * sender and time; the content is gone) and appends a {@value #EVENT_TYPE} message naming its seq to the same
 * conversation. A device that kept the original learns of the recall from the event (live, or from its resume when it
 * was offline); a device that fetches the seq later gets the tombstone. Either way: show the message as "message
 * recalled" and drop its content. {@link #of(Message)} reads both. Stateless and thread-safe.
 *
 * <p>The bodies ({@code parley.recall.v1.*}) are generated at build time from the recall bundle's own
 * {@code recall.proto} into a private copy here.
 *
 * @since 1.5
 */
public final class Recalls {
    /** The command type that recalls a message ({@link ParleyClient#recall}). */
    public static final String COMMAND_TYPE = "recall";
    /** The message type of a recalled message's tombstone. */
    public static final String TOMBSTONE_TYPE = "recalled";
    /** The message type of the event announcing a recall. */
    public static final String EVENT_TYPE = "recall.event";
    /** The prefix of the client_msg_id of what commands append (reserved: sends may not use it). */
    static final String COMMAND_KEY_PREFIX = "command:";

    private Recalls() {
    }

    /**
     * One recall: the message at {@code seq} in {@code conversation} was recalled by {@code recalledBy} at
     * {@code recalledAt}, announced by the event at {@code eventSeq}.
     */
    public record Recall(String conversation, long seq, String recalledBy, Instant recalledAt, long eventSeq) {
    }

    /** @return true if {@code m} is a recalled message's tombstone */
    public static boolean isTombstone(Message m) {
        return TOMBSTONE_TYPE.equals(m.getType());
    }

    /**
     * @return true if {@code m} is the event announcing a recall: its type, and the idempotency key the server gives
     *     what commands append ({@code command:…}, a prefix no client can send with), so no other message can pass
     *     for one
     */
    public static boolean isEvent(Message m) {
        return EVENT_TYPE.equals(m.getType()) && m.getClientMsgId().startsWith(COMMAND_KEY_PREFIX);
    }

    /**
     * @return for a tombstone or a recall event, the recall it records (for an event, its sender recalled the message
     *     it names at its server time); empty for any other message, or if the body does not parse
     */
    public static Optional<Recall> of(Message m) {
        try {
            if (isTombstone(m)) {
                Recalled r = Recalled.parseFrom(m.getBody().getValue());
                return Optional.of(new Recall(m.getConversation(), m.getSeq(), r.getRecalledBy(),
                        Instant.ofEpochMilli(r.getRecalledAt()), r.getEventSeq()));
            }
            if (isEvent(m)) {
                RecallEvent e = RecallEvent.parseFrom(m.getBody().getValue());
                return Optional.of(new Recall(m.getConversation(), e.getSeq(), m.getSender(),
                        Instant.ofEpochMilli(m.getServerTime()), m.getSeq()));
            }
        } catch (InvalidProtocolBufferException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** @return the recall a {@code parley.recall.v1.RecallResult} describes */
    static Recall of(RecallResult r) {
        return new Recall(r.getConversation(), r.getSeq(), r.getRecalledBy(), Instant.ofEpochMilli(r.getRecalledAt()),
                r.getEventSeq());
    }
}
