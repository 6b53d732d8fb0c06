package io.parley.transport.support;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection after its last answer without destroying that answer (RFC 9112 §9.6): the client may still be
 * sending — the body of a request refused at its head, frames pipelined behind the one refused. Closing a socket
 * with unread input makes the kernel answer with a reset, and a reset makes the client's kernel drop whatever it
 * had received and not yet read: the answer. So the output is shut down (the client reads the answer, then end of
 * stream), whatever arrives after it is discarded unread by a handler put first in the pipeline, and the connection
 * closes when the client closes its side or after the linger, whichever comes first. The linger holds the connection
 * open at most that long and buffers nothing.
 *
 * <p>A connection with TLS is closed at once: its {@link SslHandler} ends it with {@code close_notify}.
 *
 * <p>Threading: {@link #close} is called on the channel's event loop, once the last answer's write has completed.
 */
public final class LingeringClose {

    /** The longest a client is given, by default, to read its last answer and stop sending. */
    public static final long DEFAULT_LINGER_MILLIS = 2_000;

    private LingeringClose() {
    }

    /** @return a listener for the last answer's write: {@link #close} after it, or close at once if it failed */
    public static ChannelFutureListener afterWrite(long lingerMillis) {
        return f -> {
            if (f.isSuccess()) {
                close(f.channel(), lingerMillis);
            } else {
                f.channel().close();
            }
        };
    }

    /** Shuts the output down and closes {@code channel} once the client closes, or after {@code lingerMillis}. */
    public static void close(Channel channel, long lingerMillis) {
        if (!(channel instanceof SocketChannel socket) || !channel.isActive() || socket.isOutputShutdown()
                || channel.pipeline().get(SslHandler.class) != null || lingerMillis <= 0) {
            channel.close();
            return;
        }
        channel.pipeline().addFirst(Discard.INSTANCE);
        channel.config().setAutoRead(true);
        ScheduledFuture<?> deadline = channel.eventLoop().schedule(() -> {
            channel.close();
        }, lingerMillis, TimeUnit.MILLISECONDS);
        channel.closeFuture().addListener(f -> deadline.cancel(false));
        socket.shutdownOutput().addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    /** First in the pipeline while lingering: nothing read reaches the codecs; end of input or an error closes. */
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
