package io.parley.launcher;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.launch.Framework;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Boots the real launcher in this JVM on a temporary home whose system/ holds the real infrastructure bundles
 * (copied to target/test-system by the build) and the shipped conf/parley.properties and conf/logging.properties.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LauncherTest {
    static final Path SHIPPED_CONF = Paths.get("../server/src/main/dist/conf");
    static Path home;
    static Launcher launcher;
    static Framework framework;

    @BeforeAll
    static void boot() throws Exception {
        home = Files.createTempDirectory("parley-launcher-test");
        Path system = Files.createDirectories(home.resolve("system"));
        Path testSystem = Paths.get(System.getProperty("parley.test.system", "target/test-system"));
        for (Path jar : Launcher.jars(testSystem)) {
            Files.copy(jar, system.resolve(jar.getFileName()));
        }
        Path conf = Files.createDirectories(home.resolve("conf"));
        for (String f : List.of("parley.properties", "logging.properties")) {
            Files.copy(SHIPPED_CONF.resolve(f), conf.resolve(f));
        }
        Files.writeString(conf.resolve("test.pid.cfg"), "# a comment\ngreeting=hello\ncount=3\n");
        Files.writeString(conf.resolve("test.factory-one.cfg"), "name=one\n");
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        writeBundle(deploy.resolve("test-at-boot.jar"), "test.at.boot");

        System.setProperty("parley.logs", home.resolve("logs").toString());
        System.setProperty("parley.console.level", "WARN");
        LaunchSettings settings = LaunchSettings.load(home).with("felix.fileinstall.poll", "100");
        launcher = new Launcher(settings);
        framework = launcher.start();
        System.out.println("LauncherTest: framework ready in " + launcher.startupMillis() + " ms (" + launcher.summary() + "; " + launcher.phases() + ")");
    }

    @AfterAll
    static void shutdown() throws Exception {
        if (launcher != null) {
            assertTrue(launcher.stop(30_000), "framework stopped in time");
        }
        if (home != null) {
            try (var paths = Files.walk(home)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    @Order(1)
    void startsWellUnderTwoSeconds() {
        assertEquals(Bundle.ACTIVE, framework.getState());
        // generous bound for a loaded CI machine; the measured time is printed above
        assertTrue(launcher.startupMillis() < 5_000, "startup took " + launcher.startupMillis() + " ms");
    }

    @Test
    @Order(2)
    void everySystemBundleIsActiveAndFragmentsAreResolved() {
        BundleContext ctx = framework.getBundleContext();
        List<Bundle> bad = Launcher.notActive(ctx);
        assertTrue(bad.isEmpty(), () -> "not running: " + bad.stream()
                .map(b -> b.getSymbolicName() + "=" + Launcher.state(b)).collect(Collectors.joining(", ")));
        Bundle fragment = bundle("io.netty.transport-native-epoll.linux-x86_64");
        assertNotNull(fragment, "the epoll fragment is installed");
        assertEquals(Bundle.RESOLVED, fragment.getState());
        assertTrue(Launcher.isFragment(fragment));
        assertNotNull(bundle("org.apache.felix.scr"));
        assertEquals(Bundle.ACTIVE, bundle("org.apache.felix.gogo.runtime").getState());
        // the shell bundle reads stdin and stops the framework at end of input: never installed (Console instead)
        assertEquals(null, bundle(Launcher.GOGO_SHELL));
    }

    @Test
    @Order(3)
    void startLevelsOrderShutdown() {
        assertEquals(1, level(bundle("org.ops4j.pax.logging.pax-logging-api")));
        assertEquals(1, level(bundle("org.apache.felix.configadmin")));
        assertEquals(1, level(bundle("org.apache.felix.fileinstall")));
        assertEquals(2, level(bundle("org.apache.felix.scr")));
        assertEquals(3, level(bundle("test.at.boot")));
    }

    @Test
    @Order(3)
    void deployedTransportsMoveToTheStopFirstLevel() throws Exception {
        Path deploy = home.resolve("deploy");
        writeBundle(deploy.resolve(".t.tmp"), "io.test.transport.fake");
        Files.move(deploy.resolve(".t.tmp"), deploy.resolve("fake-transport.jar"), StandardCopyOption.ATOMIC_MOVE);
        await(() -> bundle("io.test.transport.fake") != null && level(bundle("io.test.transport.fake")) == 4,
                "transport bundle at start level 4");
        assertEquals(Bundle.ACTIVE, bundle("io.test.transport.fake").getState());
        assertEquals(4, framework.adapt(org.osgi.framework.startlevel.FrameworkStartLevel.class).getStartLevel());
    }

    @Test
    @Order(4)
    void cfgFilesPresentAtBootAreInConfigAdminBeforeReady() {
        Map<String, Map<String, String>> configs = ConfigAdminProbe.list(framework.getBundleContext(), null);
        Map<String, String> cfg = configs.get("test.pid");
        assertNotNull(cfg, () -> "configurations: " + configs.keySet());
        assertEquals("hello", cfg.get("greeting"), cfg::toString);
        assertEquals("3", cfg.get("count"));
        assertTrue(configs.values().stream().anyMatch(p -> "one".equals(p.get("name"))
                && "test.factory".equals(p.get("service.factoryPid"))), () -> "factory configuration missing: " + configs);
    }

    @Test
    @Order(5)
    void jarInDeployAtBootIsActiveBeforeReady() {
        Bundle b = bundle("test.at.boot");
        assertNotNull(b);
        assertEquals(Bundle.ACTIVE, b.getState());
    }

    @Test
    @Order(6)
    void cfgDroppedIntoConfReachesConfigAdmin() throws Exception {
        Path conf = home.resolve("conf");
        Files.writeString(conf.resolve(".late.pid.cfg.tmp"), "colour=blue\n");
        Files.move(conf.resolve(".late.pid.cfg.tmp"), conf.resolve("late.pid.cfg"), StandardCopyOption.ATOMIC_MOVE);
        await(() -> "blue".equals(ConfigAdminProbe.list(framework.getBundleContext(), "(service.pid=late.pid)")
                .getOrDefault("late.pid", Map.of()).get("colour")), "late.pid in ConfigAdmin");
        // an edit is picked up too
        Files.writeString(conf.resolve(".late.pid.cfg.tmp"), "colour=green\n");
        Files.move(conf.resolve(".late.pid.cfg.tmp"), conf.resolve("late.pid.cfg"), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        await(() -> "green".equals(ConfigAdminProbe.list(framework.getBundleContext(), "(service.pid=late.pid)")
                .getOrDefault("late.pid", Map.of()).get("colour")), "late.pid updated");
    }

    @Test
    @Order(7)
    void jarDroppedIntoDeployIsInstalledAndTempNamesAreIgnored() throws Exception {
        Path deploy = home.resolve("deploy");
        // a copy still in progress: FileInstall must not touch it
        writeBundle(deploy.resolve(".dropped.jar.tmp"), "test.in.progress");
        writeBundle(deploy.resolve(".dropped2.jar.tmp"), "test.dropped");
        Files.move(deploy.resolve(".dropped2.jar.tmp"), deploy.resolve("dropped.jar"), StandardCopyOption.ATOMIC_MOVE);
        await(() -> bundle("test.dropped") != null && bundle("test.dropped").getState() == Bundle.ACTIVE, "test.dropped ACTIVE");
        assertEquals(3, level(bundle("test.dropped")));
        assertEquals(null, bundle("test.in.progress"), "a dot-prefixed temp file was installed");

        // deleting the jar uninstalls the bundle
        Files.delete(deploy.resolve("dropped.jar"));
        await(() -> bundle("test.dropped") == null, "test.dropped uninstalled");
    }

    @Test
    @Order(8)
    void logsGoToTheConfiguredFile() throws Exception {
        // FileInstall logs installs/uninstalls through the OSGi LogService that pax-logging provides;
        // the file appender is created at configuration time
        await(() -> Files.exists(home.resolve("logs/parley.log")), "logs/parley.log exists");
    }

    @Test
    @Order(9)
    void theConsoleSocketRunsGogoCommandsForItsOwnerOnly() throws Exception {
        Path socket = Console.socketPath(home);
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(socket.getParent())), "only the server's user reaches the socket");
        String session;
        try (java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(
                java.net.UnixDomainSocketAddress.of(socket))) {
            OutputStream typing = Console.channelOut(c);
            typing.write("lb\nno-such-command\nexit\nlb\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            session = new String(Console.channelIn(c).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        assertTrue(session.startsWith("Parley console (Apache Felix Gogo)"), session);
        assertTrue(session.contains("the server keeps running"), session);
        assertTrue(session.contains("org.apache.felix.scr") || session.contains("Apache Felix Declarative Services"),
                "lb lists the bundles:\n" + session);
        assertTrue(session.contains("gogo: CommandNotFoundException"), session);
        assertEquals(1, session.split(java.util.regex.Pattern.quote("ID|State")).length - 1,
                "exit ended the session before the second lb:\n" + session);
        assertEquals(Bundle.ACTIVE, framework.getState(), "leaving the console leaves the server running");
    }

    private static int level(Bundle b) {
        assertNotNull(b);
        return b.adapt(org.osgi.framework.startlevel.BundleStartLevel.class).getStartLevel();
    }

    static Bundle bundle(String bsn) {
        return Arrays.stream(framework.getBundleContext().getBundles())
                .filter(b -> bsn.equals(b.getSymbolicName())).findFirst().orElse(null);
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** A minimal bundle: a manifest and nothing else. */
    static void writeBundle(Path jar, String bsn) throws IOException {
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", bsn);
        a.putValue("Bundle-Version", "1.0.0");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream jos = new JarOutputStream(out, mf)) {
            jos.flush();
        }
    }
}
