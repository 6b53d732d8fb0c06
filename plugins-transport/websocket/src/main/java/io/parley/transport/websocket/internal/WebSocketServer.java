package io.parley.transport.websocket.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.LingeringClose;
import io.parley.transport.support.NettyServer;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The WebSocket transport: accepts connections, upgrades {@code GET <path>} requests to WebSocket (see
 * {@link HttpUpgradeHandler}), carries one serialized {@code parley.v1.Frame} per binary message and hands each
 * connection to the core through {@link Receiver#open}. Plain Java, no OSGi; the lifecycle (event loops, binding,
 * port file, stop with reconnect notices) is {@link NettyServer}'s.
 *
 * <p>Lifecycle: {@link #start()} once, then {@link #stop()} once (further calls do nothing). {@code stop} closes
 * the listening socket, sends every upgraded connection {@code Notice.KIND_RECONNECT} then close 1001 (closing the
 * others outright), waits for the clients' close answers up to the close timeout, and shuts down the event loop
 * groups, waiting (bounded) until their threads have ended. Both block the calling thread and must not be called
 * from an event loop.
 *
 * <p>Threads: one acceptor {@code parley-ws-boss-1} and {@code io.threads} I/O threads {@code parley-ws-io-N}.
 */
public final class WebSocketServer {

    private final WebSocketSettings settings;
    private final Receiver receiver;
    private final NettyServer server;

    public WebSocketServer(WebSocketSettings settings, Receiver receiver) {
        this.settings = settings;
        this.receiver = receiver;
        this.server = new NettyServer("WebSocket", "parley-ws", settings.server());
    }

    /**
     * Binds and starts accepting. On failure everything started so far is shut down again.
     *
     * @throws IOException if the address cannot be bound or the port file cannot be written
     * @throws IllegalStateException if {@code epoll=true} but native epoll is unavailable
     */
    public void start() throws IOException {
        int maxFrameBytes = receiver.maxFrameBytes();
        server.start(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                initPipeline(ch.pipeline(), settings, maxFrameBytes, server, receiver);
            }
        }, "path " + settings.path() + ", " + settings.origins() + ", max frame " + maxFrameBytes + " bytes");
    }

    /**
     * Adds one connection's handlers before the upgrade: {@code http}, {@code http-aggregator}, {@code upgrade}
     * (which rebuilds the pipeline for WebSocket frames) and {@code session}. Also used by the fuzz target, so that
     * it drives this exact pipeline.
     */
    static void initPipeline(ChannelPipeline pipeline, WebSocketSettings settings, int maxFrameBytes,
                             NettyServer server, Receiver receiver) {
        int maxRequest = settings.maxHttpRequestBytes();
        pipeline.addLast("http", new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(maxRequest)
                .setMaxHeaderSize(maxRequest)));
        // closeOnExpectationFailed: the 417 for an unknown Expect closes, like every other refusal
        pipeline.addLast("http-aggregator", new HttpObjectAggregator(maxRequest, true) {
            @Override
            protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
                // Netty keeps a keep-alive connection open after its 413; a refused upgrade closes (the aggregator
                // releases the message and drops the rest of its body)
                FullHttpResponse tooLarge = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                        HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.EMPTY_BUFFER);
                tooLarge.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0)
                        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(tooLarge).addListener(LingeringClose.afterWrite(LingeringClose.DEFAULT_LINGER_MILLIS));
            }
        });
        pipeline.addLast("upgrade", new HttpUpgradeHandler(settings, maxFrameBytes));
        pipeline.addLast("session", new WebSocketSessionHandler(server, receiver));
    }

    /** See the class comment. Idempotent. */
    public void stop() {
        server.stop();
    }

    /** The bound address; null before {@link #start()} succeeded. */
    public InetSocketAddress localAddress() {
        return server.localAddress();
    }

    /** {@code "epoll"} or {@code "nio"}; null before {@link #start()}. */
    public String transportName() {
        return server.transportName();
    }

    /** Connections currently open and admitted (upgraded or not yet). */
    public int connectionCount() {
        return server.connectionCount();
    }
}
