package io.parley.transport.support;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings every Netty transport server has. Immutable; build with {@link #builder()}, whose defaults are those of
 * the shipped {@code .cfg} files except {@code port}, which starts at 0 (each transport has its own default port).
 *
 * @param host              address to bind; {@code 0.0.0.0} for every interface
 * @param port              port to bind; 0 picks an ephemeral port
 * @param ioThreads         I/O event loop threads; 0 means one per available processor
 * @param epoll             whether to use the native epoll transport
 * @param handshakeTimeout  time a connection has to authenticate (hello) before it is closed
 * @param idleTimeout       time without any complete frame from the client before it is closed; zero disables
 * @param outboundMaxBytes  per-connection cap on frames queued for writing; past it the client is a slow consumer
 * @param maxConnections    open connections accepted at once; further ones are refused with a retryable error
 * @param soBacklog         listen backlog
 * @param tcpNoDelay        TCP_NODELAY on accepted connections
 * @param reconnectAfterMs  {@code reconnect_after_ms} sent in the reconnect notice when the server stops
 * @param closeTimeout      how long a closing connection may take to write its final error or notice (and, on
 *                          WebSocket, to answer the close handshake)
 * @param portFile          file to write the bound port into after binding, or null for none
 * @param tls               TLS in front of the transport's protocol ({@code tls.*} keys); {@link TlsSettings#disabled()}
 *                          for plaintext
 * @param ioUring           whether to use the native io_uring transport (key {@code io.uring}); when it is not used,
 *                          {@code epoll} decides between epoll and NIO
 */
public record ServerSettings(
        String host,
        int port,
        int ioThreads,
        EpollMode epoll,
        Duration handshakeTimeout,
        Duration idleTimeout,
        int outboundMaxBytes,
        int maxConnections,
        int soBacklog,
        boolean tcpNoDelay,
        int reconnectAfterMs,
        Duration closeTimeout,
        Path portFile,
        TlsSettings tls,
        EpollMode ioUring) {

    public ServerSettings {
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(epoll, "epoll");
        Objects.requireNonNull(ioUring, "ioUring");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(closeTimeout, "closeTimeout");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0-65535: " + port);
        }
        if (ioThreads < 0) {
            throw new IllegalArgumentException("io.threads must be >= 0: " + ioThreads);
        }
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
            throw new IllegalArgumentException("handshake.timeout.seconds must be positive: " + handshakeTimeout.toSeconds());
        }
        if (idleTimeout.isNegative()) {
            throw new IllegalArgumentException("idle.timeout.seconds must be >= 0: " + idleTimeout.toSeconds());
        }
        if (outboundMaxBytes <= 0) {
            throw new IllegalArgumentException("outbound.max.bytes must be positive: " + outboundMaxBytes);
        }
        if (maxConnections <= 0) {
            throw new IllegalArgumentException("max.connections must be positive: " + maxConnections);
        }
        if (soBacklog <= 0) {
            throw new IllegalArgumentException("so.backlog must be positive: " + soBacklog);
        }
        if (reconnectAfterMs < 0) {
            throw new IllegalArgumentException("reconnect.after.ms must be >= 0: " + reconnectAfterMs);
        }
        if (closeTimeout.isNegative()) {
            throw new IllegalArgumentException("close timeout must be >= 0: " + closeTimeout);
        }
    }

    /** The settings without TLS (the constructor from before {@code tls} existed). */
    public ServerSettings(String host, int port, int ioThreads, EpollMode epoll, Duration handshakeTimeout,
                          Duration idleTimeout, int outboundMaxBytes, int maxConnections, int soBacklog,
                          boolean tcpNoDelay, int reconnectAfterMs, Duration closeTimeout, Path portFile) {
        this(host, port, ioThreads, epoll, handshakeTimeout, idleTimeout, outboundMaxBytes, maxConnections, soBacklog,
                tcpNoDelay, reconnectAfterMs, closeTimeout, portFile, TlsSettings.disabled(), EpollMode.OFF);
    }

    /** I/O threads to start: {@link #ioThreads()} or, when 0, the number of available processors. */
    public int effectiveIoThreads() {
        return ioThreads > 0 ? ioThreads : Runtime.getRuntime().availableProcessors();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Mutable builder; every field starts at its documented default. */
    public static final class Builder {
        private String host = "0.0.0.0";
        private int port = 0;
        private int ioThreads = 0;
        private EpollMode epoll = EpollMode.AUTO;
        private Duration handshakeTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(90);
        private int outboundMaxBytes = 4 * 1024 * 1024;
        private int maxConnections = 20_000;
        private int soBacklog = 1024;
        private boolean tcpNoDelay = true;
        private int reconnectAfterMs = 1000;
        private Duration closeTimeout = Duration.ofSeconds(2);
        private Path portFile;
        private TlsSettings tls = TlsSettings.disabled();
        private EpollMode ioUring = EpollMode.OFF;

        private Builder() {
        }

        public Builder host(String value) { host = value; return this; }
        public Builder port(int value) { port = value; return this; }
        public Builder ioThreads(int value) { ioThreads = value; return this; }
        public Builder epoll(EpollMode value) { epoll = value; return this; }
        public Builder handshakeTimeout(Duration value) { handshakeTimeout = value; return this; }
        public Builder idleTimeout(Duration value) { idleTimeout = value; return this; }
        public Builder outboundMaxBytes(int value) { outboundMaxBytes = value; return this; }
        public Builder maxConnections(int value) { maxConnections = value; return this; }
        public Builder soBacklog(int value) { soBacklog = value; return this; }
        public Builder tcpNoDelay(boolean value) { tcpNoDelay = value; return this; }
        public Builder reconnectAfterMs(int value) { reconnectAfterMs = value; return this; }
        public Builder closeTimeout(Duration value) { closeTimeout = value; return this; }
        public Builder portFile(Path value) { portFile = value; return this; }
        public Builder tls(TlsSettings value) { tls = value; return this; }
        public Builder ioUring(EpollMode value) { ioUring = value; return this; }

        public ServerSettings build() {
            return new ServerSettings(host, port, ioThreads, epoll, handshakeTimeout, idleTimeout,
                    outboundMaxBytes, maxConnections, soBacklog, tcpNoDelay, reconnectAfterMs, closeTimeout,
                    portFile, tls, ioUring);
        }
    }
}
