package io.parley.transport.support;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.time.Duration;

/**
 * Child handler of a TLS server: puts {@code tls} (an {@link SslHandler}) and {@code tls-events} first in the
 * pipeline, then the transport's own child handler, which sees only plaintext.
 *
 * <p>The TLS handshake counts against the transport's handshake timeout: the transport's timer starts when the
 * connection is accepted, as without TLS, and the {@code SslHandler}'s own handshake timeout is the same
 * duration, so a client that never finishes the TLS handshake is closed by it. A failed handshake (a plaintext
 * client, an unsupported protocol, a timeout) closes the connection with one log line and never reaches the
 * transport's handlers as an exception. Sharable; holds no per-connection state.
 */
@ChannelHandler.Sharable
final class TlsInitializer extends ChannelInitializer<Channel> {

    private static final Logger LOG = LoggerFactory.getLogger(TlsInitializer.class);

    private final SslContext context;
    private final long handshakeTimeoutMillis;
    private final String label;
    private final ChannelHandler transportHandler;

    TlsInitializer(SslContext context, Duration handshakeTimeout, String label, ChannelHandler transportHandler) {
        this.context = context;
        this.handshakeTimeoutMillis = handshakeTimeout.toMillis();
        this.label = label;
        this.transportHandler = transportHandler;
    }

    @Override
    protected void initChannel(Channel ch) {
        SslHandler ssl = context.newHandler(ch.alloc());
        ssl.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
        ch.pipeline().addLast("tls", ssl);
        ch.pipeline().addLast("tls-events", new TlsEvents(label, ssl));
        ch.pipeline().addLast(transportHandler);
    }

    /**
     * Turns TLS failures into one log line and a close. Passes every other event and exception on. One instance
     * per channel; event loop only.
     */
    private static final class TlsEvents extends ChannelInboundHandlerAdapter {
        private final String label;
        private final SslHandler ssl;
        private boolean reported;

        TlsEvents(String label, SslHandler ssl) {
            this.label = label;
            this.ssl = ssl;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SslHandshakeCompletionEvent done && !done.isSuccess()) {
                fail(ctx, done.cause());
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
            Throwable tls = cause instanceof DecoderException && cause.getCause() instanceof SSLException
                    ? cause.getCause() : cause;
            if (tls instanceof SSLException) {
                fail(ctx, tls);
                return;
            }
            super.exceptionCaught(ctx, cause);
        }

        private void fail(ChannelHandlerContext ctx, Throwable cause) {
            if (!reported) {
                reported = true;
                String what = ssl.handshakeFuture().isSuccess() ? "TLS error" : "TLS handshake failed";
                String why = cause instanceof NotSslRecordException
                        ? "not a TLS record (a plaintext client?)" : String.valueOf(cause);
                if (ctx.channel().isActive()) {
                    LOG.info("Closing {} connection {}: {}: {}", label, ctx.channel().remoteAddress(), what, why);
                } else {
                    // the client went away during the handshake (port probes, health checks)
                    LOG.debug("{} connection {} closed: {}: {}", label, ctx.channel().remoteAddress(), what, why);
                }
            }
            ctx.close();
        }
    }
}
