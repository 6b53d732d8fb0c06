package io.parley.transport.support;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;

/**
 * The only class that touches the epoll classes. Bundles import {@code io.netty.channel.epoll} optionally, so
 * callers must be ready for {@link LinkageError} when it is not wired.
 */
final class EpollSupport {

    private EpollSupport() {
    }

    static boolean isAvailable() {
        return Epoll.isAvailable();
    }

    static Throwable unavailabilityCause() {
        return Epoll.unavailabilityCause();
    }

    static IoHandlerFactory ioHandlerFactory() {
        return EpollIoHandler.newFactory();
    }

    static Class<? extends ServerChannel> serverChannelClass() {
        return EpollServerSocketChannel.class;
    }
}
