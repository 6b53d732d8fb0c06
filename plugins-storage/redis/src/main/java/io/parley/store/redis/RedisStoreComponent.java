package io.parley.store.redis;

import io.lettuce.core.RedisClient;
import io.parley.core.spi.store.ForwardingMessageStore;
import io.parley.core.spi.store.MessageStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

import java.time.Duration;

/**
 * The OSGi face of {@link RedisMessageStore}: a {@link MessageStore} service with {@code parley.store.name=redis},
 * configuration PID {@code parley.store.redis}. Activation connects to Redis (blocking, up to the connect timeout;
 * activation fails if Redis cannot be reached or is older than 7.0); deactivation (bundle stop or update, config
 * change) completes every accepted append, closes the connection and stops the client's threads. Lettuce is the
 * system/ bundle io.parley.lettuce, shared with every other Redis user of the JVM: nothing of it is stopped here
 * beyond this store's own client and resources. A configuration change re-creates the component.
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.redis",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=redis")
@Designate(ocd = RedisStoreConfig.class)
public final class RedisStoreComponent extends ForwardingMessageStore {

    private final RedisMessageStore store;

    @Activate
    public RedisStoreComponent(RedisStoreConfig config) {
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        // Lettuce finds its optional dependencies and its META-INF/services through the context class loader (SCR's
        // inside OSGi): point it at Lettuce's own bundle, which wires and holds them
        Thread.currentThread().setContextClassLoader(RedisClient.class.getClassLoader());
        try {
            this.store = RedisMessageStore.open(options(config));
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
        }
    }

    static RedisStoreOptions options(RedisStoreConfig config) {
        return new RedisStoreOptions(RedisStoreOptions.splitUris(config.uri()), config.cluster(),
                config.key_prefix(), Duration.ofMillis(config.connect_timeout_millis()),
                Duration.ofMillis(config.command_timeout_millis()), config.dedupe_window_hours(),
                config.commit_max_batch());
    }

    @Deactivate
    void deactivate() {
        store.close();
    }

    @Override
    protected MessageStore delegate() {
        return store;
    }
}
