package io.parley.admin.internal;

import io.parley.core.spi.admin.BundleInfo;
import io.parley.core.spi.admin.DeployResult;
import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.Deployments;
import io.parley.core.spi.admin.ServerAdmin;
import io.parley.core.spi.admin.SessionInfo;
import io.parley.core.spi.admin.Stats;
import io.parley.core.spi.admin.StoreInfo;
import io.parley.core.spi.admin.TypeInfo;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The operator's Gogo commands, scope {@code parley} ({@code bin/parley shell} on the running server). Each returns
 * its answer as plain text (an aligned table, or one line) for the console to print. A refusal or failure is thrown
 * as an {@link IllegalArgumentException} (bad input, refused deployment) or {@link IllegalStateException} (a service
 * is missing, the deployment did not reach the wanted state) with a one-line message, which the console prints as
 * {@code gogo: IllegalArgumentException: <message>} without a stack trace.
 *
 * <p>Threading: Gogo calls on the console session's thread; install, update and remove block up to
 * {@code wait.seconds}. The {@link ServerAdmin} is tracked dynamically (the core may restart).
 */
@Component(service = AdminCommands.class, property = {
        // below Felix's own install/update: an unscoped "install" stays felix:install; these are parley:install...
        "service.ranking:Integer=-1",
        "osgi.command.scope=parley",
        "osgi.command.function=sessions", "osgi.command.function=kick", "osgi.command.function=types",
        "osgi.command.function=stores", "osgi.command.function=stats", "osgi.command.function=bundles",
        "osgi.command.function=install", "osgi.command.function=update", "osgi.command.function=remove"})
public final class AdminCommands {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AdminCommands.class);

    /** Time to connect to and read from an https URL given to install/update. */
    static final int URL_TIMEOUT_MILLIS = 30_000;

    @Reference
    private Deployments deployments;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ServerAdmin admin;

    private ServerAdmin admin() {
        ServerAdmin a = admin;
        if (a == null) {
            throw new IllegalStateException("the Parley core is not running (no ServerAdmin service); see lb and "
                    + "logs/parley.log");
        }
        return a;
    }

    public String sessions() {
        return sessions(null);
    }

    public String sessions(String user) {
        List<SessionInfo> all = admin().sessions(user);
        Table t = new Table("USER", "DEVICE", "TRANSPORT", "REMOTE", "SINCE", "IDLE", "SESSION");
        for (SessionInfo s : all) {
            t.row(s.user(), s.device(), s.transport(), s.remoteAddress(),
                    Instant.ofEpochMilli(s.sinceMillis()).truncatedTo(ChronoUnit.SECONDS), Table.duration(s.idleMillis()),
                    s.sessionId());
        }
        return t + "\n" + all.size() + " session(s)" + (user == null ? "" : " of " + user);
    }

    public String kick(String user) {
        return kick(user, null, null);
    }

    public String kick(String user, String device) {
        return kick(user, device, null);
    }

    public String kick(String user, String device, String reason) {
        if (!io.parley.core.api.Ids.isValidId(user)) {
            throw new IllegalArgumentException("'" + BundleJar.printable(user) + "' is not a valid user id");
        }
        String d = device == null || device.equals("*") || device.equals("-") ? null : device;
        if (d != null && !io.parley.core.api.Ids.isValidId(d)) {
            throw new IllegalArgumentException("'" + BundleJar.printable(d) + "' is not a valid device id");
        }
        String why = reason == null || reason.isBlank() ? "signed out by the operator" : reason.strip();
        if (why.length() > 200 || why.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("the reason has at most 200 characters and no control characters");
        }
        int n = admin().kick(user, d, why);
        return "kicked " + n + " session(s) of " + user + (d == null ? "" : " on " + d);
    }

    public String types() {
        Table t = new Table("KIND", "TYPE", "BUNDLE", "VERSION");
        List<TypeInfo> all = admin().types();
        all.forEach(i -> t.row(i.kind(), i.type(), i.bundle(), i.bundleVersion()));
        return t + "\n" + all.size() + " type(s)";
    }

    public String stores() {
        Table t = new Table("KIND", "NAME", "IN USE", "HEALTH", "BUNDLE", "VERSION");
        for (StoreInfo s : admin().stores()) {
            t.row(s.kind(), s.name(), s.inUse() ? "yes" : "no", s.health(), s.bundle(), s.bundleVersion());
        }
        return t.toString();
    }

    public String stats() {
        Stats s = admin().stats();
        int sessions = s.sessionsByTransport().values().stream().mapToInt(Integer::intValue).sum();
        Table t = new Table("STAT", "VALUE");
        t.row("uptime", Table.duration(s.uptimeMillis()));
        t.row("started", Instant.ofEpochMilli(s.startedMillis()).truncatedTo(ChronoUnit.SECONDS));
        t.row("sessions", sessions);
        s.sessionsByTransport().forEach((transport, n) -> t.row("sessions." + transport, n));
        t.row("users.online", s.usersOnline());
        t.row("store", s.store() == null ? "NONE" : s.store());
        s.queues().forEach((q, n) -> t.row("queue." + q, n));
        t.row("problems", s.problems().isEmpty() ? "none" : String.join("; ", s.problems()));
        return t.toString();
    }

    public String bundles() {
        Table t = new Table("ID", "STATE", "AREA", "NAME", "VERSION", "FILE");
        List<BundleInfo> all = deployments.bundles();
        all.forEach(b -> t.row(b.id(), b.state(), b.area(), b.symbolicName(), b.version(), b.file()));
        Map<String, Long> byArea = all.stream().collect(Collectors.groupingBy(BundleInfo::area, Collectors.counting()));
        return t + "\n" + all.size() + " bundle(s): " + byArea.getOrDefault(BundleInfo.DEPLOY, 0L)
                + " in deploy/ (removable), " + byArea.getOrDefault(BundleInfo.SYSTEM, 0L) + " in system/";
    }

    /** Installs or updates the bundle in {@code source} (a file path, relative to the server's home, or an https URL). */
    public String install(String source) {
        return deploy(source, null, false);
    }

    /** Updates bundle {@code name} (it must be in deploy/) from {@code source}; the jar must be that bundle. */
    public String update(String name, String source) {
        return deploy(source, name, true);
    }

    public String remove(String name) {
        try {
            return outcome(deployments.remove(name));
        } catch (DeploymentException e) {
            throw refused(e);
        }
    }

    /** Logs a refused console deployment and turns it into the one-line exception the console prints. */
    private static IllegalArgumentException refused(DeploymentException e) {
        LOG.info("Console: deployment refused: {} {}", e.reason(), e.getMessage());
        return new IllegalArgumentException(e.reason() + ": " + e.getMessage());
    }

    private String deploy(String source, String name, boolean mustExist) {
        try {
            if (name != null) {
                BundleJar.checkName(name);
                if (mustExist && deployments.bundles().stream().noneMatch(b -> b.removable()
                        && b.symbolicName().equals(name))) {
                    throw new DeploymentException(DeploymentException.Reason.NOT_FOUND, "no bundle " + name
                            + " in deploy/ to update (use parley:install for a new one)");
                }
            }
            Path staged = fetch(source);
            return outcome(deployments.install(staged, name));
        } catch (DeploymentException e) {
            throw refused(e);
        }
    }

    private static String outcome(DeployResult r) {
        if (!r.ok()) {
            LOG.warn("Console: {} is {}: {}", r.name(), r.state(), r.message());
            throw new IllegalStateException(r.state() + ": " + r.message());
        }
        return r.message();
    }

    /** Copies {@code source} into a staging file, at most the size limit. */
    private Path fetch(String source) throws DeploymentException {
        if (source == null || source.isBlank()) {
            throw new DeploymentException(DeploymentException.Reason.INVALID_BUNDLE, "give a jar file or an https URL");
        }
        long max = deployments.maxBundleBytes();
        Path staged;
        try {
            staged = deployments.stagingFile();
        } catch (IOException e) {
            throw new DeploymentException(DeploymentException.Reason.IO, "cannot create a staging file: " + e);
        }
        try {
            if (source.regionMatches(true, 0, "http:", 0, 5)) {
                throw new DeploymentException(DeploymentException.Reason.INVALID_BUNDLE, "only https URLs are "
                        + "accepted (a bundle runs with the server's rights)");
            }
            if (source.regionMatches(true, 0, "https:", 0, 6)) {
                URL url = URI.create(source).toURL();
                HttpURLConnection c = (HttpURLConnection) url.openConnection();
                c.setConnectTimeout(URL_TIMEOUT_MILLIS);
                c.setReadTimeout(URL_TIMEOUT_MILLIS);
                c.setInstanceFollowRedirects(false);
                try {
                    if (c.getResponseCode() != 200) {
                        throw new DeploymentException(DeploymentException.Reason.IO, source + " answered HTTP "
                                + c.getResponseCode());
                    }
                    try (InputStream in = c.getInputStream()) {
                        copy(in, staged, max);
                    }
                } finally {
                    c.disconnect();
                }
            } else {
                String home = System.getProperty("parley.home", ".");
                Path file = Path.of(home).resolve(source);
                if (!Files.isRegularFile(file)) {
                    throw new DeploymentException(DeploymentException.Reason.INVALID_BUNDLE, "no such file: " + file);
                }
                try (InputStream in = Files.newInputStream(file)) {
                    copy(in, staged, max);
                }
            }
            return staged;
        } catch (IOException | IllegalArgumentException e) {
            deleteQuietly(staged);
            throw new DeploymentException(DeploymentException.Reason.IO, "cannot read " + BundleJar.printable(source)
                    + ": " + e.getMessage());
        } catch (DeploymentException e) {
            deleteQuietly(staged);
            throw e;
        }
    }

    private static void copy(InputStream in, Path to, long max) throws IOException, DeploymentException {
        try (OutputStream out = Files.newOutputStream(to)) {
            byte[] buf = new byte[64 * 1024];
            long total = 0;
            for (int n; (n = in.read(buf)) > 0; ) {
                total += n;
                if (total > max) {
                    throw new DeploymentException(DeploymentException.Reason.TOO_LARGE, "the jar is larger than "
                            + max + " bytes (max.bundle.bytes)");
                }
                out.write(buf, 0, n);
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // data/tmp
        }
    }
}
