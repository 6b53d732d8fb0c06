/**
 * For operator tools (the Gogo commands of {@code parley-admin}, the HTTP admin endpoints): {@link
 * io.parley.core.spi.admin.ServerAdmin}, implemented by the core (sessions, kick, types, stores, stats of this node),
 * and {@link io.parley.core.spi.admin.Deployments}, implemented by the admin bundle (bundles of {@code deploy/} and
 * {@code system/}; install, update and remove by name through {@code deploy/}). Answers are immutable records.
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build). Both interfaces are provider
 * types: they gain methods in a minor version; the records gain components only in a major one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.parley.core.spi.admin;
