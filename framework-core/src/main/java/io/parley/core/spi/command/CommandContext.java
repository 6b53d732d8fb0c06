package io.parley.core.spi.command;

import com.google.protobuf.Any;
import io.parley.core.proto.Group;
import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ProviderType;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Who runs a command, and the facade a {@link CommandHandler} acts through. Implemented by the core, which authorizes
 * every call for the calling user: a handler cannot reach a conversation its caller is not a member of. Methods that
 * refuse throw (or complete exceptionally with) {@link io.parley.core.api.ParleyException}; let it propagate and the
 * client gets it as the command's error.
 *
 * <p>Thread-safe; the read methods may read the store and must be called from the handler's worker, not from a
 * network thread.
 */
@ProviderType
public interface CommandContext {

    String userId();

    String deviceId();

    /** The command's type. */
    String commandType();

    /** The client's idempotency key for this command, or empty if it gave none. */
    String clientRequestId();

    Instant receivedAt();

    /**
     * @return true if the command came through a trusted in-process adapter that authenticated the caller itself
     *         (the HTTP admin API, acting for a user or for the system account) rather than from a device: the
     *         test for administrative commands (e.g. managing sticker packs)
     * @since 1.3
     */
    default boolean trusted() {
        return false;
    }

    /**
     * @return the members of {@code conversation}, the caller included
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member
     */
    List<String> members(String conversation);

    /**
     * The group behind a group conversation, as it is now: its members with their roles and mutes, and whether it is
     * muted as a whole or dissolved — what a handler needs to apply rules that depend on the caller's role (e.g. "the
     * owner and admins may recall any member's message").
     *
     * @return the group's record, or empty for a direct (1:1) conversation
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member
     * @since 1.2
     */
    Optional<Group> group(String conversation);

    /**
     * @return the stored message at {@code seq}, or empty if there is none
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member
     */
    Optional<Message> message(String conversation, long seq);

    /**
     * Appends a message of {@code type} with {@code body}, sent by the caller from this device, to the conversation's
     * seq stream, and delivers it to every device of every member, the caller's included (like a group event; no
     * processor runs for it and no notification channel is told). With a {@link #clientRequestId()} it is stored once
     * per id: a repeated command completes with the first one's message.
     *
     * @return a stage completed with the stored message (with its seq) once it is durable
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member
     */
    CompletionStage<Message> appendEvent(String conversation, String type, Any body);

    /**
     * Replaces the stored message at {@code seq} in place with a tombstone of {@code type} and {@code body} (its ext
     * cleared): the recall primitive. The message keeps its id, seq, sender and time; what devices already received
     * is not taken back by this alone — tell them with {@link #appendEvent} (e.g. a "recalled" event naming the seq).
     * Only the message's sender may, or in a group an owner or admin.
     *
     * @return a stage completed with the replacement as stored once it is durable
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member and the message
     *                                            exists; {@code FORBIDDEN} if the caller may not replace it
     * @since 1.1
     */
    CompletionStage<Message> replace(String conversation, long seq, String type, Any body);

    /**
     * {@link #appendEvent(String, String, Any)} that also goes to the notification channels (offline push, webhooks)
     * with {@code pushPreview}, like a stored message: for events a member must learn of while offline (an incoming
     * call, a missed one). Each call of one command execution is stored once per {@link #clientRequestId()} and call
     * (the first with the key {@code appendEvent} uses, the n-th after it with {@code #n} added), so a command may
     * append several events and still be repeated safely.
     *
     * @param pushPreview the notification's preview text; null: none, as {@link #appendEvent(String, String, Any)}
     * @return a stage completed with the stored message (with its seq) once it is durable
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member
     * @since 1.4
     */
    default CompletionStage<Message> appendEvent(String conversation, String type, Any body, String pushPreview) {
        throw new UnsupportedOperationException("appendEvent with a preview needs io.parley.core.spi.command 1.4");
    }

    /**
     * Relays a message of {@code type} with {@code body}, sent by the caller from this device, to exactly
     * {@code devices} — each one's sessions on this node and, through the cluster link with a device filter, on the
     * others; never to any other device of those users. Relayed like a {@code ProcessResult.relay}: {@code seq = 0},
     * never stored, in no history, resume or notification; a device with no session gets nothing and the caller is
     * not told. Returns once the message is handed to the sessions and the link.
     *
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless the caller is a member; {@code FORBIDDEN} if
     *                                            a device's user is not a member
     * @since 1.4
     */
    default void relayTo(String conversation, String type, Any body, Collection<DeviceAddress> devices) {
        throw new UnsupportedOperationException("relayTo needs io.parley.core.spi.command 1.4");
    }
}
