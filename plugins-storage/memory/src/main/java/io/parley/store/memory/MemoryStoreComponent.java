package io.parley.store.memory;

import io.parley.core.spi.store.ForwardingMessageStore;
import io.parley.core.spi.store.MessageStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The OSGi face of {@link MemoryMessageStore}: a {@link MessageStore} service with
 * {@code parley.store.name=memory}, configuration PID {@code parley.store.memory}. Each activation starts empty;
 * deactivation (and a configuration change, which re-creates the component) discards everything (durability
 * policy: none).
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.memory",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=memory")
@Designate(ocd = MemoryStoreConfig.class)
public final class MemoryStoreComponent extends ForwardingMessageStore {

    private final MemoryMessageStore store;

    @Activate
    public MemoryStoreComponent(MemoryStoreConfig config) {
        this.store = new MemoryMessageStore(limits(config, Runtime.getRuntime().maxMemory()));
    }

    /** The configured limits; {@code max.bytes = 0} is a quarter of {@code maxHeap}. */
    static MemoryMessageStore.Limits limits(MemoryStoreConfig config, long maxHeap) {
        long bytes = config.max_bytes() > 0 ? config.max_bytes() : Math.max(1, maxHeap / 4);
        return new MemoryMessageStore.Limits(config.max_messages(), bytes);
    }

    @Override
    protected MessageStore delegate() {
        return store;
    }
}
