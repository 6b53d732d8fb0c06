package io.parley.blob.s3;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobStore.Info;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.util.tracker.ServiceTracker;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged bundle in a real Felix 7 on this JVM, beside only SCR (with its three API bundles) and ConfigAdmin:
 * the system bundle exports the JDK, {@code org.slf4j} and {@code io.parley.core.spi.blob} (from this test's class
 * path, so the service can be used here without reflection). The bundle must resolve with nothing else, register no
 * store without its configuration, register the s3 store once configured, and that store — the embedded AWS SDK,
 * through its class loader and the thread context class loader SCR leaves as it is — must work against s3rver over
 * HTTP: put (single and multipart), stat, open, list, pre-signed URL, delete. Stopping it leaves no SDK thread.
 */
class FelixBundleIT {

    private static final String BLOB_FILTER = "(&(" + Constants.OBJECTCLASS + "=" + BlobStore.class.getName() + ")("
            + BlobStore.NAME + "=s3))";

    private static Path jarOf(String className) throws Exception {
        return Path.of(Class.forName(className).getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    @Test
    void theBundleResolvesOnTheJdkAloneAndItsStoreWorksInsideFelix() throws Exception {
        S3TestServers.Server s3rver = S3TestServers.s3rver();
        Set<Thread> threadsBefore = new HashSet<>(Thread.getAllStackTraces().keySet());

        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, Path.of("target", "felix-it").toAbsolutePath().toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        config.put(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA, String.join(",",
                "org.slf4j;version=2.0.17", "org.slf4j.event;version=2.0.17", "org.slf4j.spi;version=2.0.17",
                "org.slf4j.helpers;version=2.0.17", "io.parley.core.spi.blob;version=1.1.0"));
        Framework framework = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(config);
        framework.init();
        framework.start();
        try {
            BundleContext context = framework.getBundleContext();
            List<Bundle> infrastructure = new ArrayList<>();
            for (String className : List.of("org.osgi.util.function.Function", "org.osgi.util.promise.Promise",
                    "org.osgi.service.component.ComponentContext", "org.apache.felix.scr.impl.Activator",
                    "org.apache.felix.cm.impl.ConfigurationManager")) {
                infrastructure.add(context.installBundle(jarOf(className).toUri().toString()));
            }
            for (Bundle bundle : infrastructure) {
                bundle.start();
            }
            Path jar = Path.of(System.getProperty("bundle.jar", "target/parley-blob-s3-0.1.0-SNAPSHOT.jar"));
            Bundle s3 = context.installBundle(jar.toAbsolutePath().toUri().toString());
            s3.start();
            assertEquals(Bundle.ACTIVE, s3.getState());

            BundleWiring wiring = s3.adapt(BundleWiring.class);
            List<String> wires = new ArrayList<>();
            for (BundleWire wire : wiring.getRequiredWires("osgi.wiring.package")) {
                wires.add(wire.getCapability().getAttributes().get("osgi.wiring.package") + " <- "
                        + wire.getProvider().getBundle().getSymbolicName());
                assertEquals(0, wire.getProvider().getBundle().getBundleId(),
                        "every package comes from the system bundle: " + wire);
            }
            System.out.println("[FelixBundleIT] " + wires.size() + " package wires, all to the system bundle");

            ServiceTracker<BlobStore, BlobStore> tracker =
                    new ServiceTracker<>(context, context.createFilter(BLOB_FILTER), null);
            tracker.open();
            try {
                Thread.sleep(500);
                assertNull(tracker.getService(), "no configuration, no s3 store");

                String prefix = "felix/" + UUID.randomUUID();
                Dictionary<String, Object> properties = new Hashtable<>();
                properties.put("endpoint", s3rver.endpoint());
                properties.put("bucket", S3TestServers.BUCKET);
                properties.put("access.key", S3TestServers.ACCESS_KEY);
                properties.put("secret.key", S3TestServers.SECRET_KEY);
                properties.put("prefix", prefix);
                Deletable configuration = configure(context, properties);

                BlobStore store = tracker.waitForService(30_000);
                assertNotNull(store, "the s3 store is registered once configured");
                assertSame(s3, ((BundleWiring) s3.adapt(BundleWiring.class)).getBundle());
                assertSame(wiring.getClassLoader(), store.getClass().getClassLoader(), "the bundle's own class");

                exercise(store);

                configuration.delete();
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (tracker.getService() != null && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertNull(tracker.getService(), "configuration deleted, store unregistered");
            } finally {
                tracker.close();
            }
            s3.stop();
            s3.uninstall();
        } finally {
            framework.stop();
            framework.waitForStop(20_000);
        }
        Set<String> sdkThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> !threadsBefore.contains(t) && t.isAlive())
                .map(Thread::getName)
                .filter(name -> name.startsWith("sdk-") || name.contains("aws") || name.contains("response-input"))
                .collect(Collectors.toSet());
        assertEquals(Set.of(), sdkThreads, "SDK threads left after the bundle stopped");
    }

    private interface Deletable {
        void delete() throws Exception;
    }

    /** ConfigurationAdmin.getConfiguration(pid, "?").update(properties), through the bundle's API classes. */
    private static Deletable configure(BundleContext context, Dictionary<String, Object> properties) throws Exception {
        ServiceTracker<Object, Object> tracker = new ServiceTracker<>(context,
                context.createFilter("(" + Constants.OBJECTCLASS + "=org.osgi.service.cm.ConfigurationAdmin)"), null);
        // all services: this test's class path has its own copy of org.osgi.service.cm, so it is not "assignable"
        tracker.open(true);
        Object admin = tracker.waitForService(20_000);
        assertNotNull(admin, "ConfigAdmin runs");
        ServiceReference<Object> reference = tracker.getServiceReference();
        Class<?> adminType = reference.getBundle().loadClass("org.osgi.service.cm.ConfigurationAdmin");
        Class<?> configurationType = reference.getBundle().loadClass("org.osgi.service.cm.Configuration");
        Object configuration = adminType.getMethod("getConfiguration", String.class, String.class)
                .invoke(admin, "parley.blob.s3", "?");
        configurationType.getMethod("update", Dictionary.class).invoke(configuration, properties);
        return () -> configurationType.getMethod("delete").invoke(configuration);
    }

    private static void exercise(BlobStore store) throws Exception {
        byte[] small = "hello from inside Felix".getBytes(StandardCharsets.UTF_8);
        Info info = store.put("f/alice/hello.txt", new ByteArrayInputStream(small), small.length, "text/plain");
        assertEquals(Optional.of(info), store.stat("f/alice/hello.txt"));
        try (InputStream in = store.open("f/alice/hello.txt", 6).orElseThrow()) {
            assertArrayEquals("from inside Felix".getBytes(StandardCharsets.UTF_8), in.readAllBytes());
        }

        int length = 17 * 1024 * 1024 + 5;
        byte[] large = new byte[length];
        for (int i = 0; i < length; i++) {
            large[i] = (byte) (i * 7 + (i >>> 13));
        }
        Info big = store.put("v/big.bin", new ByteArrayInputStream(large), length, "application/octet-stream");
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(large)), big.sha256());
        assertEquals(List.of(big, info), store.list("", "", 10).stream()
                .sorted((a, b) -> b.key().compareTo(a.key())).toList());

        var url = store.downloadUrl("f/alice/hello.txt", Duration.ofMinutes(1)).orElseThrow();
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(url).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode());
        assertArrayEquals(small, response.body());

        assertTrue(store.delete("v/big.bin"));
        assertTrue(store.delete("f/alice/hello.txt"));
        assertEquals(List.of(), store.list("", "", 10));
    }
}
