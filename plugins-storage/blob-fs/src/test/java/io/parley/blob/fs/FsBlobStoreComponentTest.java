package io.parley.blob.fs;

import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class FsBlobStoreComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.blob.fs.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws IOException {
        ComponentConfigs.assertShippedCfg(FsBlobStoreConfig.class, SHIPPED_CFG);
    }

    @Test
    void aRelativeDirIsResolvedAgainstParleyHomeElseTheWorkingDirectory(@TempDir Path home) {
        FsBlobStoreConfig defaults = ComponentConfigs.of(FsBlobStoreConfig.class, Map.of());
        String previous = System.getProperty("parley.home");
        try {
            System.clearProperty("parley.home");
            assertEquals(Path.of("data/blobs").toAbsolutePath(), FsBlobStoreComponent.dir(defaults));
            System.setProperty("parley.home", home.toString());
            assertEquals(home.resolve("data/blobs"), FsBlobStoreComponent.dir(defaults));
            assertEquals(home.resolve("x"), FsBlobStoreComponent.dir(
                    ComponentConfigs.of(FsBlobStoreConfig.class, Map.of("dir", home.resolve("x").toString()))));
        } finally {
            if (previous == null) {
                System.clearProperty("parley.home");
            } else {
                System.setProperty("parley.home", previous);
            }
        }
    }

    @Test
    void activateOpensTheDirectoryAndDeactivateReleasesIt(@TempDir Path dir) throws Exception {
        FsBlobStoreConfig config = ComponentConfigs.of(FsBlobStoreConfig.class, Map.of("dir", dir.toString()));
        FsBlobStoreComponent component = new FsBlobStoreComponent(config);
        component.put("f/alice/1", new ByteArrayInputStream(new byte[] {1, 2, 3}), 3, "image/png");
        component.deactivate();

        FsBlobStoreComponent again = new FsBlobStoreComponent(config);
        try (var in = again.open("f/alice/1", 1).orElseThrow()) {
            assertArrayEquals(new byte[] {2, 3}, in.readAllBytes());
        }
        assertEquals(1, again.list("f/", "", 10).size());
        again.deactivate();
    }
}
