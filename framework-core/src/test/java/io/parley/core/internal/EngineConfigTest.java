package io.parley.core.internal;

import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;

class EngineConfigTest {

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws IOException {
        // store.target: the target filter of the engine's MessageStore reference (which store bundle it uses)
        ComponentConfigs.assertShippedCfg(EngineConfig.class, Path.of("src/main/conf/parley.core.cfg"), "store.target");
    }
}
