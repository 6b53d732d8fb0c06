package io.parley.core.spi.transport;

import io.parley.core.proto.Frame;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The core's side of one connection, returned by {@link Receiver#open}. Implemented by the core.
 *
 * <p>Threading: a transport calls these methods from the connection's I/O thread, in frame order. They return
 * quickly; the core processes frames on its own workers, one frame at a time per session.
 */
@ProviderType
public interface InboundSession {

    /** A decoded frame from the client. */
    void onFrame(Frame frame);

    /** The connection is gone (either side closed it). Called once; no frame follows. */
    void onClosed();

    /** @return true once hello succeeded; transports use it to enforce their handshake timeout */
    boolean isAuthenticated();
}
