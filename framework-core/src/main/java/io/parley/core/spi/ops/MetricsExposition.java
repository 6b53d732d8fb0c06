package io.parley.core.spi.ops;

import org.osgi.annotation.versioning.ProviderType;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The current values of every meter in one text exposition format (the Prometheus text format for the metrics
 * bundle). Registered as an OSGi service by the bundle that owns the meter registry; the HTTP transport tracks it
 * dynamically and serves it at {@code GET /metrics} (503 while none is registered).
 *
 * <p>Threading: thread-safe; {@link #scrape} may be called concurrently from any thread and does bounded CPU work
 * (it does not block on I/O other than writing to {@code out}).
 */
@ProviderType
public interface MetricsExposition {

    /** The {@code Content-Type} of what {@link #scrape} writes, e.g. {@code text/plain; version=0.0.4; charset=utf-8}. */
    String contentType();

    /**
     * Writes a snapshot of every meter to {@code out}. Does not close {@code out}.
     *
     * @throws IOException if writing to {@code out} fails
     */
    void scrape(OutputStream out) throws IOException;
}
