package io.parley.cluster.redis.internal;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.parley.lettuce.OwnedResources;

import java.time.Duration;
import java.util.List;

/**
 * The link's three Lettuce connections, with their client and resources: one shared, asynchronous connection for the
 * traffic (presence, inbox appends, acknowledgements), one for membership (leases, heartbeats, the node registry), so
 * that a heartbeat never queues behind thousands of inbox writes of a busy node and the node does not lose its lease
 * under load, and one for the inbox reader's blocking {@code XREADGROUP}, so a blocked read never holds up a command. Standalone or Redis Cluster (each command
 * routed to its key's slot). Lettuce reconnects by itself and re-sends the commands in flight, in order.
 *
 * <p>Thread-safe: the asynchronous connection may be used from any thread; the reader's only from the reader thread.
 */
final class Redis implements AutoCloseable {

    private final OwnedResources resources;
    private final AutoCloseable client;
    private final StatefulConnection<byte[], byte[]> main;
    private final StatefulConnection<byte[], byte[]> reading;
    private final StatefulConnection<byte[], byte[]> controlConnection;
    private final RedisClusterAsyncCommands<byte[], byte[]> async;
    private final RedisClusterAsyncCommands<byte[], byte[]> control;
    private final RedisClusterCommands<byte[], byte[]> reader;

    private Redis(OwnedResources resources, AutoCloseable client, StatefulConnection<byte[], byte[]> main,
                  RedisClusterAsyncCommands<byte[], byte[]> async, StatefulConnection<byte[], byte[]> controlConnection,
                  RedisClusterAsyncCommands<byte[], byte[]> control, StatefulConnection<byte[], byte[]> reading,
                  RedisClusterCommands<byte[], byte[]> reader) {
        this.resources = resources;
        this.client = client;
        this.main = main;
        this.async = async;
        this.controlConnection = controlConnection;
        this.control = control;
        this.reading = reading;
        this.reader = reader;
    }

    /**
     * Connects both connections; blocks up to the connect timeout (call from the link's own thread, never from a
     * core thread). The thread context class loader is Lettuce's bundle's meanwhile: Lettuce loads its services
     * (JSON parser, HTTP client provider) through it.
     *
     * @throws io.lettuce.core.RedisException if Redis cannot be reached
     */
    static Redis open(ClusterOptions options) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(RedisClient.class.getClassLoader());
        try {
            return connect(options);
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    private static Redis connect(ClusterOptions options) {
        OwnedResources resources = OwnedResources.create(b -> b.ioThreadPoolSize(2).computationThreadPoolSize(1));
        SocketOptions socket = SocketOptions.builder().connectTimeout(options.connectTimeout()).keepAlive(true)
                .tcpNoDelay(true).build();
        TimeoutOptions timeouts = TimeoutOptions.enabled(options.commandTimeout());
        List<RedisURI> uris = options.uris().stream().map(u -> {
            RedisURI uri = RedisURI.create(u);
            uri.setTimeout(options.commandTimeout());
            return uri;
        }).toList();
        try {
            if (options.redisCluster()) {
                RedisClusterClient client = RedisClusterClient.create(resources.resources(), uris);
                client.setOptions(ClusterClientOptions.builder().socketOptions(socket).timeoutOptions(timeouts)
                        .autoReconnect(true)
                        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
                        .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
                                .enableAllAdaptiveRefreshTriggers()
                                .enablePeriodicRefresh(Duration.ofSeconds(30)).build())
                        .build());
                try {
                    var main = client.connect(ByteArrayCodec.INSTANCE);
                    var control = client.connect(ByteArrayCodec.INSTANCE);
                    var reading = client.connect(ByteArrayCodec.INSTANCE);
                    return new Redis(resources, client::shutdown, main, main.async(), control, control.async(),
                            reading, reading.sync());
                } catch (RuntimeException e) {
                    client.shutdown();
                    throw e;
                }
            }
            RedisClient client = RedisClient.create(resources.resources(), uris.get(0));
            client.setOptions(ClientOptions.builder().socketOptions(socket).timeoutOptions(timeouts)
                    .autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS).build());
            try {
                var main = client.connect(ByteArrayCodec.INSTANCE);
                var control = client.connect(ByteArrayCodec.INSTANCE);
                var reading = client.connect(ByteArrayCodec.INSTANCE);
                return new Redis(resources, client::shutdown, main, main.async(), control, control.async(), reading,
                        reading.sync());
            } catch (RuntimeException e) {
                client.shutdown();
                throw e;
            }
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
    }

    /** The shared asynchronous API: each command written and flushed in call order. */
    RedisClusterAsyncCommands<byte[], byte[]> async() {
        return async;
    }

    /** Membership's asynchronous API (leases, heartbeats, the node registry): its own connection, any thread. */
    RedisClusterAsyncCommands<byte[], byte[]> control() {
        return control;
    }

    /** The inbox reader's synchronous API (its own connection); reader thread only. */
    RedisClusterCommands<byte[], byte[]> reader() {
        return reader;
    }

    /** Closes both connections, the client and its event loops; blocking (bounded). */
    @Override
    public void close() {
        try {
            reading.close();
            controlConnection.close();
            main.close();
        } finally {
            try {
                client.close();
            } catch (Exception e) {
                // nothing left to release if the client's own shutdown fails
            } finally {
                resources.close();
            }
        }
    }
}
