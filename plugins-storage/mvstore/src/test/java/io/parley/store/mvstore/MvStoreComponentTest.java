package io.parley.store.mvstore;

import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class MvStoreComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.store.mvstore.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws IOException {
        ComponentConfigs.assertShippedCfg(MvStoreConfig.class, SHIPPED_CFG);
    }

    @Test
    void theShippedDefaultsAreTheOptionsDefaults(@TempDir Path dir) {
        MvStoreConfig config = config(Map.of("dir", dir.toString()));
        assertEquals(MvStoreOptions.defaults(dir), MvStoreComponent.options(config));
    }

    @Test
    void activateOpensTheStoreAndDeactivateWritesWatermarks(@TempDir Path dir) throws Exception {
        MvStoreComponent component = new MvStoreComponent(config(Map.of("dir", dir.toString(),
                "watermark.flush.millis", 3_600_000L)));
        component.advanceWatermark("alice", "phone", "g:a", 4);
        assertEquals(Map.of("g:a", 4L), component.watermarks("alice", "phone"));
        component.deactivate();
        try (MvMessageStore store = MvMessageStore.open(MvStoreOptions.defaults(dir))) {
            assertEquals(Map.of("g:a", 4L), store.watermarks("alice", "phone"));
        }
    }

    private static MvStoreConfig config(Map<String, Object> properties) {
        return ComponentConfigs.of(MvStoreConfig.class, properties);
    }

    /** The DS mapping of a config method name to its property key. */
}
