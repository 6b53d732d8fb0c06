package io.parley.core.spi.message;

import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ConsumerType;

import com.google.protobuf.Descriptors;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Validates and normalises the messages of one type. Registered as an OSGi service with the property
 * {@value #TYPE} naming the type (declare it with {@link MessageType}); when several services name the same
 * type the one with the highest {@code service.ranking} wins.
 *
 * <p>Threading: called on a core worker thread, never on a network event loop unless the processor declares
 * itself {@link #pure()}; one call at a time per sending session, concurrently across sessions. Must not block; do
 * slow work asynchronously and complete the stage later.
 *
 * <p>If no processor is registered for a type, the core refuses the send with {@code UNSUPPORTED_TYPE} and
 * stores nothing. While the bundle providing a type is being updated, sends of that type are held (bounded)
 * and handed to the new revision.
 */
@ConsumerType
public interface MessageProcessor {

    /** Service property (String): the message type this processor handles, e.g. {@code "text"}. */
    String TYPE = "parley.message.type";

    /**
     * @param context who sends, where, when
     * @param draft   the message as the core will store it, without seq; {@code draft.getBody()} is the
     *                client's {@code Any}, not yet checked
     * @return a stage completed with {@link ProcessResult#store} (possibly with a normalised message) or
     *         {@link ProcessResult#reject}; completing it exceptionally is reported to the client as
     *         {@code INTERNAL}
     */
    CompletionStage<ProcessResult> process(MessageContext context, Message draft);

    /**
     * Whether {@link #process} is pure and quick: its result depends on its arguments only, it has no effect outside
     * the stage it returns (no I/O, no state kept, nothing claimed or counted), it never blocks, and the stage it
     * returns is already complete. A pure processor may be called on a network event loop (the core then saves the
     * hand-off of the send to a worker), and the core does not look a repeated send up before calling it: the store's
     * append answers the repeat with the original, as it would have been answered otherwise. A type whose processor
     * checks, claims or transforms something outside the message (a blob, a quota) is not pure.
     *
     * @return false unless the processor keeps the promise above; called once per send, so it must be cheap
     * @since 1.3
     */
    default boolean pure() {
        return false;
    }

    /**
     * The protobuf message this type's bodies are (e.g. {@code Text.getDescriptor()}), so the core's catalog can
     * describe the type and adapters such as the HTTP API can read and write its bodies as JSON without knowing the
     * type. Empty (the default) keeps the type usable with packed bodies only.
     *
     * @since 1.1
     */
    default Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.empty();
    }

    /**
     * The content of a stored message of this type is gone: a command (recall) replaced it in place with a
     * tombstone. Called once, after the replacement is durable, with the message as it was, so a type whose bodies
     * refer to something outside the message store (a blob) can release it. Runs on a core worker; must not block.
     * A failed stage is logged and changes nothing for the command.
     *
     * @param original the message before it was replaced (type, body and ext intact)
     * @return completed when what it referred to is released
     * @since 1.2
     */
    default CompletionStage<Void> released(Message original) {
        return java.util.concurrent.CompletableFuture.completedFuture(null);
    }
}
