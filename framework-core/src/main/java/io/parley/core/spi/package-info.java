/**
 * What plugins implement (processors, stores, authenticators, dispatchers, transports' connections) and
 * what the core provides to transports (the {@link io.parley.core.spi.Receiver}).
 * Consumer types may gain abstract methods only in a major version (default methods in a minor one); provider types
 * gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("2.2.0")
package io.parley.core.spi;
