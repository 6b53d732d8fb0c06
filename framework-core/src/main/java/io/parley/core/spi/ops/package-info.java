/**
 * For operations: what the HTTP transport serves at {@code /metrics} ({@link io.parley.core.spi.ops.MetricsExposition},
 * provided by the metrics bundle) and at {@code /health/live} ({@link io.parley.core.spi.ops.Liveness}, provided by
 * the core), and {@link io.parley.core.spi.ops.ListeningTransport} (registered by each transport while it listens).
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build). Both interfaces are
 * provider types: they may gain methods in a minor version; their consumers (the HTTP transport) only call them.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.parley.core.spi.ops;
