/**
 * For running several Parley nodes as one service on a shared message store: a {@link io.parley.core.spi.cluster.ClusterLink}
 * (implemented by a cluster bundle, e.g. {@code bundles/cluster-redis}) tells the core which users have sessions on
 * other nodes and carries deliveries, receipts, read marks, kicks and group changes to them; each node's core offers
 * its {@link io.parley.core.spi.cluster.LocalNode} for what arrives from the others. Without a link the core is one
 * node, exactly as before.
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.parley.core.spi.cluster;
