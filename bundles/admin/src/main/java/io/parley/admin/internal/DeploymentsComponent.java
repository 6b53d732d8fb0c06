package io.parley.admin.internal;

import io.parley.core.spi.admin.BundleInfo;
import io.parley.core.spi.admin.DeployResult;
import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.DeploymentException.Reason;
import io.parley.core.spi.admin.Deployments;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.Constants;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRequirement;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link Deployments} through the server's {@code deploy/} directory (the first directory of
 * {@code felix.fileinstall.dir}, {@code ${parley.home}/deploy} as shipped): jars are validated and placed by {@link DeployDirectory}, and FileInstall installs, updates,
 * starts and uninstalls them exactly as when an operator drops or deletes a file. Each call then polls the framework
 * (every {@value #POLL_MILLIS} ms, at most {@code wait.seconds}) until FileInstall has acted, and answers the
 * bundle's resulting state.
 *
 * <p>An install or update answers ACTIVE only once the bundle's {@code STARTED} event has reached this component's
 * asynchronous bundle listener. The framework calls every synchronous bundle listener before it queues an event for
 * the asynchronous ones, and the Declarative Services extender is a synchronous listener that enables a bundle's
 * components (registering the services of the satisfied ones) when it sees {@code STARTED}: so when the call
 * answers, the bundle's services are registered, and a message type it brings can be used at once. The bundle's state
 * alone says less: it is ACTIVE before {@code STARTED} is sent.
 *
 * <p>Threading: thread-safe; install and remove of the same name are serialized by a per-name lock; they block the
 * caller. Starts no thread (the listener runs on the framework's event thread).
 */
@Component(service = Deployments.class, configurationPid = "parley.admin")
@Designate(ocd = AdminConfig.class)
public final class DeploymentsComponent implements Deployments {

    private static final Logger LOG = LoggerFactory.getLogger(DeploymentsComponent.class);
    static final long POLL_MILLIS = 100;
    /** After FileInstall installed or updated the bundle: how long it has to start it before the state is final. */
    static final long START_GRACE_MILLIS = 2000;

    private final BundleContext context;
    private final DeployDirectory dir;
    private final long waitMillis;
    private final ConcurrentHashMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    /** Counts {@code STARTED} events delivered to {@link #started}; see the class comment. */
    private final AtomicLong startedEvents = new AtomicLong();
    /** Bundle id → the value of {@link #startedEvents} at that bundle's latest {@code STARTED} event. */
    private final ConcurrentHashMap<Long, Long> lastStarted = new ConcurrentHashMap<>();
    /** Asynchronous on purpose: it sees {@code STARTED} after every synchronous listener (DS among them) has. */
    private final BundleListener started = event -> {
        if (event.getType() == BundleEvent.STARTED) {
            lastStarted.put(event.getBundle().getBundleId(), startedEvents.incrementAndGet());
        } else if (event.getType() == BundleEvent.UNINSTALLED) {
            lastStarted.remove(event.getBundle().getBundleId());
        }
    };

    @Activate
    public DeploymentsComponent(BundleContext context, AdminConfig config) {
        this.context = context;
        String home = context.getProperty("parley.home");
        Path base = Path.of(home == null || home.isBlank() ? "." : home).toAbsolutePath().normalize();
        this.dir = new DeployDirectory(deployDirectory(context.getProperty(FILEINSTALL_DIR), base),
                base.resolve("system"), base.resolve("data/tmp"), config.max_bundle_bytes());
        this.waitMillis = TimeUnit.SECONDS.toMillis(config.wait_seconds());
        // last: a constructor that throws gets no deactivate, so it must not have registered the listener
        context.addBundleListener(started);
    }

    @Deactivate
    void deactivate() {
        context.removeBundleListener(started);
    }

    /** FileInstall's watched directories, comma-separated; the first is deploy/ (conf/ follows it). */
    static final String FILEINSTALL_DIR = "felix.fileinstall.dir";

    /** The first directory FileInstall watches (as the launcher sets it: {@code ${parley.home}/deploy}). */
    static Path deployDirectory(String fileInstallDirs, Path home) {
        if (fileInstallDirs != null) {
            String first = fileInstallDirs.split(",")[0].trim();
            if (!first.isEmpty()) {
                return home.resolve(first).toAbsolutePath().normalize();
            }
        }
        return home.resolve("deploy");
    }

    @Override
    public List<BundleInfo> bundles() {
        List<BundleInfo> out = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            Path file = file(b);
            out.add(new BundleInfo(b.getBundleId(), String.valueOf(b.getSymbolicName()), b.getVersion().toString(),
                    state(b), area(file), file == null ? null : file.getFileName().toString()));
        }
        return out;
    }

    @Override
    public long maxBundleBytes() {
        return dir.maxBytes();
    }

    @Override
    public Path stagingFile() throws IOException {
        return dir.stagingFile();
    }

    @Override
    public DeployResult install(Path jar, String expectedName) throws DeploymentException {
        String name;
        try {
            if (expectedName != null) {
                BundleJar.checkName(expectedName);
            }
            name = expectedName != null ? expectedName : BundleJar.read(jar).symbolicName();
        } catch (DeploymentException e) {
            deleteQuietly(jar);
            throw e;
        }
        ReentrantLock lock = locks.computeIfAbsent(name, n -> new ReentrantLock());
        lock.lock();
        try {
            long before = System.currentTimeMillis();
            long startedMark = startedEvents.get();
            DeployDirectory.Placement placed = dir.place(jar, expectedName, reservedNames());
            LOG.info("Admin: {} {} {} placed as deploy/{}", placed.replaced() ? "update of" : "install of",
                    placed.jar().symbolicName(), placed.jar().version(), placed.file().getFileName());
            return awaitInstalled(placed, before, startedMark);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public DeployResult remove(String name) throws DeploymentException {
        BundleJar.checkName(name);
        ReentrantLock lock = locks.computeIfAbsent(name, n -> new ReentrantLock());
        lock.lock();
        try {
            List<Path> files = dir.remove(name);
            if (files.isEmpty()) {
                if (reservedNames().contains(name) || dir.systemNames().contains(name)) {
                    throw new DeploymentException(Reason.SYSTEM_BUNDLE, name + " is a system bundle (system/): not "
                            + "removable while the server runs");
                }
                throw new DeploymentException(Reason.NOT_FOUND, "no bundle " + name + " in deploy/");
            }
            LOG.info("Admin: removed deploy/{} (bundle {})", files.get(0).getFileName(), name);
            long deadline = System.currentTimeMillis() + waitMillis;
            while (System.currentTimeMillis() < deadline) {
                if (deployed(name).isEmpty()) {
                    return new DeployResult(name, null, "REMOVED", true, name + " uninstalled");
                }
                sleep();
            }
            return new DeployResult(name, null, "PENDING", false, "deploy/" + files.get(0).getFileName()
                    + " was deleted but FileInstall has not uninstalled " + name + " within " + waitMillis / 1000
                    + " s");
        } finally {
            lock.unlock();
        }
    }

    /**
     * Polls until FileInstall has installed (or updated) the placed jar and the bundle is ACTIVE with its
     * {@code STARTED} event delivered after {@code startedMark} (a fragment: RESOLVED), or until it gives up.
     */
    private DeployResult awaitInstalled(DeployDirectory.Placement placed, long before, long startedMark) {
        String bsn = placed.jar().symbolicName();
        long deadline = System.currentTimeMillis() + waitMillis;
        long settleBy = Long.MAX_VALUE;
        Bundle seen = null;
        while (true) {
            long now = System.currentTimeMillis();
            seen = null;
            for (Bundle b : deployed(bsn)) {
                Path f = file(b);
                if (f != null && f.equals(placed.file()) && b.getLastModified() >= before
                        && b.getVersion().equals(org.osgi.framework.Version.parseVersion(placed.jar().version()))) {
                    seen = b;
                }
            }
            if (seen != null) {
                boolean fragment = seen.getHeaders("").get(Constants.FRAGMENT_HOST) != null;
                int state = seen.getState();
                boolean servicesUp = lastStarted.getOrDefault(seen.getBundleId(), 0L) > startedMark
                        || now >= settleBy;
                if ((state == Bundle.ACTIVE && servicesUp) || (fragment && state == Bundle.RESOLVED)) {
                    return new DeployResult(bsn, placed.jar().version(), state(seen), true, bsn + " "
                            + placed.jar().version() + (placed.replaced() ? " updated" : " installed") + " and "
                            + state(seen) + " (bundle " + seen.getBundleId() + ")");
                }
                settleBy = Math.min(settleBy, now + START_GRACE_MILLIS);
                if (now >= settleBy || now >= deadline) {
                    return new DeployResult(bsn, placed.jar().version(), state(seen), false, bsn + " "
                            + placed.jar().version() + " is " + state(seen) + ", not started: "
                            + whyNotStarted(seen));
                }
            } else if (now >= deadline) {
                return new DeployResult(bsn, placed.jar().version(), "PENDING", false, "deploy/"
                        + placed.file().getFileName() + " is in place but FileInstall did not install it within "
                        + waitMillis / 1000 + " s (the same content as the installed jar is not an update)");
            }
            sleep();
        }
    }

    /** The package imports no installed bundle exports at a matching version, or a general hint. */
    private String whyNotStarted(Bundle b) {
        BundleRevision revision = b.adapt(BundleRevision.class);
        if (revision == null) {
            return "see logs/parley.log";
        }
        List<BundleCapability> exports = new ArrayList<>();
        for (Bundle other : context.getBundles()) {
            BundleRevision r = other.adapt(BundleRevision.class);
            if (r != null && other.getState() != Bundle.UNINSTALLED) {
                exports.addAll(r.getDeclaredCapabilities(PackageNamespace.PACKAGE_NAMESPACE));
            }
        }
        List<String> missing = new ArrayList<>();
        for (BundleRequirement req : revision.getDeclaredRequirements(PackageNamespace.PACKAGE_NAMESPACE)) {
            if (PackageNamespace.RESOLUTION_OPTIONAL.equals(
                    req.getDirectives().get(PackageNamespace.REQUIREMENT_RESOLUTION_DIRECTIVE))) {
                continue;
            }
            if (exports.stream().noneMatch(req::matches)) {
                missing.add(req.getDirectives().get(PackageNamespace.REQUIREMENT_FILTER_DIRECTIVE));
            }
        }
        return missing.isEmpty() ? "it did not start (see logs/parley.log)"
                : "unresolved imports, no bundle exports " + String.join(", ", missing);
    }

    /** Symbolic names that must not be deployed: every installed bundle not from {@code deploy/}, this one included. */
    private Set<String> reservedNames() {
        Set<String> out = new HashSet<>();
        for (Bundle b : context.getBundles()) {
            if (!BundleInfo.DEPLOY.equals(area(file(b))) && b.getSymbolicName() != null) {
                out.add(b.getSymbolicName());
            }
        }
        out.add(context.getBundle().getSymbolicName());
        return out;
    }

    /** Installed bundles named {@code bsn} whose file is in {@code deploy/}. */
    private List<Bundle> deployed(String bsn) {
        List<Bundle> out = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            if (bsn.equals(b.getSymbolicName()) && b.getState() != Bundle.UNINSTALLED
                    && BundleInfo.DEPLOY.equals(area(file(b)))) {
                out.add(b);
            }
        }
        return out;
    }

    private String area(Path file) {
        if (file == null) {
            return BundleInfo.OTHER;
        }
        Path parent = file.getParent();
        if (dir.deploy().equals(parent)) {
            return BundleInfo.DEPLOY;
        }
        return dir.system().equals(parent) ? BundleInfo.SYSTEM : BundleInfo.OTHER;
    }

    /** The bundle's file from its location ({@code file:...} or {@code reference:file:...}), or null. */
    static Path file(Bundle b) {
        String location = b.getLocation();
        if (location == null) {
            return null;
        }
        if (location.startsWith("reference:")) {
            location = location.substring("reference:".length());
        }
        if (!location.startsWith("file:")) {
            return null;
        }
        try {
            return Path.of(URI.create(location)).toAbsolutePath().normalize();
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            return null;
        }
    }

    static String state(Bundle b) {
        return switch (b.getState()) {
            case Bundle.ACTIVE -> "ACTIVE";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.INSTALLED -> "INSTALLED";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            default -> "UNINSTALLED";
        };
    }

    private static void sleep() {
        try {
            Thread.sleep(POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for FileInstall");
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            java.nio.file.Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // data/tmp
        }
    }
}
