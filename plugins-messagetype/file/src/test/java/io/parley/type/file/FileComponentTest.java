package io.parley.type.file;

import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileComponentTest {

    @Test
    void theShippedCfgListsEveryKeyWithItsDefault() throws Exception {
        ComponentConfigs.assertShippedCfg(FileComponent.Config.class, Path.of("src/main/conf/parley.blob.cfg"));
    }

    @Test
    void settingsAreCheckedAndNameTheKey() {
        FileSettings defaults = FileComponent.settingsOf(ComponentConfigs.of(FileComponent.Config.class, Map.of()));
        assertEquals(104_857_600L, defaults.uploadMaxBytes());
        IllegalStateException noSecret = assertThrows(IllegalStateException.class, defaults::requireSecret);
        assertTrue(noSecret.getMessage().contains("ticket.secret"), noSecret.getMessage());
        IllegalArgumentException orphan = assertThrows(IllegalArgumentException.class, () -> FileComponent.settingsOf(
                ComponentConfigs.of(FileComponent.Config.class, Map.of("orphan.hours", 1L))));
        assertTrue(orphan.getMessage().contains("orphan.hours"), orphan.getMessage());
        IllegalArgumentException url = assertThrows(IllegalArgumentException.class, () -> FileComponent.settingsOf(
                ComponentConfigs.of(FileComponent.Config.class, Map.of("public.url", "ftp://x"))));
        assertTrue(url.getMessage().contains("public.url"), url.getMessage());
    }
}
