package io.parley.type.support;

import io.parley.core.spi.blob.BlobStore;
import org.slf4j.Logger;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The blob store a component's optional, dynamic, greedy reference holds now, for calls that each read it once when
 * they start ({@link #get}). A greedy reference binds a replacement before it unbinds the store replaced, so
 * {@link #unbind} clears only the store still held. Thread-safe.
 */
public final class BlobStoreBinding implements Supplier<Optional<BlobStore>> {

    private final AtomicReference<BlobStore> current = new AtomicReference<>();
    private final Logger log;
    private final String kept;
    private final String without;

    /**
     * @param log     the component's logger
     * @param kept    what the store keeps, logged at bind as "{@code <kept> are kept in <store>}"
     * @param without what stops working, logged when the last store leaves as "{@code No blob store: <without>}"
     */
    public BlobStoreBinding(Logger log, String kept, String without) {
        this.log = log;
        this.kept = kept;
        this.without = without;
    }

    /** Holds {@code store} from now on, in place of any other. */
    public void bind(BlobStore store) {
        current.set(store);
        log.info("{} are kept in {}", kept, store);
    }

    /** Lets go of {@code store} unless another was bound since. */
    public void unbind(BlobStore store) {
        if (current.compareAndSet(store, null)) {
            log.warn("No blob store: {}", without);
        }
    }

    /** @return the store held now, or empty if none is */
    @Override
    public Optional<BlobStore> get() {
        return Optional.ofNullable(current.get());
    }
}
