package io.parley.transport.websocket.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
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
 * Last handler of a WebSocket connection's pipeline. When the channel becomes active it counts the connection
 * against {@code max.connections} and starts the handshake timer (HTTP upgrade plus Parley hello); on
 * {@link HttpUpgradeHandler#UPGRADED} it opens the core session (or refuses with {@code Error{UNAVAILABLE}} and
 * close 1013). Then, per inbound message:
 * <ul>
 *   <li>binary: parsed as one {@code Frame} and fed to the core; unparsable: {@code Error{BAD_FRAME}}, close 1002;
 *   <li>text: {@code Error{BAD_FRAME}}, close 1003 (Parley is binary only);
 *   <li>ping: answered with a pong carrying the same payload (skipped while the client is not reading);
 *       pong: ignored;
 *   <li>close: answered with a close echoing the client's status, or, if ours was sent first, the socket is closed.
 * </ul>
 * Decoder violations become an error frame and a close: 1009 with {@code Error{FRAME_TOO_LARGE}} for a message over
 * the max frame size, 1007 for invalid UTF-8, 1002 for the rest. {@link InboundSession#onClosed()} is called exactly
 * once when the channel goes away. One instance per channel; every method runs on the channel's event loop.
 */
final class WebSocketSessionHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(WebSocketSessionHandler.class);

    private final NettyServer server;
    private final Receiver receiver;

    private WebSocketConnection connection;
    private SessionBinding binding;
    private boolean admitted;
    private ScheduledFuture<?> handshakeTimer;

    WebSocketSessionHandler(NettyServer server, Receiver receiver) {
        this.server = server;
        this.receiver = receiver;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        connection = new WebSocketConnection(ctx.channel(), server.settings().closeTimeout().toMillis(),
                server.outbox(ctx.channel().eventLoop()));
        binding = new SessionBinding(server, receiver, connection);
        admitted = binding.admit();
        // refused connections are told so after the upgrade, when they can read a frame; until then the
        // handshake timer bounds them like any other
        handshakeTimer = ctx.executor().schedule(binding::handshakeTimedOut,
                server.settings().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        super.channelActive(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == HttpUpgradeHandler.UPGRADED) {
            connection.markUpgraded();
            if (connection.isClosing()) {
                return;
            }
            if (!admitted) {
                binding.refuse();
            } else {
                binding.open();
            }
            return;
        }
        if (evt instanceof IdleStateEvent idle && idle.state() == IdleState.READER_IDLE) {
            binding.idleTimedOut();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof WebSocketFrame frame)) {
            // e.g. bytes pipelined behind the upgrade request, decoded as HTTP before the codec left
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            if (frame instanceof CloseWebSocketFrame close) {
                onClose(ctx, close);
            } else if (connection.isClosing()) {
                return;
            } else if (frame instanceof BinaryWebSocketFrame) {
                onBinary(frame);
            } else if (frame instanceof PingWebSocketFrame) {
                if (ctx.channel().isWritable()) {
                    ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
                }
            } else if (frame instanceof TextWebSocketFrame) {
                LOG.info("Closing WebSocket connection {}: text message (binary only)", connection.remoteAddress());
                connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_BAD_FRAME,
                        "text messages are not accepted; send each Frame as one binary message"),
                        CloseReason.UNSUPPORTED_DATA, false);
            }
            // pong, and continuation frames (the aggregator joins them) need nothing
        } finally {
            frame.release();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String remote = connection != null ? connection.remoteAddress() : String.valueOf(ctx.channel().remoteAddress());
        if (connection != null && connection.isUpgraded()
                && (cause instanceof CorruptedWebSocketFrameException || cause instanceof TooLongFrameException)) {
            int status = cause instanceof CorruptedWebSocketFrameException corrupted
                    ? corrupted.closeStatus().code() : CloseReason.MESSAGE_TOO_BIG.code();
            LOG.warn("Closing WebSocket connection {}: {} (close {})", remote, cause.getMessage(), status);
            if (status == CloseReason.MESSAGE_TOO_BIG.code()) {
                connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE,
                        "message over the limit of " + receiver.maxFrameBytes() + " bytes"),
                        CloseReason.MESSAGE_TOO_BIG, false);
            } else if (status == CloseReason.INVALID_PAYLOAD.code()) {
                connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_BAD_FRAME,
                        "invalid UTF-8 in a text message"), CloseReason.INVALID_PAYLOAD, false);
            } else {
                connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_BAD_FRAME,
                        "WebSocket protocol error: " + cause.getMessage()), CloseReason.PROTOCOL_ERROR, false);
            }
        } else if (cause instanceof IOException || cause instanceof PrematureChannelClosureException) {
            // the latter: the client went away in the middle of a fragmented message (raised by the aggregator)
            LOG.debug("WebSocket connection {} failed: {}", remote, cause.toString());
            ctx.close();
        } else {
            LOG.warn("Closing WebSocket connection {} after an unexpected error", remote, cause);
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

    private void onBinary(WebSocketFrame message) {
        Frame frame;
        try {
            frame = Frames.parse(message.content());
        } catch (InvalidProtocolBufferException e) {
            LOG.warn("Closing WebSocket connection {}: unparsable frame of {} bytes", connection.remoteAddress(),
                    message.content().readableBytes());
            connection.closeWith(Frames.error(ErrorCode.ERROR_CODE_BAD_FRAME, "unparsable frame"),
                    CloseReason.PROTOCOL_ERROR, false);
            return;
        }
        binding.onFrame(frame);
    }

    private void onClose(ChannelHandlerContext ctx, CloseWebSocketFrame close) {
        if (connection.closeSent()) {
            // the client's answer to our close: the handshake is complete
            ctx.close();
            return;
        }
        connection.peerClosed(close.statusCode());
        // begins the close if nothing else did; either way writeFinal echoes the status and closes the socket
        connection.closeWith(null, CloseReason.NORMAL, false);
    }
}
