package io.parley.core.spi.blob;

import org.osgi.annotation.versioning.ConsumerType;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Where the bytes of files, images, voice and video messages live (the message itself only refers to them by key):
 * a local directory, S3-compatible object storage, … Registered as an OSGi service with {@value #NAME}; the bundles
 * that need one (the file types, the HTTP transport's upload and download endpoints) bind the one their
 * configuration names.
 *
 * <p>Keys are chosen by the caller: 1–200 characters of {@code [A-Za-z0-9._/-]}, no {@code ..} segment, no leading
 * {@code /}. A store may refuse others with {@link IllegalArgumentException}.
 *
 * <p>Threading: every method is thread-safe and <b>may block on I/O</b>: call it from a worker, never from a network
 * event loop.
 */
@ConsumerType
public interface BlobStore {

    /** Service property (String): the store's name, e.g. {@code "fs"}, {@code "s3"}. */
    String NAME = "parley.blob.store.name";

    /**
     * Stores {@code length} bytes read from {@code content} under {@code key}, replacing nothing: a key that exists
     * is refused. The blob is durable and readable when this returns; a failure leaves nothing under the key.
     *
     * @param contentType the media type to serve the blob with, e.g. {@code image/png}
     * @return what was stored, with the SHA-256 of the bytes
     * @throws IOException if the bytes cannot be read or stored, or {@code content} ends before {@code length}
     * @throws java.nio.file.FileAlreadyExistsException if {@code key} exists
     */
    Info put(String key, InputStream content, long length, String contentType) throws IOException;

    /** @return the blob's description, or empty if there is none under {@code key} */
    Optional<Info> stat(String key) throws IOException;

    /**
     * Opens a blob for reading from {@code offset} (0 for the whole blob). The caller closes the stream.
     *
     * @return the bytes from {@code offset} to the end, or empty if there is no blob under {@code key}
     */
    Optional<InputStream> open(String key, long offset) throws IOException;

    /** @return true if a blob was deleted, false if there was none */
    boolean delete(String key) throws IOException;

    /**
     * Lists the blobs whose keys start with {@code prefix}, in key order, after {@code after} (exclusive; empty for
     * the first page), at most {@code limit} of them. Used for per-user quotas and for collecting objects no message
     * refers to. A store that cannot list throws {@link UnsupportedOperationException} (the default); quotas and
     * collection are then off, and say so in the log.
     *
     * @since 1.1
     */
    default java.util.List<Info> list(String prefix, String after, int limit) throws IOException {
        throw new UnsupportedOperationException(getClass().getName() + " cannot list its blobs");
    }

    /**
     * A URL a client may download the blob from directly for {@code ttl} (e.g. an S3 pre-signed URL), when the store
     * has one; empty means the bytes are served through Parley (the HTTP transport).
     */
    default Optional<URI> downloadUrl(String key, Duration ttl) {
        return Optional.empty();
    }

    /**
     * A stored blob.
     *
     * @param key         its key
     * @param size        bytes
     * @param contentType the media type given at {@link #put}
     * @param sha256      lower-case hex SHA-256 of the bytes
     * @param created     when it was stored
     */
    record Info(String key, long size, String contentType, String sha256, Instant created) {
        public Info {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(contentType, "contentType");
            Objects.requireNonNull(sha256, "sha256");
            Objects.requireNonNull(created, "created");
            if (size < 0) {
                throw new IllegalArgumentException("size must not be negative: " + size);
            }
        }
    }
}
