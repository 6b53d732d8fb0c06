package io.parley.client;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.Message;

/**
 * Group conversation ids and {@value #EVENT_TYPE} messages. A group {@code G} has the conversation id
 * {@code "g:" + G}; every change to it is a message of type {@value #EVENT_TYPE} in that conversation, whose
 * body packs a {@link GroupEvent}. Stateless and thread-safe.
 */
public final class Groups {
    /** The prefix of group conversation ids. */
    public static final String CONVERSATION_PREFIX = "g:";
    /** The message type of group membership and settings changes. */
    public static final String EVENT_TYPE = "group.event";
    /** The type URL of a packed {@link GroupEvent}. */
    public static final String EVENT_TYPE_URL = "type.googleapis.com/parley.v1.GroupEvent";

    private Groups() {
    }

    /**
     * @return the conversation id of group {@code groupId}
     * @throws IllegalArgumentException if {@code groupId} is null or empty
     */
    public static String conversationOf(String groupId) {
        if (groupId == null || groupId.isEmpty()) {
            throw new IllegalArgumentException("a group id is required");
        }
        return CONVERSATION_PREFIX + groupId;
    }

    /** @return true if {@code conversation} is a group conversation id */
    public static boolean isGroupConversation(String conversation) {
        return conversation != null && conversation.length() > CONVERSATION_PREFIX.length()
                && conversation.startsWith(CONVERSATION_PREFIX);
    }

    /** @return the group id of a group conversation id, or null if it is not one */
    public static String groupIdOf(String conversation) {
        return isGroupConversation(conversation) ? conversation.substring(CONVERSATION_PREFIX.length()) : null;
    }

    /** @return true if {@code m} is a {@value #EVENT_TYPE} message */
    public static boolean isEvent(Message m) {
        return EVENT_TYPE.equals(m.getType());
    }

    /**
     * @return the {@link GroupEvent} a {@value #EVENT_TYPE} message carries
     * @throws IllegalArgumentException if {@code m} is not a group event or its body does not parse
     */
    public static GroupEvent eventOf(Message m) {
        if (!isEvent(m) || !EVENT_TYPE_URL.equals(m.getBody().getTypeUrl())) {
            throw new IllegalArgumentException("not a group event: " + m.getType() + " / " + m.getBody().getTypeUrl());
        }
        try {
            return GroupEvent.parseFrom(m.getBody().getValue());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("malformed group event", e);
        }
    }

    /**
     * @return true if {@code m} is the event that made {@code user} a member: {@code CREATED} naming the user as
     *     the actor or among the users, or {@code MEMBERS_ADDED} naming the user. Malformed events are not.
     */
    static boolean addsMember(Message m, String user) {
        if (!isEvent(m) || user == null) {
            return false;
        }
        GroupEvent e;
        try {
            e = eventOf(m);
        } catch (IllegalArgumentException ex) {
            return false;
        }
        return switch (e.getKind()) {
            case KIND_CREATED -> user.equals(e.getActor()) || e.getUsersList().contains(user);
            case KIND_MEMBERS_ADDED -> e.getUsersList().contains(user);
            default -> false;
        };
    }
}
