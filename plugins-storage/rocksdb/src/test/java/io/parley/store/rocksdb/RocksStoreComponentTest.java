package io.parley.store.rocksdb;

import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class RocksStoreComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.store.rocksdb.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws IOException {
        ComponentConfigs.assertShippedCfg(RocksStoreConfig.class, SHIPPED_CFG);
    }

    @Test
    void theShippedDefaultsAreTheOptionsDefaults(@TempDir Path dir) {
        RocksStoreConfig config = config(Map.of("dir", dir.toString()));
        assertEquals(RocksStoreOptions.defaults(dir), RocksStoreComponent.options(config));
    }

    @Test
    void aRelativeDirIsResolvedAgainstParleyHome() {
        assertEquals(Path.of("/opt/parley/data/rocksdb"), RocksStoreOptions.resolveDir("data/rocksdb", "/opt/parley"));
        assertEquals(Path.of("/var/lib/x"), RocksStoreOptions.resolveDir("/var/lib/x", "/opt/parley"));
        assertEquals(Path.of("").toAbsolutePath().resolve("data/rocksdb"),
                RocksStoreOptions.resolveDir("data/rocksdb", null));
    }

    @Test
    void activateOpensTheStoreAndDeactivateWritesWatermarks(@TempDir Path dir) throws Exception {
        RocksStoreComponent component = new RocksStoreComponent(config(Map.of("dir", dir.toString(),
                "watermark.flush.millis", 3_600_000L, "fsync", false)));
        component.advanceWatermark("alice", "phone", "g:a", 4);
        assertEquals(Map.of("g:a", 4L), component.watermarks("alice", "phone"));
        component.deactivate();
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            assertEquals(Map.of("g:a", 4L), store.watermarks("alice", "phone"));
        }
    }

    private static RocksStoreConfig config(Map<String, Object> properties) {
        return ComponentConfigs.of(RocksStoreConfig.class, properties);
    }
}
