package io.parley.lettuce;

import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.netty.resolver.DefaultAddressResolverGroup;

import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Lettuce client resources owned by one Redis user (a store, the cluster link) that give back every thread and socket
 * they opened when {@link #close closed}: every Parley bundle that talks to Redis makes its resources here.
 *
 * <p>Host names are resolved with the JDK's resolver ({@link DefaultAddressResolverGroup}), not with Lettuce's default,
 * netty's asynchronous DNS resolver. That one is a single group per JVM
 * ({@code DefaultClientResources.DEFAULT_ADDRESS_RESOLVER_GROUP}) which opens a UDP socket for each event loop it
 * resolves an address on (an IP literal included) and does not reliably close it when those event loops shut down
 * (netty/netty#13013): each store or cluster link opened and closed — a bundle replaced, a connect that failed and
 * was retried — left a socket open for the life of the JVM (measured: about one per open and close). The price of the
 * JDK's resolver: a lookup runs on the connecting Lettuce event loop and blocks it for as long as the lookup takes,
 * only while connecting or reconnecting, and only for host names (an IP address needs no lookup; the JDK caches
 * answers, by default 30 s). Those event loops are this owner's own, never a Parley transport's.
 *
 * <p>Threading: create and close from any thread except one of these resources' own; {@link #close} blocks up to about
 * 3 s.
 */
public final class OwnedResources implements AutoCloseable {

    private final ClientResources resources;

    private OwnedResources(ClientResources resources) {
        this.resources = resources;
    }

    /**
     * @param settings sets what else the caller needs (thread pool sizes, reconnect delay) on the builder; the
     *                 address resolver group is this class's
     * @return resources to hand to {@code RedisClient.create} / {@code RedisClusterClient.create}; the caller closes
     *         them after its clients
     */
    public static OwnedResources create(Consumer<DefaultClientResources.Builder> settings) {
        DefaultClientResources.Builder builder = DefaultClientResources.builder();
        settings.accept(builder);
        builder.addressResolverGroup(DefaultAddressResolverGroup.INSTANCE);
        return new OwnedResources(builder.build());
    }

    public ClientResources resources() {
        return resources;
    }

    /** Shuts the event loops down (no quiet period, up to 2 s) and waits for them, up to 3 s. Idempotent. */
    @Override
    public void close() {
        resources.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3000);
    }
}
