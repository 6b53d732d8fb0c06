package io.parley.itest;

import io.parley.auth.jwt.JwtTokens;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.options.UrlProvisionOption;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration.ConfigurationAttribute;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Hashtable;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

/**
 * What the Pax Exam tests (real Felix with the real bundles) share: the framework's configuration, waiting for
 * services, configurations and ports inside it, and clients of the TCP transport with tokens for the JWT secret.
 */
final class ParleyExam {
    /** The HMAC secret the tests configure {@code parley.auth.jwt} with (issuer {@code parley}). */
    static final String SECRET = "itest-secret-itest-secret-itest-secret-0123456789";

    private ParleyExam() {
    }

    /**
     * The options of a {@code @Configuration} method: every bundle in {@code parley.bundles.dir} (what maven's
     * pre-integration-test copies to target/bundles) in name order, pax-logging at start level 1 so the others log
     * through it, the epoll fragment installed but not started; then {@code extra}; then the JUnit bundles, a clean
     * cache and pax-logging's own log at WARN.
     */
    static Option[] options(Option... extra) {
        List<Option> options = new ArrayList<>();
        File[] jars = new File(System.getProperty("parley.bundles.dir", "target/bundles"))
                .listFiles((d, n) -> n.endsWith(".jar"));
        assertNotNull("no bundles: run through maven (pre-integration-test copies them)", jars);
        Arrays.sort(jars);
        for (File jar : jars) {
            String name = jar.getName();
            UrlProvisionOption option = bundle(jar.toURI().toString());
            if (name.startsWith("pax-logging")) {
                option = option.startLevel(1);
            }
            if (name.startsWith("netty-transport-native-epoll")) {
                option = option.start(false);
            }
            if (name.startsWith("parley-transport-")) {
                option = option.start(false); // started by startTransports once the test has moved their ports
            }
            options.add(option);
        }
        options.addAll(List.of(extra));
        options.add(junitBundles());
        options.add(cleanCaches());
        options.add(systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN"));
        return options.toArray(new Option[0]);
    }

    /**
     * @return the {@code type} service, waiting up to 10 s; its tracker is added to {@code trackers} for the test to
     *         close at its end (closing a tracker invalidates service-factory objects)
     */
    static <T> T service(BundleContext context, List<ServiceTracker<?, ?>> trackers, Class<T> type)
            throws InterruptedException {
        ServiceTracker<T, T> tracker = new ServiceTracker<>(context, type, null);
        tracker.open();
        trackers.add(tracker);
        T s = tracker.waitForService(10_000);
        assertNotNull("no " + type.getName() + " service", s);
        return s;
    }

    /** Waits up to 10 s until a {@code type} service matching {@code filter} is registered ({@code present}) or none is. */
    static void waitForServices(BundleContext context, Class<?> type, String filter, boolean present)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (context.getServiceReferences(type, filter).isEmpty() == present) {
            if (System.nanoTime() > deadline) {
                fail("no " + type.getSimpleName() + " " + filter + " " + (present ? "registered" : "unregistered"));
            }
            Thread.sleep(20);
        }
    }

    /**
     * Starts the transport bundles that {@link #options} installed without starting, once the test has configured
     * their listeners: started with the framework, they would first bind the default ports (7700-7702), and fail
     * there if anything else on the machine listens on them. Starting a started bundle does nothing.
     */
    static void startTransports(BundleContext context) throws Exception {
        for (org.osgi.framework.Bundle b : context.getBundles()) {
            if (b.getSymbolicName() != null && b.getSymbolicName().startsWith("io.parley.transport.")) {
                b.start();
            }
        }
    }

    /**
     * Sets configuration {@code pid} to the key/value pairs {@code kv}, unless it has those values already: with a
     * framework per class, each test's {@code @Before} may ask again without restarting the components.
     */
    static void update(ConfigurationAdmin cm, String pid, String... kv) throws Exception {
        org.osgi.service.cm.Configuration c = cm.getConfiguration(pid, "?");
        Hashtable<String, Object> props = new Hashtable<>();
        for (int i = 0; i < kv.length; i += 2) {
            props.put(kv[i], kv[i + 1]);
        }
        if (c.getProperties() != null && !c.getAttributes().contains(ConfigurationAttribute.READ_ONLY)) {
            boolean same = true;
            for (int i = 0; i < kv.length; i += 2) {
                same &= kv[i + 1].equals(String.valueOf(c.getProperties().get(kv[i])));
            }
            if (same) {
                return;
            }
        }
        c.update(props);
    }

    /** @return the port a transport wrote to {@code portFile} (its {@code port.file}), waiting up to 15 s */
    static int waitForPort(Path portFile) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            if (Files.exists(portFile)) {
                String s = Files.readString(portFile).trim();
                if (!s.isEmpty()) {
                    return Integer.parseInt(s);
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no transport wrote its port to " + portFile);
    }

    /** @return tokens signed with {@link #SECRET}, issuer {@code parley} */
    static JwtTokens tokens() {
        return new JwtTokens(SECRET.getBytes(StandardCharsets.UTF_8), "parley");
    }

    /**
     * @return a client of the TCP transport on {@code port}, connected (waiting up to 10 s) as {@code user} on
     *         {@code device} with a 10-minute token, its messages passed to {@code messages}; added to {@code clients}
     *         for the test to close at its end
     */
    static ParleyClient client(List<ParleyClient> clients, int port, String user, String device,
                               Consumer<Message> messages) throws Exception {
        ParleyClient c = ParleyClient.builder()
                .host("127.0.0.1").port(port).deviceId(device)
                .token(tokens().mint(user, null, Duration.ofMinutes(10)))
                .messageListener(messages::accept)
                .build();
        clients.add(c);
        c.connect().get(10, TimeUnit.SECONDS);
        return c;
    }
}
