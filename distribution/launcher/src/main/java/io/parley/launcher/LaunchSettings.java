package io.parley.launcher;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The framework properties of one launch: built-in defaults, overridden by {@code conf/parley.properties},
 * overridden by JVM system properties of the same name. {@code ${name}} in a value is replaced by another
 * property of the launch, a system property or an environment variable ({@code parley.home} is always set).
 *
 * <p>Every entry is handed to the framework as a framework property, so FileInstall, pax-logging and Gogo read
 * their settings from here; keys starting with {@code parley.} are the launcher's own.
 */
public final class LaunchSettings {
    public static final String HOME = "parley.home";
    /** How long to wait, at boot, for every {@code conf/*.cfg} to reach ConfigAdmin before starting the rest. */
    public static final String CONFIG_WAIT_MS = "parley.config.wait.ms";
    /** How long to wait, at boot, for the bundles in {@code deploy/} to become active before reporting started. */
    public static final String READY_TIMEOUT_MS = "parley.ready.timeout.ms";
    /** How long an orderly stop may take before the launcher gives up waiting. */
    public static final String SHUTDOWN_TIMEOUT_MS = "parley.shutdown.timeout.ms";
    /**
     * Regex on bundle symbolic names: deployed bundles that match get start level 4 once started, so they are
     * stopped first on shutdown, before the rest of deploy/ (transports tell their clients to reconnect while
     * types and stores still work).
     */
    public static final String STOP_FIRST = "parley.stop.first";
    /** "true" (default): serve the Gogo console on {@code data/console/parley.sock} for {@code bin/parley shell}. */
    public static final String CONSOLE = "parley.console";
    /** Start level of deployed bundles; system bundles use 1 (logging, config) and 2 (everything else). */
    static final int DEPLOY_START_LEVEL = 3;

    private final Path home;
    private final Map<String, String> properties;

    private LaunchSettings(Path home, Map<String, String> properties) {
        this.home = home;
        this.properties = properties;
    }

    /** Reads {@code home/conf/parley.properties} (optional) on top of the defaults. */
    public static LaunchSettings load(Path home) throws IOException {
        Path abs = home.toAbsolutePath().normalize();
        Map<String, String> merged = defaults();
        Path file = abs.resolve("conf").resolve("parley.properties");
        if (Files.isRegularFile(file)) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            }
            for (String key : p.stringPropertyNames()) {
                merged.put(key, p.getProperty(key).trim());
            }
        }
        for (String key : merged.keySet()) {
            String sys = System.getProperty(key);
            if (sys != null) {
                merged.put(key, sys);
            }
        }
        merged.put(HOME, abs.toString());
        merged.putIfAbsent("parley.logs", abs.resolve("logs").toString());
        Map<String, String> resolved = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : merged.entrySet()) {
            resolved.put(e.getKey(), substitute(e.getValue(), merged, 0));
        }
        return new LaunchSettings(abs, resolved);
    }

    static Map<String, String> defaults() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("org.osgi.framework.storage", "${parley.home}/data/felix-cache");
        d.put("org.osgi.framework.storage.clean", "onFirstInit");
        d.put("org.osgi.framework.startlevel.beginning", "4");
        d.put("felix.log.level", "1");
        d.put("felix.fileinstall.dir", "${parley.home}/deploy,${parley.home}/conf");
        d.put("felix.fileinstall.poll", "1000");
        d.put("felix.fileinstall.noInitialDelay", "true");
        d.put("felix.fileinstall.bundles.new.start", "true");
        // dot-prefixed and non-matching names (".x.jar.tmp", "x.jar.part") are ignored: copy, then rename
        d.put("felix.fileinstall.filter", "[^.].*\\.(jar|cfg|config)");
        d.put("felix.fileinstall.tmpdir", "${parley.home}/data/fileinstall-tmp");
        d.put("felix.fileinstall.log.level", "2");
        // conf/*.cfg are the source of truth: never rewrite them from ConfigAdmin (the write-back races with
        // the scanner and was seen truncating files)
        d.put("felix.fileinstall.enableConfigSave", "false");
        d.put("felix.fileinstall.start.level", String.valueOf(DEPLOY_START_LEVEL));
        d.put("org.ops4j.pax.logging.property.file", "${parley.home}/conf/logging.properties");
        d.put("org.ops4j.pax.logging.DefaultServiceLog.level", "WARN");
        d.put("ds.loglevel", "warn");
        d.put(STOP_FIRST, ".*[.-]transport[.-].*");
        d.put(CONSOLE, "true");
        d.put(CONFIG_WAIT_MS, "5000");
        d.put(READY_TIMEOUT_MS, "10000");
        d.put(SHUTDOWN_TIMEOUT_MS, "30000");
        return d;
    }

    private static String substitute(String value, Map<String, String> props, int depth) {
        if (value == null || depth > 8 || !value.contains("${")) {
            return value;
        }
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < value.length()) {
            int start = value.indexOf("${", i);
            int end = start < 0 ? -1 : value.indexOf('}', start);
            if (start < 0 || end < 0) {
                out.append(value, i, value.length());
                break;
            }
            out.append(value, i, start);
            String name = value.substring(start + 2, end);
            String v = props.get(name);
            if (v == null) {
                v = System.getProperty(name);
            }
            if (v == null) {
                v = System.getenv(name);
            }
            out.append(v == null ? "" : substitute(v, props, depth + 1));
            i = end + 1;
        }
        return out.toString();
    }

    public Path home() {
        return home;
    }

    /** The resolved framework properties; unmodifiable view. */
    public Map<String, String> properties() {
        return java.util.Collections.unmodifiableMap(properties);
    }

    public String get(String key) {
        return properties.get(key);
    }

    public long millis(String key) {
        try {
            return Long.parseLong(properties.get(key).trim());
        } catch (RuntimeException e) {
            return Long.parseLong(defaults().get(key));
        }
    }

    /** Overrides one property (tests, {@code --shell}); returns this. */
    public LaunchSettings with(String key, String value) {
        properties.put(key, value);
        return this;
    }
}
