package io.parley.transport.websocket.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.parley.core.proto.Frame;
import io.parley.transport.support.CloseReason;
import io.parley.transport.support.LoopOutbox;
import io.parley.transport.support.NettyConnection;

/**
 * {@link io.parley.core.spi.transport.Connection} over one WebSocket: each frame is one binary message (see
 * {@link BinaryFrameEncoder}). Writing, flush coalescing and the slow-consumer bound are {@link NettyConnection}'s.
 *
 * <p>Ending: before the upgrade there is nothing to say, the socket is just closed. After it, the last frame (if
 * any) is followed by a close frame whose status is the {@link CloseReason#code()}; the socket is then closed when
 * the client answers with its close frame (see {@link WebSocketSessionHandler}) or after the close timeout. When the
 * client closed first, its status code is echoed and the socket closed as soon as the echo is written.
 */
public final class WebSocketConnection extends NettyConnection {

    /** Event loop only. */
    private boolean upgraded;
    /** Event loop only. */
    private boolean closeSent;
    /** Event loop only: the status of the client's close frame, -1 if it had none; unset unless peerClosed. */
    private int peerStatus;
    /** Event loop only. */
    private boolean peerClosed;

    WebSocketConnection(Channel channel, long closeTimeoutMillis, LoopOutbox outbox) {
        super(channel, closeTimeoutMillis, outbox);
    }

    @Override
    public String transport() {
        return "websocket";
    }

    /** Payload plus the header of an unmasked server frame (2, 4 or 10 bytes). */
    @Override
    protected int wireSize(Frame frame) {
        int payload = frame.getSerializedSize();
        return payload + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);
    }

    @Override
    protected void writeFinal(Frame lastFrame, CloseReason reason) {
        Channel channel = channel();
        if (!upgraded) {
            channel.close();
            return;
        }
        closeSent = true;
        if (peerClosed) {
            CloseWebSocketFrame echo = peerStatus < 0 ? new CloseWebSocketFrame() : new CloseWebSocketFrame(peerStatus, "");
            channel.writeAndFlush(echo).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        if (lastFrame != null) {
            channel.write(lastFrame, channel.voidPromise());
        }
        channel.writeAndFlush(new CloseWebSocketFrame(reason.code(), reasonText(reason)))
                .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    /** Event loop only: the HTTP upgrade is done, frames may flow. */
    void markUpgraded() {
        upgraded = true;
    }

    /** Event loop only. */
    boolean isUpgraded() {
        return upgraded;
    }

    /** Event loop only: true once this side's close frame has been written (or is being written). */
    boolean closeSent() {
        return closeSent;
    }

    /**
     * Event loop only: the client sent a close frame with {@code status} (-1 for none) and our own has not been
     * sent; the close that follows echoes it.
     */
    void peerClosed(int status) {
        peerClosed = true;
        peerStatus = status;
    }

    private static String reasonText(CloseReason reason) {
        switch (reason) {
            case NORMAL:
                return "closed";
            case GOING_AWAY:
                return "going away; reconnect";
            case PROTOCOL_ERROR:
                return "protocol error";
            case UNSUPPORTED_DATA:
                return "binary messages only";
            case INVALID_PAYLOAD:
                return "invalid UTF-8";
            case POLICY_VIOLATION:
                return "policy violation";
            case MESSAGE_TOO_BIG:
                return "message too big";
            case INTERNAL_ERROR:
                return "internal error";
            case TRY_AGAIN_LATER:
                return "try again later";
            default:
                return "";
        }
    }
}
