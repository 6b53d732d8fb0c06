package io.parley.launcher;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRequirement;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.resource.Namespace;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Says in one console line why a bundle from {@code deploy/} is not started when the reason is a package it imports
 * that no bundle exports at a matching version — typically a plugin built against another major version of a Parley
 * SPI:
 * <pre>
 * deploy/x.jar (org.example.x 2.0.0) is not started: it imports io.parley.core.spi.message [2.0.0,3.0.0) and this
 * server exports io.parley.core.spi.message 1.2.0 (io.parley.core 0.1.0.SNAPSHOT)
 * </pre>
 * A bundle is looked at {@link #DELAY_MILLIS} after it is installed or updated (FileInstall tries to start it in
 * between) and only if it is then still INSTALLED. Other reasons are left to FileInstall's own log line. Events are
 * handled on one daemon thread; {@link #close} stops it.
 */
final class UnresolvedImports implements BundleListener {
    static final long DELAY_MILLIS = 1000;
    private static final Pattern CEILING_EXCLUSIVE = Pattern.compile("\\(!\\(version>=([^)]+)\\)\\)");
    private static final Pattern FLOOR_EXCLUSIVE = Pattern.compile("\\(!\\(version<=([^)]+)\\)\\)");
    private static final Pattern FLOOR = Pattern.compile("\\(version>=([^)]+)\\)");
    private static final Pattern CEILING = Pattern.compile("\\(version<=([^)]+)\\)");

    private final BundleContext context;
    private final Path deploy;
    private final ScheduledExecutorService timer;

    UnresolvedImports(BundleContext context, Path deploy) {
        this.context = context;
        this.deploy = deploy;
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread thread = new Thread(r, "parley-launcher-unresolved");
            thread.setDaemon(true);
            return thread;
        });
        t.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.timer = t;
    }

    @Override
    public void bundleChanged(BundleEvent event) {
        if (event.getType() != BundleEvent.INSTALLED && event.getType() != BundleEvent.UPDATED) {
            return;
        }
        Bundle bundle = event.getBundle();
        Path jar = Launcher.locationPath(bundle.getLocation());
        if (jar == null || !jar.startsWith(deploy)) {
            return;
        }
        timer.schedule(() -> {
            if (bundle.getState() == Bundle.INSTALLED) {
                String why = explain(bundle, context.getBundles());
                if (why != null) {
                    BootLog.warn("deploy/" + jar.getFileName() + " (" + bundle.getSymbolicName() + " "
                            + bundle.getVersion() + ") is not started: " + why);
                }
            }
        }, DELAY_MILLIS, TimeUnit.MILLISECONDS);
    }

    void close() {
        timer.shutdownNow();
    }

    /**
     * @return the mandatory package imports of {@code bundle} that none of {@code all} exports at a matching version,
     *         each with what is exported under that name, or null if every one is exported
     */
    static String explain(Bundle bundle, Bundle[] all) {
        BundleRevision revision = bundle.adapt(BundleRevision.class);
        if (revision == null) {
            return null;
        }
        List<String> missing = new ArrayList<>();
        for (BundleRequirement requirement : revision.getDeclaredRequirements(PackageNamespace.PACKAGE_NAMESPACE)) {
            String filter = requirement.getDirectives().get(Namespace.REQUIREMENT_FILTER_DIRECTIVE);
            Matcher name = Pattern.compile("\\(osgi\\.wiring\\.package=([^)]+)\\)").matcher(String.valueOf(filter));
            if (!name.find() || PackageNamespace.RESOLUTION_OPTIONAL.equals(
                    requirement.getDirectives().get(Namespace.REQUIREMENT_RESOLUTION_DIRECTIVE))) {
                continue;
            }
            String pkg = name.group(1);
            List<String> offered = new ArrayList<>();
            boolean matched = false;
            for (Bundle b : all) {
                BundleRevision r = b.adapt(BundleRevision.class);
                if (r == null) {
                    continue;
                }
                for (BundleCapability c : r.getDeclaredCapabilities(PackageNamespace.PACKAGE_NAMESPACE)) {
                    if (pkg.equals(c.getAttributes().get(PackageNamespace.PACKAGE_NAMESPACE))) {
                        matched |= requirement.matches(c);
                        offered.add(pkg + " " + c.getAttributes().get(PackageNamespace.CAPABILITY_VERSION_ATTRIBUTE)
                                + " (" + b.getSymbolicName() + " " + b.getVersion() + ")");
                    }
                }
            }
            if (!matched && !pkg.startsWith("java.")) {
                missing.add(pkg + " " + range(filter) + (offered.isEmpty() ? ", which no bundle exports"
                        : " and this server exports " + String.join(", ", offered)));
            }
        }
        return missing.isEmpty() ? null : "it imports " + String.join("; ", missing);
    }

    /** The version range of a package requirement's filter in interval notation: {@code [2.0.0,3.0.0)}. */
    static String range(String filter) {
        String rest = filter;
        String ceiling = null;
        String floor = null;
        Matcher m = CEILING_EXCLUSIVE.matcher(rest);
        if (m.find()) {
            ceiling = m.group(1) + ")";
            rest = m.replaceAll("");
        }
        m = FLOOR_EXCLUSIVE.matcher(rest);
        if (m.find()) {
            floor = "(" + m.group(1);
            rest = m.replaceAll("");
        }
        m = FLOOR.matcher(rest);
        if (floor == null && m.find()) {
            floor = "[" + m.group(1);
        }
        m = CEILING.matcher(rest);
        if (ceiling == null && m.find()) {
            ceiling = m.group(1) + "]";
        }
        if (ceiling == null) {
            return floor == null ? "(any version)" : floor.substring(1) + " or later";
        }
        return (floor == null ? "[0.0.0" : floor) + "," + ceiling;
    }
}
