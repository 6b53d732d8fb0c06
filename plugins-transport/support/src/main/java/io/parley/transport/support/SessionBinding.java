package io.parley.transport.support;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ties one connection to the core, the same way for every transport: admission against {@code max.connections},
 * opening the core session, feeding it frames, the handshake and idle timeouts, and calling
 * {@link InboundSession#onClosed()} exactly once. The transport's last pipeline handler owns one instance per
 * channel and calls every method on the channel's event loop.
 */
public final class SessionBinding {

    private static final Logger LOG = LoggerFactory.getLogger(SessionBinding.class);

    private final NettyServer server;
    private final Receiver receiver;
    private final NettyConnection connection;

    private InboundSession session;
    private boolean admitted;
    private boolean sessionClosed;

    public SessionBinding(NettyServer server, Receiver receiver, NettyConnection connection) {
        this.server = server;
        this.receiver = receiver;
        this.connection = connection;
    }

    public NettyConnection connection() {
        return connection;
    }

    /**
     * Registers the connection with the server.
     *
     * @return false if {@code max.connections} is reached; call {@link #refuse()} once the client can be told
     */
    public boolean admit() {
        admitted = server.admit(connection);
        if (!admitted) {
            LOG.warn("Refusing {} connection {}: {} connections open (max.connections)", connection.transport(),
                    connection.remoteAddress(), server.maxConnections());
        }
        return admitted;
    }

    /** Sends a retryable {@code Error{UNAVAILABLE}} and closes ({@link CloseReason#TRY_AGAIN_LATER}). */
    public void refuse() {
        connection.closeWith(Frames.retryableError(ErrorCode.ERROR_CODE_UNAVAILABLE, "too many connections",
                server.settings().reconnectAfterMs()), CloseReason.TRY_AGAIN_LATER, false);
    }

    /**
     * Opens the core session for an admitted connection. If the server is stopping the client is told to
     * reconnect instead; if the core throws, it gets a retryable {@code Error{UNAVAILABLE}}; both close.
     *
     * @return true if the session is open and frames may be fed
     */
    public boolean open() {
        if (server.isStopping()) {
            connection.close(server.stopNotice());
            return false;
        }
        try {
            session = receiver.open(connection);
            return true;
        } catch (RuntimeException e) {
            LOG.warn("Closing {} connection {}: the core refused to open a session", connection.transport(),
                    connection.remoteAddress(), e);
            connection.closeWith(Frames.retryableError(ErrorCode.ERROR_CODE_UNAVAILABLE, "server not ready",
                    server.settings().reconnectAfterMs()), CloseReason.TRY_AGAIN_LATER, false);
            return false;
        }
    }

    /** True if the core session is open and hello has succeeded. */
    public boolean isAuthenticated() {
        return session != null && session.isAuthenticated();
    }

    /**
     * Hands a decoded frame to the core; dropped when there is no session or the connection is closing. A core
     * failure closes the connection with {@code Error{INTERNAL}} ({@link CloseReason#INTERNAL_ERROR}).
     */
    public void onFrame(Frame frame) {
        if (session == null || connection.isClosing()) {
            return;
        }
        try {
            session.onFrame(frame);
        } catch (RuntimeException e) {
            LOG.warn("Closing {} connection {}: the core failed on an inbound frame", connection.transport(),
                    connection.remoteAddress(), e);
            connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_INTERNAL, "internal error"),
                    CloseReason.INTERNAL_ERROR, false);
        }
    }

    /**
     * The handshake timer fired: unless the connection is closing or authenticated it gets
     * {@code Error{HANDSHAKE_TIMEOUT}} and is closed ({@link CloseReason#POLICY_VIOLATION}).
     */
    public void handshakeTimedOut() {
        if (connection.isClosing() || isAuthenticated()) {
            return;
        }
        LOG.info("Closing {} connection {}: no hello within {} ms (handshake.timeout.seconds)",
                connection.transport(), connection.remoteAddress(), server.settings().handshakeTimeout().toMillis());
        connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_HANDSHAKE_TIMEOUT, "no hello in time"),
                CloseReason.POLICY_VIOLATION, false);
    }

    /**
     * Nothing came from the client for the idle timeout: it gets {@code Notice{KIND_RECONNECT}} and is closed
     * ({@link CloseReason#GOING_AWAY}).
     */
    public void idleTimedOut() {
        if (connection.isClosing()) {
            return;
        }
        LOG.info("Closing {} connection {}: nothing received for {} ms (idle.timeout.seconds)",
                connection.transport(), connection.remoteAddress(), server.settings().idleTimeout().toMillis());
        connection.closeWith(Frames.notice(Frames.reconnectNotice("idle timeout: no frame received in time", 0)),
                CloseReason.GOING_AWAY, false);
    }

    /**
     * The channel became inactive: drops what is queued, releases the connection from the server and calls
     * {@link InboundSession#onClosed()} if a session was opened, exactly once.
     */
    public void channelClosed() {
        connection.onChannelClosed();
        if (admitted) {
            server.release(connection);
            admitted = false;
        }
        if (session != null && !sessionClosed) {
            sessionClosed = true;
            try {
                session.onClosed();
            } catch (RuntimeException e) {
                LOG.warn("The core failed while closing the session of {} connection {}", connection.transport(),
                        connection.remoteAddress(), e);
            }
        }
    }
}
