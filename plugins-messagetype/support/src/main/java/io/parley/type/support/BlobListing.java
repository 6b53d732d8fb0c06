package io.parley.type.support;

import io.parley.core.spi.blob.BlobStore;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Reads a whole {@link BlobStore#list} listing, page by page. Stateless. */
public final class BlobListing {

    /** How many blobs one {@link BlobStore#list} call asks for. */
    static final int PAGE = 1000;

    private BlobListing() {
    }

    /**
     * Blocks on the store: call it from a worker.
     *
     * @return every blob whose key starts with {@code prefix}, in key order
     * @throws UnsupportedOperationException if the store cannot list
     */
    public static List<BlobStore.Info> listAll(BlobStore blobs, String prefix) throws IOException {
        List<BlobStore.Info> all = new ArrayList<>();
        String after = "";
        while (true) {
            List<BlobStore.Info> page = blobs.list(prefix, after, PAGE);
            all.addAll(page);
            if (page.size() < PAGE) {
                return all;
            }
            after = page.get(page.size() - 1).key();
        }
    }
}
