package io.parley.store.memory;

import io.parley.core.spi.store.ForwardingMessageStore;
import io.parley.core.spi.store.MessageStore;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

/**
 * The OSGi face of {@link MemoryMessageStore}: a {@link MessageStore} service with
 * {@code parley.store.name=memory}, configuration PID {@code parley.store.memory} (no keys yet). Each activation
 * starts empty; deactivation discards everything (durability policy: none).
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.memory",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=memory")
public final class MemoryStoreComponent extends ForwardingMessageStore {

    private final MemoryMessageStore store = new MemoryMessageStore();

    @Override
    protected MessageStore delegate() {
        return store;
    }
}
