package io.parley.transport.support;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport a server runs on: native io_uring, native epoll or Java NIO.
 *
 * @param name          {@code "io_uring"}, {@code "epoll"} or {@code "nio"}
 * @param handlers      creates the event loops' I/O handlers
 * @param serverChannel the listening channel class matching {@code handlers}
 */
public record IoTransport(String name, IoHandlerFactory handlers, Class<? extends ServerChannel> serverChannel) {

    private static final Logger LOG = LoggerFactory.getLogger(IoTransport.class);

    /**
     * Picks the transport: io_uring when {@code ioUring} is {@link EpollMode#ON}, or {@link EpollMode#AUTO} and
     * io_uring is available; otherwise as {@link #select(EpollMode)}.
     *
     * @throws IllegalStateException if a mode is {@link EpollMode#ON} and its native transport is unavailable
     */
    public static IoTransport select(EpollMode epoll, EpollMode ioUring) {
        switch (ioUring) {
            case ON:
                if (!ioUringAvailable()) {
                    throw new IllegalStateException("io.uring=true but native io_uring is unavailable: "
                            + ioUringUnavailabilityCause());
                }
                return ioUring();
            case AUTO:
                if (ioUringAvailable()) {
                    return ioUring();
                }
                LOG.debug("native io_uring unavailable: {}", ioUringUnavailabilityCause());
                return select(epoll);
            default:
                return select(epoll);
        }
    }

    /**
     * Picks the transport for {@code mode}.
     *
     * @throws IllegalStateException if {@code mode} is {@link EpollMode#ON} and native epoll is unavailable
     */
    public static IoTransport select(EpollMode mode) {
        switch (mode) {
            case OFF:
                return nio();
            case ON:
                if (!epollAvailable()) {
                    throw new IllegalStateException("epoll=true but native epoll is unavailable: "
                            + epollUnavailabilityCause());
                }
                return epoll();
            default:
                if (epollAvailable()) {
                    return epoll();
                }
                LOG.debug("native epoll unavailable, using NIO: {}", epollUnavailabilityCause());
                return nio();
        }
    }

    /** True if native epoll can be used here (its classes are wired and its native library loads). */
    public static boolean epollAvailable() {
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

    /** True if native io_uring can be used here (its classes are wired, its library loads, the kernel allows it). */
    public static boolean ioUringAvailable() {
        try {
            return IoUringSupport.isAvailable();
        } catch (LinkageError e) {
            return false;
        }
    }

    private static String ioUringUnavailabilityCause() {
        try {
            return String.valueOf(IoUringSupport.unavailabilityCause());
        } catch (LinkageError e) {
            return "package io.netty.channel.uring is not wired (" + e + ")";
        }
    }

    private static IoTransport ioUring() {
        return new IoTransport("io_uring", IoUringSupport.ioHandlerFactory(), IoUringSupport.serverChannelClass());
    }

    private static IoTransport epoll() {
        return new IoTransport("epoll", EpollSupport.ioHandlerFactory(), EpollSupport.serverChannelClass());
    }

    private static IoTransport nio() {
        return new IoTransport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class);
    }
}
