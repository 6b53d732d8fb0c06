package io.parley.transport.support;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.parley.core.proto.Notice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The part of a transport server that does not depend on the wire format: event loops (epoll or NIO), binding,
 * the port file, the registry of open connections with {@code max.connections}, and an orderly stop. Plain Java,
 * no OSGi. The transport supplies the child channel initializer.
 *
 * <p>Lifecycle: {@link #start} once, then {@link #stop()} once (further calls do nothing). {@code stop} closes the
 * listening socket, sends every registered connection {@code Notice.KIND_RECONNECT} and closes it, and shuts down
 * the event loop groups, waiting (bounded) until their threads have ended. Both block the calling thread and must
 * not be called from an event loop.
 *
 * <p>TLS: when {@link ServerSettings#tls()} is enabled, {@link #start} loads the certificate and key once (a
 * configuration change restarts the server) and every accepted channel gets an {@code SslHandler} named
 * {@code "tls"} first in its pipeline, before the transport's handlers, which therefore read and write plaintext.
 * The TLS handshake counts against the handshake timeout; a failed handshake closes the connection with one log
 * line. Transports need no code of their own for it.
 *
 * <p>Threads: one acceptor {@code <threadPrefix>-boss-1} and {@code io.threads} I/O threads
 * {@code <threadPrefix>-io-N}.
 */
public final class NettyServer {

    private static final Logger LOG = LoggerFactory.getLogger(NettyServer.class);
    private static final long SHUTDOWN_TIMEOUT_MILLIS = 5_000;

    private final String label;
    private final String threadPrefix;
    private final ServerSettings settings;
    private final Set<NettyConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionCount = new AtomicInteger();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private volatile boolean stopping;
    /** {@code max.connections}, lowered to the process's file limit's share at start ({@link FileLimit}). */
    private volatile int maxConnections;

    private NamedThreadFactory bossThreads;
    private NamedThreadFactory ioThreads;
    private EventLoopGroup bossGroup;
    private EventLoopGroup ioGroup;
    private volatile Map<EventLoop, LoopOutbox> outboxes = Map.of();
    private Channel serverChannel;
    private InetSocketAddress localAddress;
    private String transportName;

    /**
     * @param label        transport name for logs, e.g. {@code "TCP"}
     * @param threadPrefix prefix of the event loop threads' names, e.g. {@code "parley-tcp"}
     */
    public NettyServer(String label, String threadPrefix, ServerSettings settings) {
        this.label = label;
        this.threadPrefix = threadPrefix;
        this.settings = settings;
        this.maxConnections = settings.maxConnections();
    }

    /** @return the open connections accepted at once: {@code max.connections}, capped by the file limit at start */
    public int maxConnections() {
        return maxConnections;
    }

    /**
     * Binds and starts accepting; every accepted channel gets {@code childHandler} (usually a
     * {@code ChannelInitializer}). On failure everything started so far is shut down again.
     *
     * @param description what to add to the "listening" log line (framing, limits)
     * @throws IOException if the address cannot be bound, the port file cannot be written, or TLS is enabled and
     *                     its certificate or key cannot be loaded (the message names the file)
     * @throws IllegalStateException if {@code epoll=true} or {@code io.uring=true} but that native transport is
     *                               unavailable
     */
    public void start(ChannelHandler childHandler, String description) throws IOException {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("already started");
        }
        ChannelHandler child = childHandler;
        if (settings.tls().enabled()) {
            child = new TlsInitializer(settings.tls().newServerContext(), settings.handshakeTimeout(), label,
                    childHandler);
        }
        IoTransport io = IoTransport.select(settings.epoll(), settings.ioUring());
        transportName = io.name();

        bossThreads = new NamedThreadFactory(threadPrefix + "-boss");
        ioThreads = new NamedThreadFactory(threadPrefix + "-io");
        bossGroup = new MultiThreadIoEventLoopGroup(1, bossThreads, io.handlers());
        ioGroup = new MultiThreadIoEventLoopGroup(settings.effectiveIoThreads(), ioThreads, io.handlers());
        Map<EventLoop, LoopOutbox> boxes = new HashMap<>();
        for (EventExecutor e : ioGroup) {
            boxes.put((EventLoop) e, new LoopOutbox((EventLoop) e));
        }
        outboxes = Map.copyOf(boxes);

        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(bossGroup, ioGroup)
                .channel(io.serverChannel())
                .option(ChannelOption.SO_BACKLOG, settings.soBacklog())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, settings.tcpNoDelay())
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(settings.outboundMaxBytes(), settings.outboundMaxBytes()))
                .childHandler(child);

        ChannelFuture bind = bootstrap.bind(settings.host(), settings.port()).awaitUninterruptibly();
        if (!bind.isSuccess()) {
            shutdownGroups();
            throw new IOException("cannot bind " + label + " transport to " + settings.host() + ":"
                    + settings.port(), bind.cause());
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
        long files = FileLimit.maxOpenFiles();
        maxConnections = FileLimit.cap(settings.maxConnections(), files);
        if (maxConnections < settings.maxConnections()) {
            LOG.warn("Parley {}: max.connections {} lowered to {}: this process may open {} files (ulimit -n) and "
                    + "each transport takes at most {}% of them; raise the limit (e.g. LimitNOFILE in a systemd unit) "
                    + "to accept more", label, settings.maxConnections(), maxConnections, files, FileLimit.SHARE_PERCENT);
        }
        LOG.info("Parley {} listening on {}:{} ({}, {}, {} I/O threads, max {} connections{}, {})", label,
                localAddress.getHostString(), localAddress.getPort(), settings.tls().describe(), transportName,
                settings.effectiveIoThreads(), maxConnections,
                files > 0 ? " of a " + files + "-file process limit" : "", description);
    }

    /**
     * Stops accepting, tells every registered connection to reconnect after {@code reconnect.after.ms} (through
     * {@link NettyConnection#close(Notice)}), waits up to the close timeout plus one second for them to close, and
     * shuts the event loops down, waiting up to five seconds for their threads to end. Idempotent.
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
        for (NettyConnection connection : connections) {
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
        LOG.info("Parley {} stopped on port {} ({} connections told to reconnect)", label,
                localAddress == null ? settings.port() : localAddress.getPort(), told);
    }

    /**
     * @return the outbox shared by the connections of {@code loop} (one of this server's I/O loops), so that a fan-out
     *         from another thread costs one task per loop; a fresh one if the loop is not this server's
     */
    public LoopOutbox outbox(EventLoop loop) {
        LoopOutbox box = outboxes.get(loop);
        return box != null ? box : new LoopOutbox(loop);
    }

    public ServerSettings settings() {
        return settings;
    }

    /** The bound address; null before {@link #start} succeeded. */
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    /** {@code "io_uring"}, {@code "epoll"} or {@code "nio"}; null before {@link #start}. */
    public String transportName() {
        return transportName;
    }

    /** Connections currently registered (admitted and not yet released). */
    public int connectionCount() {
        return connectionCount.get();
    }

    /** True once {@link #stop()} has begun: new connections must be told to reconnect instead of served. */
    public boolean isStopping() {
        return stopping;
    }

    /** The notice sent to every client when the server stops. */
    public Notice stopNotice() {
        return Frames.reconnectNotice("server transport stopping", settings.reconnectAfterMs());
    }

    /**
     * Registers a new connection, counting it against {@code max.connections}. Any thread. Once {@link #stop} has
     * begun, a connection registered is told to reconnect and closed at once (it may have been accepted as the stop
     * went over the connections).
     *
     * @return false if the limit is reached; the connection is then not registered and must be refused
     */
    public boolean admit(NettyConnection connection) {
        if (connectionCount.incrementAndGet() > maxConnections) {
            connectionCount.decrementAndGet();
            return false;
        }
        connections.add(connection);
        if (stopping) {
            // stop() may have gone over the connections before this one was added (accepted just as it began): it is
            // told to reconnect here instead, so no connection waits for the event loops' shutdown to be closed
            connection.close(stopNotice());
        }
        return true;
    }

    /** Undoes a successful {@link #admit}; does nothing for a connection that is not registered. */
    public void release(NettyConnection connection) {
        if (connections.remove(connection)) {
            connectionCount.decrementAndGet();
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
                LOG.warn("{} transport event loops did not end within {} ms", label, SHUTDOWN_TIMEOUT_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("Interrupted while waiting for the {} transport event loops to end", label);
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
            LOG.warn("Cannot delete {} port file {}: {}", label, file, e.toString());
        }
    }
}
