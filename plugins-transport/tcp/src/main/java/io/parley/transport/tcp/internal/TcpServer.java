package io.parley.transport.tcp.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.NettyServer;
import io.parley.transport.support.ServerSettings;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The TCP transport: accepts connections, frames them (see {@link FrameDecoder}, {@link FrameEncoder}) and hands
 * each one to the core through {@link Receiver#open}. Plain Java, no OSGi; the lifecycle (event loops, binding,
 * port file, stop with reconnect notices) is {@link NettyServer}'s.
 *
 * <p>Lifecycle: {@link #start()} once, then {@link #stop()} once (further calls do nothing). {@code stop} closes
 * the listening socket, sends every open connection {@code Notice.KIND_RECONNECT} and closes it, and shuts down
 * the event loop groups, waiting (bounded) until their threads have ended. Both block the calling thread and must
 * not be called from an event loop.
 *
 * <p>Threads: one acceptor {@code parley-tcp-boss-1} and {@code io.threads} I/O threads {@code parley-tcp-io-N}.
 */
public final class TcpServer {

    private final ServerSettings settings;
    private final Receiver receiver;
    private final NettyServer server;

    public TcpServer(ServerSettings settings, Receiver receiver) {
        this.settings = settings;
        this.receiver = receiver;
        this.server = new NettyServer("TCP", "parley-tcp", settings);
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
                initPipeline(ch.pipeline(), maxFrameBytes, server, receiver);
            }
        }, "max frame " + maxFrameBytes + " bytes");
    }

    /**
     * Adds one connection's handlers: {@code decoder}, {@code encoder}, {@code idle} (unless the idle timeout is
     * zero) and {@code session}. Also used by the fuzz target, so that it drives this exact pipeline.
     */
    static void initPipeline(ChannelPipeline pipeline, int maxFrameBytes, NettyServer server, Receiver receiver) {
        pipeline.addLast("decoder", new FrameDecoder(maxFrameBytes));
        pipeline.addLast("encoder", FrameEncoder.INSTANCE);
        if (!server.settings().idleTimeout().isZero()) {
            // after the decoder: only complete frames count as activity
            pipeline.addLast("idle", new IdleStateHandler(
                    server.settings().idleTimeout().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
        }
        pipeline.addLast("session", new ConnectionHandler(server, receiver));
    }

    /**
     * Stops accepting, tells every client to reconnect after {@code reconnect.after.ms}, closes the connections
     * (waiting up to the close timeout plus one second for them) and shuts the event loops down, waiting up to
     * five seconds for their threads to end. Idempotent.
     */
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

    /** Connections currently open. */
    public int connectionCount() {
        return server.connectionCount();
    }
}
