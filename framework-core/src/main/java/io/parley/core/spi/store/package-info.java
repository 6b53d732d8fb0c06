/**
 * For storage backends: the {@link io.parley.core.spi.store.MessageStore} (messages with per-conversation seq, dedupe, conversation lists, watermarks, read cursors, groups) and {@link io.parley.core.spi.store.ForwardingMessageStore} for DS components. The contract suite every store must pass is in the core's test jar.
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.3.0")
package io.parley.core.spi.store;
