package io.parley.launcher;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LaunchSettingsTest {

    @Test
    void defaultsWithoutAPropertiesFile(@TempDir Path home) throws Exception {
        LaunchSettings s = LaunchSettings.load(home);
        String h = home.toAbsolutePath().normalize().toString();
        assertEquals(h, s.get(LaunchSettings.HOME));
        assertEquals(h + "/deploy," + h + "/conf", s.get("felix.fileinstall.dir"));
        assertEquals(h + "/data/felix-cache", s.get("org.osgi.framework.storage"));
        assertEquals("onFirstInit", s.get("org.osgi.framework.storage.clean"));
        assertEquals("false", s.get("felix.fileinstall.enableConfigSave"));
        assertEquals(10_000, s.millis(LaunchSettings.READY_TIMEOUT_MS));
    }

    @Test
    void propertiesFileOverridesDefaultsAndSubstitutes(@TempDir Path home) throws Exception {
        Files.createDirectories(home.resolve("conf"));
        Files.writeString(home.resolve("conf/parley.properties"),
                "felix.fileinstall.poll=250\nmy.dir=${parley.home}/x\nother=${my.dir}/y\nparley.ready.timeout.ms=oops\n");
        LaunchSettings s = LaunchSettings.load(home);
        String h = home.toAbsolutePath().normalize().toString();
        assertEquals("250", s.get("felix.fileinstall.poll"));
        assertEquals(h + "/x", s.get("my.dir"));
        assertEquals(h + "/x/y", s.get("other"));
        assertEquals(10_000, s.millis(LaunchSettings.READY_TIMEOUT_MS), "unparsable numbers fall back to the default");
    }

    @Test
    void systemPropertyWins(@TempDir Path home) throws Exception {
        System.setProperty("felix.fileinstall.poll", "123");
        try {
            assertEquals("123", LaunchSettings.load(home).get("felix.fileinstall.poll"));
        } finally {
            System.clearProperty("felix.fileinstall.poll");
        }
    }

    @Test
    void fileInstallFilterIgnoresTemporaryNames() throws Exception {
        Pattern filter = Pattern.compile(LaunchSettings.defaults().get("felix.fileinstall.filter"));
        assertTrue(filter.matcher("parley-type-text.jar").matches());
        assertTrue(filter.matcher("parley.transport.tcp.cfg").matches());
        assertTrue(filter.matcher("parley.transport.tcp-public.cfg").matches());
        assertFalse(filter.matcher(".parley-type-text.jar").matches());
        assertFalse(filter.matcher(".x.jar.tmp").matches());
        assertFalse(filter.matcher("x.jar.part").matches());
        assertFalse(filter.matcher("parley.properties").matches());
        assertFalse(filter.matcher("x.cfg~").matches());
        // the shipped parley.properties says the same
        java.util.Properties shipped = new java.util.Properties();
        try (var r = Files.newBufferedReader(LauncherTest.SHIPPED_CONF.resolve("parley.properties"))) {
            shipped.load(r);
        }
        assertEquals(LaunchSettings.defaults().get("felix.fileinstall.filter"), shipped.getProperty("felix.fileinstall.filter"));
    }
}
