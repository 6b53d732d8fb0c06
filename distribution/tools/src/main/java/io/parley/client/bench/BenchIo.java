package io.parley.client.bench;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.parley.client.ClientResources;

import java.util.Locale;

/**
 * The socket layer the load tool's clients run on ({@code --io}): Java NIO, or Netty's native epoll or io_uring.
 * A load tool on one core spends as much CPU per message as the server it measures; a native transport lowers its
 * share, so that the server, not the tool, is what saturates first.
 */
final class BenchIo {
    /** The {@code --io} values. */
    static final String AUTO = "auto";
    static final String NIO = "nio";
    static final String EPOLL = "epoll";
    static final String IO_URING = "io_uring";

    private BenchIo() {
    }

    /** @throws IllegalArgumentException if {@code io} is none of the {@code --io} values */
    static String check(String io) {
        String v = io.toLowerCase(Locale.ROOT);
        if (!v.equals(AUTO) && !v.equals(NIO) && !v.equals(EPOLL) && !v.equals(IO_URING)) {
            throw new IllegalArgumentException("--io: " + io + " (auto, nio, epoll or io_uring)");
        }
        return v;
    }

    /** @return the socket layer {@code resources}' clients really run on: {@code epoll}, {@code io_uring} or {@code nio} */
    static String name(ClientResources resources) {
        Class<?> channel = resources.channelType();
        if (channel == EpollSocketChannel.class) {
            return EPOLL;
        }
        return channel == IoUringSocketChannel.class ? IO_URING : NIO;
    }

    /**
     * @return resources owning a new group of {@code threads} event loops on {@code io}; {@code auto} is epoll where
     *         it loads, else NIO
     * @throws IllegalStateException if a native transport was asked for and does not load here
     */
    static ClientResources resources(String io, int threads) {
        String chosen = AUTO.equals(io) ? (epollAvailable() ? EPOLL : NIO) : io;
        IoHandlerFactory handlers;
        Class<? extends SocketChannel> channel;
        switch (chosen) {
            case EPOLL -> {
                if (!epollAvailable()) {
                    throw new IllegalStateException("--io epoll: native epoll is unavailable: "
                            + Epoll.unavailabilityCause());
                }
                handlers = EpollIoHandler.newFactory();
                channel = EpollSocketChannel.class;
            }
            case IO_URING -> {
                if (!ioUringAvailable()) {
                    throw new IllegalStateException("--io io_uring: native io_uring is unavailable: "
                            + IoUring.unavailabilityCause());
                }
                handlers = IoUringIoHandler.newFactory();
                channel = IoUringSocketChannel.class;
            }
            default -> {
                return ClientResources.nio(threads);
            }
        }
        return ClientResources.owning(new MultiThreadIoEventLoopGroup(threads,
                new DefaultThreadFactory("parley-client", true), handlers), channel);
    }

    private static boolean epollAvailable() {
        try {
            return Epoll.isAvailable();
        } catch (LinkageError e) { // the classes are not on the class path
            return false;
        }
    }

    private static boolean ioUringAvailable() {
        try {
            return IoUring.isAvailable();
        } catch (LinkageError e) {
            return false;
        }
    }
}
