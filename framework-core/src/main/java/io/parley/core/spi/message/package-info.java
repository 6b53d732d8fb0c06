/**
 * For message-type bundles: the {@link io.parley.core.spi.message.MessageProcessor} whiteboard (one per type, keyed by {@link io.parley.core.spi.message.MessageType}) and its {@link io.parley.core.spi.message.ProcessResult}.
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.3.0")
package io.parley.core.spi.message;
