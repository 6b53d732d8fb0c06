package io.parley.type.support;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BlobStoreBindingTest {

    @Test
    void aGreedyReplacementIsBoundBeforeTheOldStoreLeavesAndStays() {
        BlobStoreBinding binding = new BlobStoreBinding(LoggerFactory.getLogger(BlobStoreBindingTest.class),
                "Test objects", "test calls are refused");
        assertEquals(Optional.empty(), binding.get());
        MemoryBlobs first = new MemoryBlobs(null);
        MemoryBlobs second = new MemoryBlobs(null);
        binding.bind(first);
        assertEquals(Optional.of(first), binding.get());
        binding.bind(second);
        binding.unbind(first);
        assertEquals(Optional.of(second), binding.get(), "unbinding the replaced store keeps its replacement");
        binding.unbind(second);
        assertEquals(Optional.empty(), binding.get());
    }
}
