package io.parley.transport.support;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;

/**
 * The only class that touches the io_uring classes. Bundles import {@code io.netty.channel.uring} optionally, so
 * callers must be ready for {@link LinkageError} when it is not wired.
 */
final class IoUringSupport {

    private IoUringSupport() {
    }

    static boolean isAvailable() {
        return IoUring.isAvailable();
    }

    static Throwable unavailabilityCause() {
        return IoUring.unavailabilityCause();
    }

    static IoHandlerFactory ioHandlerFactory() {
        return IoUringIoHandler.newFactory();
    }

    static Class<? extends ServerChannel> serverChannelClass() {
        return IoUringServerSocketChannel.class;
    }
}
