package io.parley.core.spi;

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

    /** Largest frame the core accepts, in bytes; transports enforce it before parsing. */
    int maxFrameBytes();
}
