package io.parley.transport.support;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport a server runs on: native epoll or Java NIO.
 *
 * @param name          {@code "epoll"} or {@code "nio"}
 * @param handlers      creates the event loops' I/O handlers
 * @param serverChannel the listening channel class matching {@code handlers}
 */
public record IoTransport(String name, IoHandlerFactory handlers, Class<? extends ServerChannel> serverChannel) {

    private static final Logger LOG = LoggerFactory.getLogger(IoTransport.class);

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

    private static IoTransport epoll() {
        return new IoTransport("epoll", EpollSupport.ioHandlerFactory(), EpollSupport.serverChannelClass());
    }

    private static IoTransport nio() {
        return new IoTransport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class);
    }
}
