package io.parley.transport.tcp.internal;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.core.proto.Notice;
import io.parley.core.spi.Receiver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The TCP transport: accepts connections, frames them (see {@link FrameDecoder}, {@link FrameEncoder}) and hands
 * each one to the core through {@link Receiver#open}. Plain Java, no OSGi.
 *
 * <p>Lifecycle: {@link #start()} once, then {@link #stop()} once (further calls do nothing). {@code stop} closes
 * the listening socket, sends every open connection {@code Notice.KIND_RECONNECT} and closes it, and shuts down
 * the event loop groups, waiting (bounded) until their threads have ended. Both block the calling thread and must
 * not be called from an event loop.
 *
 * <p>Threads: one acceptor {@code parley-tcp-boss-1} and {@code io.threads} I/O threads {@code parley-tcp-io-N}.
 */
public final class TcpServer {

    private static final Logger LOG = LoggerFactory.getLogger(TcpServer.class);
    private static final long SHUTDOWN_TIMEOUT_MILLIS = 5_000;

    private final TcpServerSettings settings;
    private final Receiver receiver;
    private final Set<TcpConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionCount = new AtomicInteger();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private volatile boolean stopping;

    private NamedThreadFactory bossThreads;
    private NamedThreadFactory ioThreads;
    private EventLoopGroup bossGroup;
    private EventLoopGroup ioGroup;
    private Channel serverChannel;
    private InetSocketAddress localAddress;
    private String transportName;

    public TcpServer(TcpServerSettings settings, Receiver receiver) {
        this.settings = settings;
        this.receiver = receiver;
    }

    /**
     * Binds and starts accepting. On failure everything started so far is shut down again.
     *
     * @throws IOException if the address cannot be bound or the port file cannot be written
     * @throws IllegalStateException if {@code epoll=true} but native epoll is unavailable
     */
    public void start() throws IOException {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("already started");
        }
        boolean epoll = useEpoll();
        IoHandlerFactory handlers = epoll ? EpollSupport.ioHandlerFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelClass =
                epoll ? EpollSupport.serverChannelClass() : NioServerSocketChannel.class;
        transportName = epoll ? "epoll" : "nio";

        bossThreads = new NamedThreadFactory("parley-tcp-boss");
        ioThreads = new NamedThreadFactory("parley-tcp-io");
        bossGroup = new MultiThreadIoEventLoopGroup(1, bossThreads, handlers);
        ioGroup = new MultiThreadIoEventLoopGroup(settings.effectiveIoThreads(), ioThreads, handlers);
        int maxFrameBytes = receiver.maxFrameBytes();

        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(bossGroup, ioGroup)
                .channel(channelClass)
                .option(ChannelOption.SO_BACKLOG, settings.soBacklog())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, settings.tcpNoDelay())
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(settings.outboundMaxBytes(), settings.outboundMaxBytes()))
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ChannelPipeline pipeline = ch.pipeline();
                        pipeline.addLast("decoder", new FrameDecoder(maxFrameBytes));
                        pipeline.addLast("encoder", FrameEncoder.INSTANCE);
                        if (!settings.idleTimeout().isZero()) {
                            // after the decoder: only complete frames count as activity
                            pipeline.addLast("idle", new IdleStateHandler(
                                    settings.idleTimeout().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
                        }
                        pipeline.addLast("session", new ConnectionHandler(TcpServer.this, receiver, settings));
                    }
                });

        ChannelFuture bind = bootstrap.bind(settings.host(), settings.port()).awaitUninterruptibly();
        if (!bind.isSuccess()) {
            shutdownGroups();
            throw new IOException("cannot bind TCP transport to " + settings.host() + ":" + settings.port(),
                    bind.cause());
        }
        serverChannel = bind.channel();
        localAddress = (InetSocketAddress) serverChannel.localAddress();
        try {
            writePortFile();
        } catch (IOException e) {
            serverChannel.close().awaitUninterruptibly();
            shutdownGroups();
            throw e;
        }
        LOG.info("Parley TCP listening on {}:{} ({}, {} I/O threads, max frame {} bytes)",
                localAddress.getHostString(), localAddress.getPort(), transportName,
                settings.effectiveIoThreads(), maxFrameBytes);
    }

    /**
     * Stops accepting, tells every client to reconnect after {@code reconnect.after.ms}, closes the connections
     * (waiting up to the close timeout plus one second for them) and shuts the event loops down, waiting up to
     * five seconds for their threads to end. Idempotent.
     */
    public void stop() {
        if (!started.get() || !stopped.compareAndSet(false, true)) {
            return;
        }
        stopping = true;
        if (serverChannel != null) {
            serverChannel.close().awaitUninterruptibly(SHUTDOWN_TIMEOUT_MILLIS);
        }
        Notice notice = stopNotice();
        List<ChannelFuture> closing = new ArrayList<>();
        for (TcpConnection connection : connections) {
            connection.close(notice);
            closing.add(connection.channel().closeFuture());
        }
        long deadline = System.nanoTime()
                + TimeUnit.MILLISECONDS.toNanos(settings.closeTimeout().toMillis() + 1_000);
        for (ChannelFuture future : closing) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !future.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                break;
            }
        }
        int told = closing.size();
        shutdownGroups();
        deletePortFile();
        LOG.info("Parley TCP stopped on port {} ({} connections told to reconnect)",
                localAddress == null ? settings.port() : localAddress.getPort(), told);
    }

    /** The bound address; null before {@link #start()} succeeded. */
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    /** {@code "epoll"} or {@code "nio"}; null before {@link #start()}. */
    public String transportName() {
        return transportName;
    }

    /** Connections currently open. */
    public int connectionCount() {
        return connectionCount.get();
    }

    boolean isStopping() {
        return stopping;
    }

    Notice stopNotice() {
        return Frames.reconnectNotice("server transport stopping", settings.reconnectAfterMs());
    }

    /** Counts a new connection against {@code max.connections}; false if it must be refused. */
    boolean admit(TcpConnection connection) {
        if (connectionCount.incrementAndGet() > settings.maxConnections()) {
            connectionCount.decrementAndGet();
            return false;
        }
        connections.add(connection);
        return true;
    }

    /** Undoes a successful {@link #admit}. */
    void release(TcpConnection connection) {
        if (connections.remove(connection)) {
            connectionCount.decrementAndGet();
        }
    }

    private boolean useEpoll() {
        switch (settings.epoll()) {
            case OFF:
                return false;
            case ON:
                if (!epollAvailable()) {
                    throw new IllegalStateException("epoll=true but native epoll is unavailable: "
                            + epollUnavailabilityCause());
                }
                return true;
            default:
                if (epollAvailable()) {
                    return true;
                }
                LOG.debug("native epoll unavailable, using NIO: {}", epollUnavailabilityCause());
                return false;
        }
    }

    private static boolean epollAvailable() {
        try {
            return EpollSupport.isAvailable();
        } catch (LinkageError e) {
            return false;
        }
    }

    private static String epollUnavailabilityCause() {
        try {
            return String.valueOf(EpollSupport.unavailabilityCause());
        } catch (LinkageError e) {
            return "package io.netty.channel.epoll is not wired (" + e + ")";
        }
    }

    private void shutdownGroups() {
        if (bossGroup == null) {
            return;
        }
        bossGroup.shutdownGracefully(0, SHUTDOWN_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        ioGroup.shutdownGracefully(0, SHUTDOWN_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        try {
            boolean ended = bossGroup.terminationFuture().await(SHUTDOWN_TIMEOUT_MILLIS)
                    && ioGroup.terminationFuture().await(SHUTDOWN_TIMEOUT_MILLIS)
                    && bossThreads.joinAll(SHUTDOWN_TIMEOUT_MILLIS)
                    && ioThreads.joinAll(SHUTDOWN_TIMEOUT_MILLIS);
            if (!ended) {
                LOG.warn("TCP transport event loops did not end within {} ms", SHUTDOWN_TIMEOUT_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("Interrupted while waiting for the TCP transport event loops to end");
        }
    }

    private void writePortFile() throws IOException {
        Path file = settings.portFile();
        if (file == null) {
            return;
        }
        Path absolute = file.toAbsolutePath();
        if (absolute.getParent() != null) {
            Files.createDirectories(absolute.getParent());
        }
        Path temp = absolute.resolveSibling(absolute.getFileName() + ".tmp");
        Files.writeString(temp, localAddress.getPort() + "\n", StandardCharsets.US_ASCII);
        Files.move(temp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private void deletePortFile() {
        Path file = settings.portFile();
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.warn("Cannot delete TCP port file {}: {}", file, e.toString());
        }
    }
}
