package io.parley.transport.tcp.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.parley.core.proto.Frame;
import io.parley.transport.support.CloseReason;
import io.parley.transport.support.LingeringClose;
import io.parley.transport.support.LoopOutbox;
import io.parley.transport.support.NettyConnection;

/**
 * {@link io.parley.core.spi.transport.Connection} over one TCP channel whose pipeline ends in {@link FrameEncoder}. Writing,
 * flush coalescing and the slow-consumer bound are {@link NettyConnection}'s; a TCP connection ends by writing its
 * last frame and then shutting its output down: frames the client still sends are discarded unread, and the socket
 * closes when the client closes it or after the close timeout ({@link LingeringClose}; with TLS, at once).
 */
public final class TcpConnection extends NettyConnection {

    TcpConnection(Channel channel, long closeTimeoutMillis, LoopOutbox outbox) {
        super(channel, closeTimeoutMillis, outbox);
    }

    @Override
    public String transport() {
        return "tcp";
    }

    @Override
    protected int wireSize(Frame frame) {
        return FrameEncoder.wireSize(frame);
    }

    @Override
    protected void writeFinal(Frame lastFrame, CloseReason reason) {
        channel().writeAndFlush(lastFrame != null ? lastFrame : Unpooled.EMPTY_BUFFER)
                .addListener(LingeringClose.afterWrite(closeTimeoutMillis()));
    }
}
