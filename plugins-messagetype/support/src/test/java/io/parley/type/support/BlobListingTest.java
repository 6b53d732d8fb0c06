package io.parley.type.support;

import io.parley.core.spi.blob.BlobStore;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BlobListingTest {

    @Test
    void everyPageIsReadInKeyOrderAndOnlyThePrefix() throws Exception {
        MemoryBlobs store = new MemoryBlobs(null);
        int n = 2 * BlobListing.PAGE + 7;
        IntStream.range(0, n).forEach(i -> store.add(String.format("a/%05d", i), i));
        store.add("b/other", 1);
        List<BlobStore.Info> all = BlobListing.listAll(store, "a/");
        assertEquals(n, all.size());
        assertEquals(IntStream.range(0, n).mapToObj(i -> String.format("a/%05d", i)).toList(),
                all.stream().map(BlobStore.Info::key).toList());
        assertEquals(3, store.listCalls.get());
    }

    @Test
    void aFullLastPageTakesOneMoreCallAndNothingIsAnEmptyList() throws Exception {
        MemoryBlobs store = new MemoryBlobs(null);
        assertEquals(List.of(), BlobListing.listAll(store, "a/"));
        IntStream.range(0, BlobListing.PAGE).forEach(i -> store.add(String.format("a/%05d", i), i));
        store.listCalls.set(0);
        assertEquals(BlobListing.PAGE, BlobListing.listAll(store, "a/").size());
        assertEquals(2, store.listCalls.get());
    }

    @Test
    void aStoreThatCannotListSaysSo() {
        BlobStore cannot = new MemoryBlobs(null) {
            @Override
            public List<Info> list(String prefix, String after, int limit) {
                throw new UnsupportedOperationException("no listing");
            }
        };
        assertThrows(UnsupportedOperationException.class, () -> BlobListing.listAll(cannot, ""));
    }
}
