package io.parley.command.recall;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.command.recall.proto.Recall;
import io.parley.command.recall.proto.Recalled;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Who may recall which message, in plain Java (no OSGi, no engine): the payload's shape, the sender's window, the
 * group roles that lift it, and the messages that cannot be recalled at all. Immutable, thread-safe.
 *
 * <ul>
 * <li>The sender of a message may recall it while {@code now - server_time <= window}; a window of 0 means senders
 * may not recall at all.</li>
 * <li>In a group, the owner and the admins may recall any member's message (their own included) at any time.</li>
 * <li>Nobody else may ({@code FORBIDDEN}). Nobody may act in a dissolved group ({@code FORBIDDEN}, as for sends).</li>
 * <li>System events — a group's {@code group.event}s and whatever commands appended, the recall events included —
 * are part of every member's history and cannot be recalled ({@code INVALID_REQUEST}).</li>
 * <li>A message that is already a {@value #TOMBSTONE_TYPE} tombstone is recalled already: whoever may recall it gets
 * {@link Decision#ALREADY_RECALLED} (the command answers success, with the recall that holds), and the window no
 * longer matters.</li>
 * </ul>
 * Membership is the core's check ({@code NOT_FOUND} for non-members, before these rules run).
 */
public final class RecallRules {
    /** The command type, the routing key on the wire. */
    public static final String COMMAND_TYPE = "recall";
    /** Message type of the tombstone that replaces a recalled message in place. */
    public static final String TOMBSTONE_TYPE = "recalled";
    /** Message type of the event appended to the conversation's seq stream. */
    public static final String EVENT_TYPE = "recall.event";
    /** The payload's type URL. */
    public static final String PAYLOAD_TYPE_URL = "type.googleapis.com/" + Recall.getDescriptor().getFullName();
    static final String TOMBSTONE_TYPE_URL = "type.googleapis.com/" + Recalled.getDescriptor().getFullName();
    /** Prefixes of the idempotency keys of system events (protocol.md §4: reserved for group operations, commands). */
    private static final String[] EVENT_KEY_PREFIXES = {"group:", "command:"};
    private static final int MAX_CONVERSATION_LENGTH = 256;

    /** What a permitted recall does. */
    public enum Decision {
        /** Tombstone the message and announce it. */
        RECALL,
        /** It is a tombstone already: answer with the recall that holds, change nothing. */
        ALREADY_RECALLED
    }

    private final Duration window;

    /**
     * @param window how long after sending its sender may recall a message; {@link Duration#ZERO}: never
     * @throws IllegalArgumentException if negative
     */
    public RecallRules(Duration window) {
        if (window.isNegative()) {
            throw new IllegalArgumentException("the recall window must not be negative: " + window);
        }
        this.window = window;
    }

    public Duration window() {
        return window;
    }

    /** @throws ParleyException INVALID_REQUEST unless {@code payload} is a well-formed {@code parley.recall.v1.Recall} */
    public Recall parse(Any payload) {
        if (payload == null || !PAYLOAD_TYPE_URL.equals(payload.getTypeUrl())) {
            throw invalid("a recall needs a parley.recall.v1.Recall payload, not '"
                    + (payload == null ? null : payload.getTypeUrl()) + "'");
        }
        Recall recall;
        try {
            recall = Recall.parseFrom(payload.getValue());
        } catch (InvalidProtocolBufferException e) {
            throw invalid("the recall payload is malformed");
        }
        if (recall.getConversation().isEmpty() || recall.getConversation().length() > MAX_CONVERSATION_LENGTH) {
            throw invalid("a recall names a conversation (1-" + MAX_CONVERSATION_LENGTH + " characters)");
        }
        if (recall.getSeq() < 1) {
            throw invalid("a recall names the seq of a message (1 or more)");
        }
        return recall;
    }

    /**
     * @param target the stored message the recall names
     * @param caller the calling user
     * @param group  the group of the conversation, empty for a direct conversation
     * @param now    when the command was received
     * @throws ParleyException FORBIDDEN or INVALID_REQUEST, with the reason, when the recall is refused
     */
    public Decision check(Message target, String caller, Optional<Group> group, Instant now) {
        if (group.isPresent() && group.get().getDissolved()) {
            throw forbidden("the group is dissolved: its history can no longer change");
        }
        boolean tombstone = TOMBSTONE_TYPE.equals(target.getType());
        if (!tombstone && isSystemEvent(target)) {
            throw invalid("message " + target.getSeq() + " is a system event (" + target.getType()
                    + "), not a message: it cannot be recalled");
        }
        boolean manager = group.flatMap(g -> member(g, caller))
                .map(m -> m.getRole() == GroupRole.GROUP_ROLE_OWNER || m.getRole() == GroupRole.GROUP_ROLE_ADMIN)
                .orElse(false);
        boolean own = target.getSender().equals(caller);
        if (!own && !manager) {
            throw forbidden("only its sender, or a group's owner or admins, may recall a message");
        }
        if (tombstone) {
            return Decision.ALREADY_RECALLED;
        }
        if (!manager) {
            if (window.isZero()) {
                throw forbidden("this server does not let senders recall their messages");
            }
            Duration age = Duration.ofMillis(now.toEpochMilli() - target.getServerTime());
            if (age.compareTo(window) > 0) {
                throw forbidden("message " + target.getSeq() + " can no longer be recalled: the window of "
                        + describe(window) + " after sending has passed");
            }
        }
        return Decision.RECALL;
    }

    /** @return true for messages the core appended on behalf of a group operation or a command */
    public static boolean isSystemEvent(Message m) {
        for (String prefix : EVENT_KEY_PREFIXES) {
            if (m.getClientMsgId().startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /** @return the tombstone's body, or an empty one if it does not parse (a tombstone written by something else) */
    static Recalled tombstoneOf(Message m) {
        if (!TOMBSTONE_TYPE_URL.equals(m.getBody().getTypeUrl())) {
            return Recalled.getDefaultInstance();
        }
        try {
            return Recalled.parseFrom(m.getBody().getValue());
        } catch (InvalidProtocolBufferException e) {
            return Recalled.getDefaultInstance();
        }
    }

    private static Optional<GroupMember> member(Group g, String user) {
        for (GroupMember m : g.getMembersList()) {
            if (m.getUser().equals(user)) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    static String describe(Duration d) {
        long s = d.toSeconds();
        if (s % 3600 == 0 && s >= 3600) {
            return s / 3600 + (s == 3600 ? " hour" : " hours");
        }
        if (s % 60 == 0 && s >= 60) {
            return s / 60 + (s == 60 ? " minute" : " minutes");
        }
        return s + (s == 1 ? " second" : " seconds");
    }

    private static ParleyException invalid(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, message);
    }

    private static ParleyException forbidden(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, message);
    }
}
