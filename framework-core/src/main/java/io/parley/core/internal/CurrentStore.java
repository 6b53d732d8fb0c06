package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

/**
 * The message store the engine uses now: set by {@link Engine} as DS binds and unbinds the store (swaps included),
 * read by every part of the engine. While none is bound, {@link #require} refuses with the retryable
 * {@code UNAVAILABLE} (clients retry with the same ids).
 *
 * <p>Thread-safe: one volatile field; read it once per operation and keep the reference for the rest of it.
 */
@Singleton
final class CurrentStore {
    private volatile MessageStore store;

    @Inject
    CurrentStore() {
    }

    void set(MessageStore s) {
        this.store = s;
    }

    /** @return the store, or null while none is bound */
    MessageStore get() {
        return store;
    }

    /** @throws ParleyException UNAVAILABLE (retryable) while no store is bound */
    MessageStore require() {
        MessageStore s = store;
        if (s == null) {
            throw unavailable();
        }
        return s;
    }

    static ParleyException unavailable() {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the message store is not available", true);
    }
}
