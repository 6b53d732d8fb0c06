package io.parley.transport.websocket.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.parley.core.spi.transport.Receiver;
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
        int maxRequest = settings.maxHttpRequestBytes();
        server.start(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ChannelPipeline pipeline = ch.pipeline();
                pipeline.addLast("http", new HttpServerCodec(new HttpDecoderConfig()
                        .setMaxInitialLineLength(maxRequest)
                        .setMaxHeaderSize(maxRequest)));
                pipeline.addLast("http-aggregator", new HttpObjectAggregator(maxRequest));
                pipeline.addLast("upgrade", new HttpUpgradeHandler(settings, maxFrameBytes));
                pipeline.addLast("session", new WebSocketSessionHandler(server, receiver));
            }
        }, "path " + settings.path() + ", " + settings.origins() + ", max frame " + maxFrameBytes + " bytes");
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
