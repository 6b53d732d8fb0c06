/**
 * For command bundles (recall, push-token registration, upload tickets, call tokens…): the
 * {@link io.parley.core.spi.command.CommandHandler} whiteboard, keyed by {@link io.parley.core.spi.command.CommandType},
 * and the {@link io.parley.core.spi.command.CommandContext} facade through which a handler acts, authorized by the
 * core. A command is executed, then discarded: it is never stored itself. Since 1.4 also what bundles need to act
 * outside a command: the core's {@link io.parley.core.spi.command.ConversationEvents} service (appends and relays a
 * timer decides) and the {@link io.parley.core.spi.command.SessionListener} whiteboard (devices coming and going).
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.4.0")
package io.parley.core.spi.command;
