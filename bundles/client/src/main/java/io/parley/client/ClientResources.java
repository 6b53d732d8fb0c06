package io.parley.client;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The event loop group that clients run on. Share one instance between many clients (a load tool runs
 * thousands of clients on a few threads); each client pins itself to one event loop of the group for its whole
 * life.
 *
 * <p>Ownership: {@link #close()} shuts the group down only if this instance created it ({@link #nio(int)}) or was
 * given it to own ({@link #owning});
 * a group passed to {@link #shared} belongs to the caller. A client never closes resources it was given.
 * Thread-safe.
 */
public final class ClientResources implements AutoCloseable {
    private final EventLoopGroup group;
    private final Class<? extends SocketChannel> channelType;
    private final boolean owned;

    private ClientResources(EventLoopGroup group, Class<? extends SocketChannel> channelType, boolean owned) {
        this.group = Objects.requireNonNull(group, "group");
        this.channelType = Objects.requireNonNull(channelType, "channelType");
        this.owned = owned;
    }

    /** @return resources owning a new NIO group of {@code threads} daemon threads ({@code 0}: Netty's default) */
    public static ClientResources nio(int threads) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads,
                new DefaultThreadFactory("parley-client", true), NioIoHandler.newFactory());
        return new ClientResources(group, NioSocketChannel.class, true);
    }

    /**
     * @param group an event loop group owned by the caller
     * @param channelType the socket channel class matching the group's transport (e.g. {@link NioSocketChannel})
     */
    public static ClientResources shared(EventLoopGroup group, Class<? extends SocketChannel> channelType) {
        return new ClientResources(group, channelType, false);
    }

    /**
     * Takes over a group the caller created, e.g. on a native transport: {@link #close()} shuts it down.
     *
     * @param channelType the socket channel class matching the group's transport (e.g. {@code EpollSocketChannel})
     * @since 1.8
     */
    public static ClientResources owning(EventLoopGroup group, Class<? extends SocketChannel> channelType) {
        return new ClientResources(group, channelType, true);
    }

    public EventLoopGroup group() {
        return group;
    }

    public Class<? extends SocketChannel> channelType() {
        return channelType;
    }

    /** Shuts the group down (and waits up to 5 s) if this instance owns it; otherwise does nothing. */
    @Override
    public void close() {
        if (owned) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }
}
