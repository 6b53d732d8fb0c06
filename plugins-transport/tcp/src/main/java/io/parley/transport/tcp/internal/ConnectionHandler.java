package io.parley.transport.tcp.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.spi.InboundSession;
import io.parley.core.spi.Receiver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * Last handler of a connection's pipeline: opens the core session when the channel becomes active, feeds it the
 * decoded frames on the event loop, enforces the handshake and idle timeouts, turns decoder failures into an error
 * frame followed by a close, and calls {@link InboundSession#onClosed()} exactly once when the channel goes away.
 * One instance per channel; every method runs on the channel's event loop.
 */
final class ConnectionHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(ConnectionHandler.class);

    private final TcpServer server;
    private final Receiver receiver;
    private final TcpServerSettings settings;

    private TcpConnection connection;
    private InboundSession session;
    private boolean admitted;
    private boolean sessionClosed;
    private ScheduledFuture<?> handshakeTimer;

    ConnectionHandler(TcpServer server, Receiver receiver, TcpServerSettings settings) {
        this.server = server;
        this.receiver = receiver;
        this.settings = settings;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        connection = new TcpConnection(ctx.channel(), settings.closeTimeout().toMillis());
        if (!server.admit(connection)) {
            LOG.warn("Refusing TCP connection {}: {} connections open (max.connections)",
                    connection.remoteAddress(), settings.maxConnections());
            connection.closeWith(Frames.retryableError(ErrorCode.ERROR_CODE_UNAVAILABLE,
                    "too many connections", settings.reconnectAfterMs()), false);
            return;
        }
        admitted = true;
        if (server.isStopping()) {
            connection.close(server.stopNotice());
            return;
        }
        try {
            session = receiver.open(connection);
        } catch (RuntimeException e) {
            LOG.warn("Closing TCP connection {}: the core refused to open a session", connection.remoteAddress(), e);
            connection.closeWith(Frames.retryableError(ErrorCode.ERROR_CODE_UNAVAILABLE,
                    "server not ready", settings.reconnectAfterMs()), false);
            return;
        }
        handshakeTimer = ctx.executor().schedule(this::checkHandshake,
                settings.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Frame frame)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (session == null || connection.isClosing()) {
            return;
        }
        try {
            session.onFrame(frame);
        } catch (RuntimeException e) {
            LOG.warn("Closing TCP connection {}: the core failed on an inbound frame", connection.remoteAddress(), e);
            connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_INTERNAL, "internal error"), false);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent idle && idle.state() == IdleState.READER_IDLE) {
            if (connection != null && !connection.isClosing()) {
                LOG.info("Closing TCP connection {}: no frame for {} ms (idle.timeout.seconds)",
                        connection.remoteAddress(), settings.idleTimeout().toMillis());
                connection.closeWith(Frames.notice(Frames.reconnectNotice(
                        "idle timeout: no frame received in time", 0)), false);
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String remote = connection != null ? connection.remoteAddress() : String.valueOf(ctx.channel().remoteAddress());
        if (cause instanceof FrameTooLargeException tooLarge) {
            LOG.warn("Closing TCP connection {}: {}", remote, tooLarge.getMessage());
            closeWithError(ctx, Frames.error(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, tooLarge.getMessage()));
        } else if (cause instanceof BadFrameException bad) {
            LOG.warn("Closing TCP connection {}: {}", remote, bad.getMessage());
            closeWithError(ctx, Frames.error(ErrorCode.ERROR_CODE_BAD_FRAME, "unparsable frame"));
        } else if (cause instanceof IOException) {
            LOG.debug("TCP connection {} failed: {}", remote, cause.toString());
            ctx.close();
        } else {
            LOG.warn("Closing TCP connection {} after an unexpected error", remote, cause);
            ctx.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (handshakeTimer != null) {
            handshakeTimer.cancel(false);
        }
        if (connection != null) {
            connection.onChannelClosed();
            if (admitted) {
                server.release(connection);
            }
        }
        if (session != null && !sessionClosed) {
            sessionClosed = true;
            try {
                session.onClosed();
            } catch (RuntimeException e) {
                LOG.warn("The core failed while closing the session of TCP connection {}",
                        connection.remoteAddress(), e);
            }
        }
        super.channelInactive(ctx);
    }

    private void checkHandshake() {
        if (connection.isClosing() || session.isAuthenticated()) {
            return;
        }
        LOG.info("Closing TCP connection {}: no hello within {} ms (handshake.timeout.seconds)",
                connection.remoteAddress(), settings.handshakeTimeout().toMillis());
        connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_HANDSHAKE_TIMEOUT, "no hello in time"), false);
    }

    private void closeWithError(ChannelHandlerContext ctx, Frame error) {
        if (connection != null) {
            connection.closeWith(error, false);
        } else {
            ctx.close();
        }
    }
}
