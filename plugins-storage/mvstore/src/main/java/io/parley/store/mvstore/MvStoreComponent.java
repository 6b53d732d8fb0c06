package io.parley.store.mvstore;

import io.parley.core.spi.store.ForwardingMessageStore;
import io.parley.core.spi.store.MessageStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The OSGi face of {@link MvMessageStore}: a {@link MessageStore} service with {@code parley.store.name=mvstore},
 * configuration PID {@code parley.store.mvstore}. Activation opens the file and starts the writer thread;
 * deactivation (bundle stop or update, config change) completes every accepted append, closes the file and joins
 * the thread. A configuration change re-creates the component.
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.mvstore",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=mvstore")
@Designate(ocd = MvStoreConfig.class)
public final class MvStoreComponent extends ForwardingMessageStore {

    private final MvMessageStore store;

    @Activate
    public MvStoreComponent(MvStoreConfig config) {
        this.store = MvMessageStore.open(options(config));
    }

    /** The configuration as options; {@code dir} resolved against system property {@code parley.home}. */
    static MvStoreOptions options(MvStoreConfig config) {
        return new MvStoreOptions(
                MvStoreOptions.resolveDir(config.dir(), System.getProperty("parley.home")),
                config.commit_max_batch(), config.commit_max_delay_micros(), config.fsync(),
                config.dedupe_window_hours(), config.queue_max(), config.cache_mb(), config.compact_fill_rate(),
                config.housekeeping_seconds(), config.watermark_flush_millis());
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
