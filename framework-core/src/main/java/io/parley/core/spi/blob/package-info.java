/**
 * For blob stores (file, image, voice and video bytes): the {@link io.parley.core.spi.blob.BlobStore}, implemented by storage bundles (local filesystem, S3-compatible object storage).
 *
 * <p>Versioned on its own (semantic versioning, checked by bnd's baseline in the build): a change here never changes
 * the version of another SPI package. Consumer types may gain abstract methods only in a major version (default
 * methods in a minor one); provider types gain methods in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package io.parley.core.spi.blob;
