package io.parley.core.testing;

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Test helpers for components configured through a DS/metatype annotation type, whose method names map to keys with
 * {@code _} read as {@code .} (SCR's rule): build an instance from a map, and check a module's shipped {@code .cfg}.
 * Shared by every module's component test through framework-core's test jar.
 */
public final class ComponentConfigs {

    private ComponentConfigs() {
    }

    /** @return the configuration key of a config type's method, e.g. {@code max_frame_bytes} → {@code max.frame.bytes} */
    public static String key(Method method) {
        return method.getName().replace('_', '.');
    }

    /** @return every key of the config type with its default as SCR would render it (String.valueOf), sorted */
    public static Map<String, String> defaults(Class<?> type) {
        Map<String, String> defaults = new TreeMap<>();
        for (Method method : type.getDeclaredMethods()) {
            defaults.put(key(method), String.valueOf(method.getDefaultValue()));
        }
        return defaults;
    }

    /** @return an instance of the config type backed by {@code properties} (by key), falling back to the defaults */
    public static <A> A of(Class<A> type, Map<String, ?> properties) {
        // resolved once, like SCR's proxies: a call is a map lookup, not an annotation parse (the engine reads some
        // values per message, and benchmarks run on this)
        Map<Method, Object> values = new java.util.HashMap<>();
        for (Method method : type.getDeclaredMethods()) {
            Object value = properties.get(key(method));
            values.put(method, value != null ? value : method.getDefaultValue());
        }
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, method, args) -> {
            if (method.getDeclaringClass() == Object.class) {
                return method.invoke(properties, args);
            }
            return values.get(method);
        }));
    }

    /**
     * Asserts that the shipped {@code .cfg} lists exactly the config type's keys, each with its default value and a
     * comment line right above it (so an operator reading the file sees every key, what it does and its default).
     *
     * @param referenceTargets keys the file may carry besides the type's, such as DS reference {@code .target}
     *                         filters (which are not methods of the config type); they need a comment too
     */
    public static void assertShippedCfg(Class<?> type, Path cfgFile, String... referenceTargets) throws IOException {
        Properties cfg = new Properties();
        try (Reader reader = Files.newBufferedReader(cfgFile)) {
            cfg.load(reader);
        }
        Map<String, String> defaults = defaults(type);
        TreeSet<String> expected = new TreeSet<>(defaults.keySet());
        expected.addAll(List.of(referenceTargets));
        assertEquals(expected, new TreeSet<>(cfg.stringPropertyNames()), cfgFile + ": keys");
        defaults.forEach((key, value) -> assertEquals(value, cfg.getProperty(key), cfgFile + ": default of " + key));
        String text = Files.readString(cfgFile);
        for (String key : expected) {
            assertTrue(text.matches("(?s).*#[^\\n]*\\n" + key.replace(".", "\\.") + " *=.*"),
                    cfgFile + ": no comment line right above " + key);
        }
    }
}
