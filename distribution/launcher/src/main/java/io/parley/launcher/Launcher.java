package io.parley.launcher;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.startlevel.BundleStartLevel;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Boots one Felix framework on a Parley home:
 * <ol>
 * <li>installs every jar of {@code system/} but the Gogo shell bundle ({@link Console} serves the console);</li>
 * <li>starts pax-logging, then ConfigAdmin, FileInstall and the configuration guard (start level 1);
 * FileInstall watches {@code deploy/} and {@code conf/}, the guard checks every configuration value before a
 * component sees it;</li>
 * <li>waits until every {@code conf/*.cfg} is in ConfigAdmin, so components activate with their configuration
 * rather than with defaults first;</li>
 * <li>starts the other system bundles (start level 2; fragments are only resolved);</li>
 * <li>waits until the bundles FileInstall installs from {@code deploy/} (start level 3) are active;</li>
 * <li>opens the console socket {@code data/console/parley.sock} for {@code bin/parley shell}.</li>
 * </ol>
 * A bundle from {@code deploy/} that stays INSTALLED because a package it imports is not exported at a matching
 * version is explained on the console ({@link UnresolvedImports}).
 * Stopping the framework stops level 4 first (deployed transports, see {@link LaunchSettings#STOP_FIRST}), then
 * level 3 (the rest of deploy/: types, stores), then the core (2), then logging and configuration (1).
 *
 * <p>Not thread-safe: {@link #start} once, then {@link #stop} from any one thread.
 */
public final class Launcher {
    static final String GOGO_SHELL = "org.apache.felix.gogo.shell";
    /** Started with ConfigAdmin, before Declarative Services, so every component's configuration passes it. */
    static final String CONFIG_GUARD = "io.parley.config.guard";
    private static final int INFRA_LEVEL = 1;
    private static final int SYSTEM_LEVEL = 2;
    /** Start level of deployed bundles matching {@link LaunchSettings#STOP_FIRST}; also the active level. */
    static final int STOP_FIRST_LEVEL = LaunchSettings.DEPLOY_START_LEVEL + 1;

    private final LaunchSettings settings;
    private Framework framework;
    private UnresolvedImports unresolved;
    private Console console;
    private long startupMillis;
    private String phases = "";

    public Launcher(LaunchSettings settings) {
        this.settings = settings;
    }

    /** The version of this launcher jar ({@code Implementation-Version}), or "dev" when run from classes. */
    public static String version() {
        String v = Launcher.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /**
     * Boots the framework and returns once it is ready (or the ready timeout passed, with a warning).
     *
     * @throws BundleException if the framework itself cannot start; a system bundle that fails to start is
     *                         logged and does not abort the boot
     * @throws StartupFailure  if a component failed to activate (a port in use, a bad configuration value) or the
     *                         configuration guard refused a value with no earlier one to keep: the
     *                         server would look started without working
     */
    public Framework start() throws BundleException, IOException, InterruptedException, StartupFailure {
        long t0 = System.nanoTime();
        Path home = settings.home();
        for (String dir : List.of("system", "deploy", "conf", "data", "logs")) {
            Files.createDirectories(home.resolve(dir));
        }
        Map<String, String> props = new HashMap<>(settings.properties());
        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class, Launcher.class.getClassLoader())
                .iterator().next();
        framework = factory.newFramework(props);
        framework.init();
        BundleContext ctx = framework.getBundleContext();
        installStopFirstListener(ctx);
        unresolved = new UnresolvedImports(ctx, home.resolve("deploy").toRealPath());
        ctx.addBundleListener(unresolved);

        List<Bundle> infra = new ArrayList<>();
        List<Bundle> logging = new ArrayList<>();
        List<Bundle> others = new ArrayList<>();
        for (Path jar : jars(home.resolve("system"))) {
            String bsn = symbolicName(jar);
            if (GOGO_SHELL.equals(bsn)) {
                // its shell reads stdin and stops the framework when that ends; the launcher's Console serves
                // both `bin/parley shell` modes instead
                continue;
            }
            Bundle b;
            try {
                // reference: Felix reads the jar in place instead of copying it into the cache
                b = ctx.installBundle("reference:" + jar.toUri());
            } catch (BundleException e) {
                BootLog.error("cannot install " + jar.getFileName(), e);
                continue;
            }
            boolean isInfra = bsn != null && (bsn.startsWith("org.ops4j.pax.logging")
                    || bsn.equals("org.apache.felix.configadmin") || bsn.equals("org.apache.felix.fileinstall")
                    || bsn.equals(CONFIG_GUARD));
            b.adapt(BundleStartLevel.class).setStartLevel(isInfra ? INFRA_LEVEL : SYSTEM_LEVEL);
            if (isFragment(b)) {
                continue;
            }
            if (bsn != null && bsn.startsWith("org.ops4j.pax.logging")) {
                logging.add(b);
            } else if (isInfra) {
                infra.add(b);
            } else {
                others.add(b);
            }
        }
        long t1 = System.nanoTime();
        framework.start();
        startAll(logging);
        startAll(infra);
        long t2 = System.nanoTime();
        awaitConfigurations(ctx);
        long t3 = System.nanoTime();
        startAll(others);
        long t4 = System.nanoTime();
        awaitDeployed(ctx);
        List<ComponentProbe.Failure> failed = ComponentProbe.failures(ctx, 25);
        // values the configuration guard refused name key, file and allowed range: they replace the failure
        // line of a component configured by the same PID (which would only say "For input string")
        List<String> lines = new ArrayList<>(ConfigGuardProbe.rejected(ctx));
        java.util.Set<String> explained = new java.util.HashSet<>();
        lines.forEach(line -> explained.add(ConfigGuardProbe.pid(line)));
        for (ComponentProbe.Failure f : failed) {
            if (f.pids().stream().noneMatch(explained::contains)) {
                lines.add(ComponentProbe.explain(f, home.resolve("conf")));
            }
        }
        if (!lines.isEmpty()) {
            throw new StartupFailure(lines);
        }
        long t5 = System.nanoTime();
        startupMillis = (t5 - t0) / 1_000_000;
        phases = "install " + ms(t1 - t0) + ", logging+config+fileinstall " + ms(t2 - t1) + ", cfg wait " + ms(t3 - t2)
                + ", system bundles " + ms(t4 - t3) + ", deploy wait " + ms(t5 - t4) + " ms";
        if (Boolean.parseBoolean(settings.get(LaunchSettings.CONSOLE))) {
            Path socket = Console.socketPath(home);
            try {
                console = Console.listen(ctx, socket);
            } catch (IOException | RuntimeException e) {
                BootLog.warn("no console for `bin/parley shell` at " + socket + ": " + e);
            }
        }
        return framework;
    }

    /** Components that failed to activate and values the configuration guard refused, one line each. */
    public static final class StartupFailure extends Exception {
        private final List<String> problems;

        StartupFailure(List<String> problems) {
            super("not started: " + String.join("; ", problems), null, false, false);
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() {
            return problems;
        }
    }

    public Framework framework() {
        return framework;
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }

    /** Where the startup time went, e.g. for the started line. */
    public String phases() {
        return phases;
    }

    /** Time {@link #start} took, in ms. */
    public long startupMillis() {
        return startupMillis;
    }

    /**
     * Stops the framework (bundles in reverse start-level order) and waits for it.
     *
     * @return true if it stopped within the timeout
     */
    public boolean stop(long timeoutMillis) throws InterruptedException {
        if (console != null) {
            console.close();
        }
        if (framework == null) {
            return true;
        }
        try {
            framework.stop();
        } catch (BundleException e) {
            BootLog.error("framework stop failed", e);
        }
        FrameworkEvent event = framework.waitForStop(timeoutMillis);
        if (unresolved != null) {
            unresolved.close();
        }
        return event.getType() != FrameworkEvent.WAIT_TIMEDOUT;
    }

    /**
     * Moves deployed bundles matching {@link LaunchSettings#STOP_FIRST} to {@link #STOP_FIRST_LEVEL} once they
     * start, so every framework stop (SIGTERM, the shell's {@code stop 0} or end of input) stops them before
     * the rest of deploy/.
     */
    private void installStopFirstListener(BundleContext ctx) {
        String regex = settings.get(LaunchSettings.STOP_FIRST);
        if (regex == null || regex.isBlank()) {
            return;
        }
        Pattern first = Pattern.compile(regex);
        ctx.addBundleListener(event -> {
            Bundle b = event.getBundle();
            if (event.getType() != BundleEvent.STARTED || b.getSymbolicName() == null
                    || !first.matcher(b.getSymbolicName()).matches()) {
                return;
            }
            BundleStartLevel level = b.adapt(BundleStartLevel.class);
            if (level != null && level.getStartLevel() >= LaunchSettings.DEPLOY_START_LEVEL
                    && level.getStartLevel() < STOP_FIRST_LEVEL) {
                level.setStartLevel(STOP_FIRST_LEVEL);
            }
        });
    }

    /** Bundles that should be running but are not: non-fragments not ACTIVE, fragments not RESOLVED. */
    static List<Bundle> notActive(BundleContext ctx) {
        List<Bundle> bad = new ArrayList<>();
        for (Bundle b : ctx.getBundles()) {
            if (b.getBundleId() == 0 || b.getSymbolicName() == null) {
                continue;
            }
            int expected = isFragment(b) ? Bundle.RESOLVED : Bundle.ACTIVE;
            if (b.getState() != expected) {
                bad.add(b);
            }
        }
        return bad;
    }

    static boolean isFragment(Bundle b) {
        return b.getHeaders("").get(Constants.FRAGMENT_HOST) != null;
    }

    private void startAll(List<Bundle> bundles) {
        boolean debug = Boolean.getBoolean("parley.launcher.debug");
        for (Bundle b : bundles) {
            try {
                long t = System.nanoTime();
                b.start();
                if (debug) {
                    BootLog.info("started " + b.getSymbolicName() + " in " + ms(System.nanoTime() - t) + " ms");
                }
            } catch (BundleException | RuntimeException e) {
                BootLog.error("cannot start " + b.getSymbolicName() + " " + b.getVersion(), e);
            }
        }
    }

    /** Waits until ConfigAdmin holds a FileInstall configuration for every cfg file in conf/. */
    private void awaitConfigurations(BundleContext ctx) throws IOException, InterruptedException {
        Pattern filter = Pattern.compile(settings.get("felix.fileinstall.filter"));
        List<Path> cfgs = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(settings.home().resolve("conf"))) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if ((name.endsWith(".cfg") || name.endsWith(".config")) && filter.matcher(name).matches()) {
                    cfgs.add(p);
                }
            }
        }
        if (cfgs.isEmpty()) {
            return;
        }
        long deadline = System.nanoTime() + settings.millis(LaunchSettings.CONFIG_WAIT_MS) * 1_000_000;
        int loaded = 0;
        while (true) {
            loaded = ConfigAdminProbe.list(ctx, "(" + ConfigAdminProbe.FILEINSTALL_FILENAME + "=*)").size();
            if (loaded >= cfgs.size()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                BootLog.warn("only " + loaded + " of " + cfgs.size() + " configuration files in conf/ reached "
                        + "ConfigAdmin in time; components may start with defaults");
                return;
            }
            Thread.sleep(10);
        }
    }

    /** Waits until every jar in deploy/ is installed and active (fragments resolved), up to the ready timeout. */
    private void awaitDeployed(BundleContext ctx) throws IOException, InterruptedException {
        Path deploy = settings.home().resolve("deploy");
        Pattern filter = Pattern.compile(settings.get("felix.fileinstall.filter"));
        List<Path> expected = new ArrayList<>();
        for (Path jar : jars(deploy)) {
            if (filter.matcher(jar.getFileName().toString()).matches()) {
                expected.add(jar.toRealPath());
            }
        }
        long deadline = System.nanoTime() + settings.millis(LaunchSettings.READY_TIMEOUT_MS) * 1_000_000;
        while (true) {
            List<String> pending = new ArrayList<>();
            Map<Path, Bundle> byPath = new HashMap<>();
            for (Bundle b : ctx.getBundles()) {
                Path p = locationPath(b.getLocation());
                if (p != null) {
                    byPath.put(p, b);
                }
            }
            for (Path jar : expected) {
                Bundle b = byPath.get(jar);
                if (b == null) {
                    pending.add(jar.getFileName() + " (not installed)");
                } else if (b.getState() != (isFragment(b) ? Bundle.RESOLVED : Bundle.ACTIVE)) {
                    pending.add(jar.getFileName() + " (" + state(b) + ")");
                }
            }
            if (pending.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                BootLog.warn("deploy/ bundles not active after " + settings.get(LaunchSettings.READY_TIMEOUT_MS)
                        + " ms: " + String.join(", ", pending));
                return;
            }
            Thread.sleep(10);
        }
    }

    static Path locationPath(String location) {
        if (location != null && location.startsWith("reference:")) {
            location = location.substring("reference:".length());
        }
        if (location == null || !location.startsWith("file:")) {
            return null;
        }
        try {
            Path p = Paths.get(URI.create(location));
            return Files.exists(p) ? p.toRealPath() : p;
        } catch (IllegalArgumentException | IOException | java.nio.file.FileSystemNotFoundException e) {
            return null;
        }
    }

    static String state(Bundle b) {
        return switch (b.getState()) {
            case Bundle.INSTALLED -> "INSTALLED";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            case Bundle.ACTIVE -> "ACTIVE";
            default -> "UNINSTALLED";
        };
    }

    static List<Path> jars(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p))
                    .sorted().collect(Collectors.toList());
        }
    }

    private static String symbolicName(Path jar) {
        try (JarFile jf = new JarFile(jar.toFile(), false)) {
            var mf = jf.getManifest();
            if (mf == null) {
                return null;
            }
            String bsn = mf.getMainAttributes().getValue(new Attributes.Name(Constants.BUNDLE_SYMBOLICNAME));
            return bsn == null ? null : bsn.split(";")[0].trim();
        } catch (IOException e) {
            return null;
        }
    }

    /** One-line summary of what runs, for the started line. */
    String summary() {
        BundleContext ctx = framework.getBundleContext();
        int active = 0;
        int fragments = 0;
        for (Bundle b : ctx.getBundles()) {
            if (b.getBundleId() == 0) {
                continue;
            }
            if (isFragment(b)) {
                fragments++;
            } else if (b.getState() == Bundle.ACTIVE) {
                active++;
            }
        }
        String deployDir;
        try {
            deployDir = settings.home().resolve("deploy").toRealPath() + File.separator;
        } catch (IOException e) {
            deployDir = settings.home().resolve("deploy") + File.separator;
        }
        String prefix = deployDir;
        long deployed = java.util.Arrays.stream(ctx.getBundles())
                .map(b -> locationPath(b.getLocation()))
                .filter(p -> p != null && p.toString().startsWith(prefix)).count();
        return active + " bundles active, " + fragments + " fragments, " + deployed + " from deploy/";
    }
}
