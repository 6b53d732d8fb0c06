package io.parley.transport.tcp.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.CloseReason;
import io.parley.transport.support.Frames;
import io.parley.transport.support.NettyServer;
import io.parley.transport.support.SessionBinding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * Last handler of a connection's pipeline: opens the core session when the channel becomes active, feeds it the
 * decoded frames on the event loop, enforces the handshake and idle timeouts, turns decoder failures into an error
 * frame followed by a close, and calls {@link InboundSession#onClosed()} exactly once when the channel goes away
 * (the shared part lives in {@link SessionBinding}). One instance per channel; every method runs on the channel's
 * event loop.
 */
final class ConnectionHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(ConnectionHandler.class);

    private final NettyServer server;
    private final Receiver receiver;

    private TcpConnection connection;
    private SessionBinding binding;
    private ScheduledFuture<?> handshakeTimer;

    ConnectionHandler(NettyServer server, Receiver receiver) {
        this.server = server;
        this.receiver = receiver;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        connection = new TcpConnection(ctx.channel(), server.settings().closeTimeout().toMillis(),
                server.outbox(ctx.channel().eventLoop()));
        binding = new SessionBinding(server, receiver, connection);
        if (!binding.admit()) {
            binding.refuse();
            return;
        }
        if (!binding.open()) {
            return;
        }
        handshakeTimer = ctx.executor().schedule(binding::handshakeTimedOut,
                server.settings().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Frame frame)) {
            ctx.fireChannelRead(msg);
            return;
        }
        binding.onFrame(frame);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent idle && idle.state() == IdleState.READER_IDLE) {
            if (binding != null) {
                binding.idleTimedOut();
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
            closeWithError(ctx, Frames.error(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, tooLarge.getMessage()),
                    CloseReason.MESSAGE_TOO_BIG);
        } else if (cause instanceof BadFrameException bad) {
            LOG.warn("Closing TCP connection {}: {}", remote, bad.getMessage());
            closeWithError(ctx, Frames.error(ErrorCode.ERROR_CODE_BAD_FRAME, "unparsable frame"),
                    CloseReason.PROTOCOL_ERROR);
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
        if (binding != null) {
            binding.channelClosed();
        }
        super.channelInactive(ctx);
    }

    private void closeWithError(ChannelHandlerContext ctx, Frame error, CloseReason reason) {
        if (connection != null) {
            connection.closeWith(error, reason, false);
        } else {
            ctx.close();
        }
    }
}
