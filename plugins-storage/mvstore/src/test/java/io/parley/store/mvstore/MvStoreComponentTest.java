package io.parley.store.mvstore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class MvStoreComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.store.mvstore.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws IOException {
        Properties cfg = new Properties();
        try (Reader reader = Files.newBufferedReader(SHIPPED_CFG)) {
            cfg.load(reader);
        }
        Map<String, String> defaults = new HashMap<>();
        for (Method method : MvStoreConfig.class.getDeclaredMethods()) {
            defaults.put(key(method), String.valueOf(method.getDefaultValue()));
        }
        assertEquals(new TreeSet<>(defaults.keySet()), new TreeSet<>(cfg.stringPropertyNames()));
        defaults.forEach((key, value) -> assertEquals(value, cfg.getProperty(key), key));
        String text = Files.readString(SHIPPED_CFG);
        for (String key : defaults.keySet()) {
            assertTrue(text.matches("(?s).*#[^\\n]*\\n" + key.replace(".", "\\.") + " *=.*"),
                    "no comment line right above " + key);
        }
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
        return (MvStoreConfig) Proxy.newProxyInstance(MvStoreConfig.class.getClassLoader(),
                new Class<?>[] {MvStoreConfig.class}, (proxy, method, args) -> {
                    if (method.getDeclaringClass() == Object.class) {
                        return method.invoke(properties, args);
                    }
                    Object value = properties.get(key(method));
                    return value != null ? value : method.getDefaultValue();
                });
    }

    /** The DS mapping of a config method name to its property key. */
    private static String key(Method method) {
        return method.getName().replace('_', '.');
    }
}
