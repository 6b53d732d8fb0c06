package io.parley.transport.tcp.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.parley.core.proto.Frame;
import io.parley.transport.support.CloseReason;
import io.parley.transport.support.LoopOutbox;
import io.parley.transport.support.NettyConnection;

/**
 * {@link io.parley.core.spi.transport.Connection} over one TCP channel whose pipeline ends in {@link FrameEncoder}. Writing,
 * flush coalescing and the slow-consumer bound are {@link NettyConnection}'s; a TCP connection ends by writing its
 * last frame and closing the socket once that write completes.
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
                .addListener(ChannelFutureListener.CLOSE);
    }
}
