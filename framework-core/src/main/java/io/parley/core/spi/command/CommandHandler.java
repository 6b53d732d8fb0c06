package io.parley.core.spi.command;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Executes one type of command. Registered as an OSGi service with {@value #TYPE} naming the type (declare it with
 * {@link CommandType}); when several services name the same type the highest {@code service.ranking} wins. While the
 * providing bundle is updated, its commands are held (up to the core's {@code hold.millis}) and run by the new
 * version; a type nobody serves is answered with {@code UNSUPPORTED_COMMAND}.
 *
 * <p>Threading: {@link #execute} runs on a core worker, never on a network thread, and must not block: do I/O
 * asynchronously. The connection's next frame waits until the returned stage completes, so a client's command and its
 * following sends keep their order.
 */
@ConsumerType
public interface CommandHandler {

    /** Service property (String): the command type, the routing key on the wire. */
    String TYPE = "parley.command.type";

    /**
     * @param context who asked, and the facade to act through
     * @param payload the command's own message as the client sent it (check its type URL)
     * @return a stage completed with the answer's payload ({@code Any.getDefaultInstance()} for none), or completed
     *         exceptionally with a {@link io.parley.core.api.ParleyException} the client receives as its error (any
     *         other exception is answered as {@code INTERNAL} and logged)
     */
    CompletionStage<Any> execute(CommandContext context, Any payload);

    /**
     * The protobuf message of this command's payload, so adapters such as the HTTP API can take it as JSON (the
     * core's catalog, {@code Receiver.commandTypes()}). Empty (the default): packed payloads only.
     *
     * @since 1.3
     */
    default Optional<Descriptors.Descriptor> payloadDescriptor() {
        return Optional.empty();
    }

    /**
     * The protobuf message of this command's answer, so adapters can render it as JSON. Empty (the default): the
     * answer is given packed.
     *
     * @since 1.3
     */
    default Optional<Descriptors.Descriptor> resultDescriptor() {
        return Optional.empty();
    }
}
