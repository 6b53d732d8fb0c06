/**
 * For transports (TCP, WebSocket, HTTP…): the core's {@link io.parley.core.spi.transport.Receiver}, the {@link io.parley.core.spi.transport.InboundSession} it hands back per connection, and the {@link io.parley.core.spi.transport.Connection} a transport implements.
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.3.0")
package io.parley.core.spi.transport;
