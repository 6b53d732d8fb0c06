package io.parley.core.spi.ops;

import org.osgi.annotation.versioning.ProviderType;

import java.util.concurrent.CompletionStage;

/**
 * Whether the core's engine still does work: registered by the core while its engine runs; {@code GET /health/live}
 * asks it.
 */
@ProviderType
public interface Liveness {

    /**
     * Runs a no-op on the engine's worker threads.
     *
     * @return completes normally once a worker has run the no-op; exceptionally if the engine is stopping. It never
     *         completes while every worker is stuck, so the caller applies its own deadline. Never blocks the caller.
     */
    CompletionStage<Void> probe();
}
