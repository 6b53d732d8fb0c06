/**
 * For business rules around sending (seed 003's before-send callback): {@link io.parley.core.spi.intercept.SendInterceptor}s
 * see every message after its type's processor accepted it and before it is stored, and may let it pass, rewrite its
 * body or ext, or veto it. (After-send observers are notification channels with scope {@code all}:
 * {@link io.parley.core.spi.delivery.NotificationDispatcher}.)
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.parley.core.spi.intercept;
