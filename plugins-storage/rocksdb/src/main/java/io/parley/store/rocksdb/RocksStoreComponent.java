package io.parley.store.rocksdb;

import io.parley.core.spi.store.ForwardingMessageStore;
import io.parley.core.spi.store.MessageStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The OSGi face of {@link RocksMessageStore}: a {@link MessageStore} service with {@code parley.store.name=rocksdb},
 * configuration PID {@code parley.store.rocksdb}. Activation loads the native library if no store loaded it before
 * (from the system/ bundle io.parley.rocksdbjni, which keeps it for the life of the JVM), opens the database and
 * starts the writer thread; deactivation (bundle stop or update, config change) completes every accepted append,
 * writes the pending watermarks, closes every RocksDB handle and joins the thread. A configuration change re-creates
 * the component.
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.rocksdb",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=rocksdb")
@Designate(ocd = RocksStoreConfig.class)
public final class RocksStoreComponent extends ForwardingMessageStore {

    private final RocksMessageStore store;

    @Activate
    public RocksStoreComponent(RocksStoreConfig config) {
        this.store = RocksMessageStore.open(options(config));
    }

    /** The configuration as options; {@code dir} resolved against system property {@code parley.home}. */
    static RocksStoreOptions options(RocksStoreConfig config) {
        return new RocksStoreOptions(
                RocksStoreOptions.resolveDir(config.dir(), System.getProperty("parley.home")),
                config.commit_max_batch(), 0, config.fsync(), config.dedupe_window_hours(), config.queue_max(),
                config.watermark_flush_millis());
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
