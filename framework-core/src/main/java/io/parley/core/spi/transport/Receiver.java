package io.parley.core.spi.transport;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Where transports hand inbound work to the core. The core registers one as an OSGi service; transports track
 * it and stop accepting connections (telling clients to reconnect) while it is absent.
 */
@ProviderType
public interface Receiver {

    /**
     * A transport accepted a connection.
     *
     * @return the session to feed with the connection's frames; never null
     */
    InboundSession open(Connection connection);

    /**
     * A session for a trusted in-process caller that has authenticated the user itself (the HTTP API acting for a
     * user or for the system account): no hello is expected, frames are handled exactly as a client's. The session
     * is not an online device: it receives responses to its own requests but no deliveries, and it has no delivery
     * watermarks unless it acknowledges.
     *
     * @return the session to feed with requests; never null
     */
    InboundSession openAuthenticated(Connection connection, io.parley.core.api.Principal principal);

    /** Largest frame the core accepts, in bytes; transports enforce it before parsing. */
    int maxFrameBytes();

    /**
     * What keeps the core from doing its whole job right now: no message store or authenticator bound, or a store
     * that cannot write ({@link io.parley.core.spi.store.MessageStore#writeFailure()}). Empty when the core is fully working. Health and
     * readiness checks report DOWN while it is not empty. Cheap and non-blocking; any thread.
     *
     * @return human-readable problems, one per missing or failing part
     * @since 2.2
     */
    default java.util.List<String> problems() {
        return java.util.List.of();
    }

    /**
     * The message types deployed right now, each with the protobuf message of its bodies when its processor names
     * one ({@code MessageProcessor.bodyDescriptor()}): the catalog an adapter uses to accept and return any deployed
     * type's bodies as JSON. Any thread; cheap.
     *
     * @since 1.1
     */
    default java.util.List<MessageTypeInfo> messageTypes() {
        return java.util.List.of();
    }

    /**
     * The commands deployed right now, with their payload and answer messages where the handler names them: what
     * adapters such as the HTTP API need to take and give command payloads as JSON.
     *
     * @since 1.2
     */
    default java.util.List<CommandTypeInfo> commandTypes() {
        return java.util.List.of();
    }

    /**
     * The operator ends {@code user}'s sessions on this node: those of {@code device}, or of every device when
     * {@code device} is null. Each client gets {@code Notice KIND_KICKED} with {@code reason} (clients do not reconnect
     * automatically after it) and its connection closes. Sessions of trusted adapters are not kicked. Any thread;
     * never blocks.
     *
     * @return how many sessions were kicked (0: the user has none here)
     * @since 1.3
     */
    default int kick(String user, String device, String reason) {
        return 0;
    }
}
