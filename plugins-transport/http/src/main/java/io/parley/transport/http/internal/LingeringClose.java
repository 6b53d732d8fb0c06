package io.parley.transport.http.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection after its last answer without destroying that answer (RFC 9112 §9.6): a client may still be
 * sending the body of a request the server refused at its head; closing a socket with unread input makes the kernel
 * answer with a reset, and a reset makes the client's kernel drop the answer it had not yet read. So the output is
 * shut down (the client reads the answer, then end of stream), whatever arrives after it is discarded unread, and
 * the connection closes when the client closes its side or after {@link #LINGER_MILLIS}, whichever comes first.
 * The linger holds a connection slot at most that long and buffers nothing.
 *
 * <p>Threading: {@link #close} is called on the channel's event loop.
 */
final class LingeringClose {

    /** The longest a refused client is given to read its answer and stop sending. */
    static final long LINGER_MILLIS = 2_000;

    private LingeringClose() {
    }

    /** Call once the last answer has been written (its write future complete); the channel closes on its own. */
    static void close(Channel channel, ReadControl reads) {
        if (!(channel instanceof SocketChannel socket) || !channel.isActive() || socket.isOutputShutdown()) {
            channel.close();
            return;
        }
        channel.pipeline().addFirst("linger", Discard.INSTANCE);
        reads.lingering();
        ScheduledFuture<?> deadline = channel.eventLoop().schedule(() -> {
            channel.close();
        }, LINGER_MILLIS, TimeUnit.MILLISECONDS);
        channel.closeFuture().addListener(f -> deadline.cancel(false));
        socket.shutdownOutput().addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    /** First in the pipeline while lingering: nothing read reaches the codec; end of input or an error closes. */
    @ChannelHandler.Sharable
    private static final class Discard extends ChannelInboundHandlerAdapter {

        static final Discard INSTANCE = new Discard();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent || evt instanceof ChannelInputShutdownReadComplete) {
                ctx.close(); // the client is done (only with half-closure allowed; else Netty closes by itself)
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
