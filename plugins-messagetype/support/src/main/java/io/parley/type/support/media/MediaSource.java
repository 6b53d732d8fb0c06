package io.parley.type.support.media;

import io.parley.core.spi.blob.BlobStore;

import java.io.IOException;
import java.io.InputStream;

/**
 * Random access to the bytes of one object, for {@link MediaProbe}: its size and a stream from any offset.
 * Implementations may block; the probe calls them from the thread it runs on.
 */
public interface MediaSource {

    /** @return the object's size in bytes */
    long size();

    /**
     * @return the bytes from {@code offset} to the end; the caller closes it (possibly before the end)
     * @throws IOException if the object cannot be read (gone included)
     */
    InputStream open(long offset) throws IOException;

    /** @return the object stored under {@code info}'s key in {@code blobs} */
    static MediaSource of(BlobStore blobs, BlobStore.Info info) {
        return new MediaSource() {
            @Override
            public long size() {
                return info.size();
            }

            @Override
            public InputStream open(long offset) throws IOException {
                return blobs.open(info.key(), offset).orElseThrow(() ->
                        new java.nio.file.NoSuchFileException(info.key()));
            }
        };
    }

    /** @return {@code bytes} as a source (tests, small objects) */
    static MediaSource of(byte[] bytes) {
        return new MediaSource() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public InputStream open(long offset) {
                return new java.io.ByteArrayInputStream(bytes, (int) Math.min(offset, bytes.length),
                        (int) Math.max(0, bytes.length - offset));
            }
        };
    }
}
