package io.parley.core.spi.delivery;

import io.parley.core.proto.Message;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What {@link NotificationDispatcher#dispatch} is told about one stored message. Immutable; the collections are
 * unmodifiable and may be shared between channels.
 *
 * @param message    the stored message, with its seq
 * @param preview    the text the message's processor chose for notifications (e.g. the start of a text)
 * @param recipients the users to notify, each once, never the sender: for {@link NotificationDispatcher#SCOPE_ALL}
 *                   every other member of the conversation, for {@link NotificationDispatcher#SCOPE_OFFLINE} those
 *                   of them without a session on this node (with a cluster link: on any node)
 * @param online     the recipients that have a session on this node, or with a cluster link on any node (always
 *                   empty for the offline scope)
 */
public record Notification(Message message, String preview, List<String> recipients, Set<String> online) {

    public Notification {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(preview, "preview");
        recipients = List.copyOf(recipients);
        online = Set.copyOf(online);
    }
}
