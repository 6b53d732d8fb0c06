package io.parley.type.support;

import io.parley.core.spi.blob.BlobStore;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

/** A blob store of descriptions only (no bytes), counting its list calls; optionally with URLs of its own. */
class MemoryBlobs implements BlobStore {
    final ConcurrentSkipListMap<String, Info> blobs = new ConcurrentSkipListMap<>();
    final AtomicInteger listCalls = new AtomicInteger();
    private final String directBase;

    /** @param directBase the base of the store's own download URLs, or null for none */
    MemoryBlobs(String directBase) {
        this.directBase = directBase;
    }

    void add(String key, long size) {
        blobs.put(key, new Info(key, size, "application/octet-stream", "00", Instant.EPOCH));
    }

    @Override
    public Info put(String key, InputStream content, long length, String contentType) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Optional<Info> stat(String key) {
        return Optional.ofNullable(blobs.get(key));
    }

    @Override
    public Optional<InputStream> open(String key, long offset) {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean delete(String key) {
        return blobs.remove(key) != null;
    }

    @Override
    public List<Info> list(String prefix, String after, int limit) throws IOException {
        listCalls.incrementAndGet();
        List<Info> page = new ArrayList<>();
        for (Info info : blobs.tailMap(after, false).values()) {
            if (page.size() == limit) {
                break;
            }
            if (info.key().startsWith(prefix)) {
                page.add(info);
            }
        }
        return page;
    }

    @Override
    public Optional<URI> downloadUrl(String key, Duration ttl) {
        return directBase == null ? Optional.empty()
                : Optional.of(URI.create(directBase + key + "?seconds=" + ttl.toSeconds()));
    }
}
