/**
 * What plugins implement (processors, stores, authenticators, dispatchers, transports' connections) and
 * what the core provides to transports (the {@link io.parley.core.spi.Receiver}).
 * Consumer types may gain methods only in a major version; provider types in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("2.0.0")
package io.parley.core.spi;
