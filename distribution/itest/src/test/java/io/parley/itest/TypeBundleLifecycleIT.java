package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageProcessor;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

import javax.inject.Inject;
import javax.management.ObjectName;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static io.parley.itest.ParleyExam.SECRET;
import static io.parley.itest.ParleyExam.update;
import static io.parley.itest.ParleyExam.waitForPort;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * The life of a message-type bundle in real Felix beside the real core: a bundle built for another major version of
 * {@code io.parley.core.spi.message} is refused with the resolver's reason, and a type bundle that was used (TCP
 * send, the HTTP API's JSON catalog) and then uninstalled and refreshed away leaves nothing that pins its class
 * loader.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class TypeBundleLifecycleIT {
    static final String ADMIN = "lifecycle-admin-token-0123456789";
    static final String SPI_MESSAGE = "io.parley.core.spi.message";

    @Inject
    private BundleContext context;

    private final List<ParleyClient> clients = new ArrayList<>();
    private final List<ServiceTracker<?, ?>> trackers = new ArrayList<>();
    private int tcpPort;
    private int httpPort;

    @Configuration
    public Option[] config() {
        return ParleyExam.options();
    }

    @Before
    public void configure() throws Exception {
        ConfigurationAdmin cm = service(ConfigurationAdmin.class);
        if (cm.getConfiguration("parley.transport.tcp", "?").getProperties() == null) {
            Path tcpFile = Files.createTempFile("parley-lifecycle-tcp", ".txt");
            Path httpFile = Files.createTempFile("parley-lifecycle-http", ".txt");
            Files.delete(tcpFile);
            Files.delete(httpFile);
            update(cm, "parley.auth.jwt", "secret", SECRET, "issuer", "parley");
            update(cm, "parley.core", "store.target", "(parley.store.name=memory)");
            update(cm, "parley.transport.websocket", "host", "127.0.0.1", "port", "0");
            update(cm, "parley.transport.http", "host", "127.0.0.1", "port", "0", "port.file", httpFile.toString(),
                    "admin.token", ADMIN);
            update(cm, "parley.transport.tcp", "host", "127.0.0.1", "port", "0", "port.file", tcpFile.toString());
        }
        ParleyExam.startTransports(context);
        tcpPort = waitForPort(Path.of(String.valueOf(
                cm.getConfiguration("parley.transport.tcp", "?").getProperties().get("port.file"))));
        httpPort = waitForPort(Path.of(String.valueOf(
                cm.getConfiguration("parley.transport.http", "?").getProperties().get("port.file"))));
    }

    @After
    public void closeClients() {
        clients.forEach(ParleyClient::close);
        clients.clear();
        trackers.forEach(ServiceTracker::close);
        trackers.clear();
    }

    @Test
    public void aBundleBuiltForTheNextMessageSpiMajorStaysInstalledAndTheResolverSaysWhy() throws Exception {
        String offered = exportedVersion(SPI_MESSAGE);
        assertTrue("this server provides " + SPI_MESSAGE + " 1.x, not " + offered, offered.startsWith("1."));
        Bundle future = context.installBundle("itest:spi-message-2", new ByteArrayInputStream(
                bundleImporting("itest.future.location", SPI_MESSAGE + ";version=\"[2.0,3)\"")));
        try {
            BundleException refused = assertThrows(BundleException.class, future::start);
            assertEquals("left INSTALLED", Bundle.INSTALLED, future.getState());
            assertEquals(BundleException.RESOLVE_ERROR, refused.getType());
            String reason = refused.getMessage();
            System.out.println("[lifecycle] refused: " + reason);
            assertTrue(reason, reason.contains("itest.future.location"));
            assertTrue(reason, reason.contains("missing requirement"));
            assertTrue(reason, reason.contains("(&(osgi.wiring.package=" + SPI_MESSAGE
                    + ")(version>=2.0.0)(!(version>=3.0.0)))"));
            assertEquals("the SPI is still served at the version it was", offered, exportedVersion(SPI_MESSAGE));
        } finally {
            future.uninstall();
        }
    }

    @Test
    public void anUninstalledTypeBundleIsRefreshedAwayAndItsClassLoaderIsCollected() throws Exception {
        WeakReference<ClassLoader> loader = installUseAndUninstallEmoji();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int gcs = 0;
        while (loader.get() != null && System.nanoTime() < deadline) {
            System.gc();
            gcs++;
            Thread.sleep(50);
        }
        if (loader.get() != null) {
            Path dump = heapDump("emoji-class-loader");
            fail("the emoji bundle's class loader (" + loader.get() + ") is still reachable after uninstall, refresh "
                    + "and " + gcs + " GCs; heap dump: " + dump + " (open it and ask for the paths from GC roots to "
                    + "org.apache.felix.framework.BundleWiringImpl$BundleClassLoader)");
        }
        System.out.println("[lifecycle] the emoji class loader was collected after " + gcs + " GC(s)");
    }

    /**
     * Installs the emoji type from the distribution's extras/, sends one emoji over TCP and one as JSON over the HTTP
     * API (which reads the type's descriptor from the core's catalog), reads it back as JSON, then uninstalls the
     * bundle and waits for the refresh that discards its revision.
     *
     * @return a weak reference to the bundle's class loader; nothing else of the bundle is kept
     */
    private WeakReference<ClassLoader> installUseAndUninstallEmoji() throws Exception {
        Path jar = Path.of(System.getProperty("parley.dist.dir", "../server/target/parley-0.1.0-SNAPSHOT"))
                .resolve("extras/parley-type-emoji.jar");
        assertTrue("no " + jar + ": build distribution/server first", Files.isRegularFile(jar));
        Bundle emoji = context.installBundle(jar.toUri().toString());
        emoji.start();
        waitForProcessor("emoji", true);
        ClassLoader classLoader = emoji.adapt(BundleWiring.class).getClassLoader();
        assertEquals(classLoader, emoji.loadClass("io.parley.type.emoji.EmojiComponent").getClassLoader());

        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient ann = client("gc-ann", new LinkedBlockingQueue<>());
        client("gc-ben", inbox);
        assertEquals(1, ann.send("gc-ben", "emoji", Bodies.emoji("\uD83D\uDC4D")).get(10, TimeUnit.SECONDS).getSeq());
        Message got = inbox.poll(10, TimeUnit.SECONDS);
        assertNotNull("gc-ben got the emoji", got);
        assertEquals("emoji", got.getType());
        assertTrue(http("GET", "/v1/types", null)
                .contains("\"type_url\":\"type.googleapis.com/parley.emoji.v1.Emoji\""));
        String sent = http("POST", "/v1/messages",
                "{\"from\":\"gc-ann\",\"to\":\"gc-ben\",\"type\":\"emoji\",\"body\":{\"emoji\":\"\uD83C\uDF89\"}}");
        assertTrue(sent, sent.contains("\"seq\":2"));
        String history = http("GET", "/v1/conversations/d:gc-ann:gc-ben/messages?user=gc-ben", null);
        assertTrue("rendered as JSON through the catalog: " + history,
                history.contains("\"content\":{\"emoji\":\"\\uD83C\\uDF89\"}")
                        || history.contains("\"content\":{\"emoji\":\"\uD83C\uDF89\"}"));
        closeClients();

        emoji.uninstall();
        FrameworkWiring wiring = context.getBundle(0).adapt(FrameworkWiring.class);
        CompletableFuture<FrameworkEvent> refreshed = new CompletableFuture<>();
        wiring.refreshBundles(null, refreshed::complete);
        assertEquals(FrameworkEvent.PACKAGES_REFRESHED, refreshed.get(10, TimeUnit.SECONDS).getType());
        waitForProcessor("emoji", false);
        assertTrue("no removal pending", wiring.getRemovalPendingBundles().isEmpty());
        return new WeakReference<>(classLoader);
    }

    // ---------------------------------------------------------------- helpers

    /** The version at which a bundle of the framework exports {@code pkg}. */
    private String exportedVersion(String pkg) {
        for (Bundle b : context.getBundles()) {
            BundleWiring w = b.adapt(BundleWiring.class);
            if (w == null) {
                continue;
            }
            for (BundleCapability c : w.getCapabilities("osgi.wiring.package")) {
                if (pkg.equals(c.getAttributes().get("osgi.wiring.package"))) {
                    return String.valueOf(c.getAttributes().get("version"));
                }
            }
        }
        throw new AssertionError("nobody exports " + pkg);
    }

    /** A bundle holding only a manifest: what a type built against another SPI major looks like to the resolver. */
    static byte[] bundleImporting(String symbolicName, String importPackage) throws Exception {
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", symbolicName);
        a.putValue("Bundle-Version", "2.0.0");
        a.putValue("Import-Package", importPackage);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new JarOutputStream(out, mf).close();
        return out.toByteArray();
    }

    /** Writes a heap dump (live objects) under target/ and returns its path. */
    static Path heapDump(String name) throws Exception {
        Path dir = Path.of("target/heapdumps").toAbsolutePath();
        Files.createDirectories(dir);
        Path file = dir.resolve(name + "-" + ProcessHandle.current().pid() + ".hprof");
        Files.deleteIfExists(file);
        ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=HotSpotDiagnostic"),
                "dumpHeap", new Object[]{file.toString(), true}, new String[]{String.class.getName(), "boolean"});
        return file;
    }

    private String http(String method, String path, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + ADMIN)
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8));
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = HttpClient.newHttpClient().send(b.build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(method + " " + path + ": " + r.body(), 200, r.statusCode());
        return r.body();
    }

    private ParleyClient client(String user, LinkedBlockingQueue<Message> inbox) throws Exception {
        return ParleyExam.client(clients, tcpPort, user, "d1", inbox::add);
    }

    private void waitForProcessor(String type, boolean present) throws Exception {
        ParleyExam.waitForServices(context, MessageProcessor.class, "(" + MessageProcessor.TYPE + "=" + type + ")",
                present);
    }

    private <T> T service(Class<T> type) throws InterruptedException {
        return ParleyExam.service(context, trackers, type);
    }
}
