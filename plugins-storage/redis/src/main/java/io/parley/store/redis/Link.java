package io.parley.store.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.MaintNotificationsConfig;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.protocol.RedisCommand;
import io.lettuce.core.resource.Delay;
import io.parley.lettuce.OwnedResources;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Lettuce connection (standalone, or a cluster connection that routes each command to the master of its key's
 * slot) with its client and resources, owned by one store. Thread-safe: commands may be dispatched from any thread.
 *
 * <p>Redis Enterprise maintenance notifications are off: the client does not follow endpoint moves the server announces
 * ({@code MOVING}); where it reconnects is decided by the URI(s) and, on a cluster, by the topology refresh below.
 *
 * <p>Reconnects: Lettuce reconnects by itself and re-sends, in their original order, the commands that were written
 * but not answered and those issued while disconnected (at-least-once); the store's scripts are idempotent for that.
 * Commands time out after {@code commandTimeout}, reconnects included.
 */
final class Link implements AutoCloseable {

    private final OwnedResources resources;
    private final AutoCloseable client;
    private final StatefulConnection<byte[], byte[]> connection;
    private final RedisClusterAsyncCommands<byte[], byte[]> async;
    private final String description;

    private Link(OwnedResources resources, AutoCloseable client, StatefulConnection<byte[], byte[]> connection,
                 RedisClusterAsyncCommands<byte[], byte[]> async, String description) {
        this.resources = resources;
        this.client = client;
        this.connection = connection;
        this.async = async;
        this.description = description;
    }

    /** Connects (blocking, up to the connect timeout); @throws io.lettuce.core.RedisException if it cannot. */
    static Link open(RedisStoreOptions options) {
        // reconnect attempts back off from 10 ms to at most 1 s (Lettuce's default grows to 30 s): sends wait for
        // the reconnect, so a Redis that is back must be found quickly
        OwnedResources resources = OwnedResources.create(b -> b.ioThreadPoolSize(2).computationThreadPoolSize(1)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(10), Duration.ofSeconds(1), 2,
                        TimeUnit.MILLISECONDS)));
        SocketOptions socket = SocketOptions.builder().connectTimeout(options.connectTimeout()).keepAlive(true)
                .tcpNoDelay(true).build();
        TimeoutOptions timeouts = TimeoutOptions.enabled(options.commandTimeout());
        List<RedisURI> uris = options.uris().stream().map(u -> {
            RedisURI uri = RedisURI.create(u);
            uri.setTimeout(options.commandTimeout());
            return uri;
        }).toList();
        try {
            if (options.cluster()) {
                RedisClusterClient client = RedisClusterClient.create(resources.resources(), uris);
                ClusterClientOptions.Builder clusterOptions = ClusterClientOptions.builder().socketOptions(socket)
                        .timeoutOptions(timeouts).autoReconnect(true)
                        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
                        .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
                                .enableAllAdaptiveRefreshTriggers()
                                .enablePeriodicRefresh(Duration.ofSeconds(30)).build());
                clusterOptions.maintNotificationsConfig(MaintNotificationsConfig.disabled());
                client.setOptions(clusterOptions.build());
                try {
                    var connection = client.connect(ByteArrayCodec.INSTANCE);
                    return new Link(resources, client::shutdown, connection, connection.async(),
                            "Redis Cluster " + options.uris());
                } catch (RuntimeException e) {
                    client.shutdown();
                    throw e;
                }
            }
            RedisClient client = RedisClient.create(resources.resources(), uris.get(0));
            client.setOptions(ClientOptions.builder().socketOptions(socket).timeoutOptions(timeouts)
                    .autoReconnect(true).maintNotificationsConfig(MaintNotificationsConfig.disabled())
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS).build());
            try {
                var connection = client.connect(ByteArrayCodec.INSTANCE);
                return new Link(resources, client::shutdown, connection, connection.async(),
                        "Redis " + redacted(uris.get(0)));
            } catch (RuntimeException e) {
                client.shutdown();
                throw e;
            }
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
    }

    private static String redacted(RedisURI uri) {
        return (uri.isSsl() ? "rediss://" : "redis://") + uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase();
    }

    /** Writes the commands in this order, with one flush where the connection allows it (standalone). */
    void dispatch(Collection<? extends RedisCommand<byte[], byte[], ?>> commands) {
        connection.dispatch(commands);
    }

    /** The ordinary asynchronous API (each command written and flushed on its own). */
    RedisClusterAsyncCommands<byte[], byte[]> async() {
        return async;
    }

    boolean isOpen() {
        return connection.isOpen();
    }

    @Override
    public String toString() {
        return description;
    }

    /** Closes the connection, the client and its event loops; blocking. */
    @Override
    public void close() {
        try {
            connection.close();
        } finally {
            try {
                client.close();
            } catch (Exception e) {
                // the client's own shutdown failing leaves nothing for us to release
            } finally {
                resources.close();
            }
        }
    }
}
