package io.parley.transport.http.internal;

import io.parley.core.spi.admin.BundleInfo;
import io.parley.core.spi.admin.DeployResult;
import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.Deployments;
import io.parley.core.spi.admin.ServerAdmin;
import io.parley.core.spi.admin.SessionInfo;
import io.parley.core.spi.admin.Stats;
import io.parley.core.spi.admin.StoreInfo;
import io.parley.core.spi.admin.TypeInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The admin endpoints on a real HTTP server with stand-in services: 503 while a service is missing, the answers'
 * JSON, a bundle upload streamed to the staging file intact (larger than the flow-control window), the size limit
 * on a declared and on a chunked body, and deployment refusals mapped to their codes.
 */
class AdminApiTest {

    private static final String ADMIN = HttpApiServerTest.ADMIN;
    private static final long MAX = 4L << 20;

    @TempDir
    Path staging;
    private HttpApiServer server;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** What the stand-in install received: the staged file's bytes, and where it was. */
    private final List<byte[]> installed = new CopyOnWriteArrayList<>();
    private final AtomicReference<Object> nextOutcome = new AtomicReference<>();

    private final Deployments deployments = new Deployments() {
        @Override
        public List<BundleInfo> bundles() {
            return List.of(new BundleInfo(7, "org.example.x", "1.0.0", "ACTIVE", BundleInfo.DEPLOY, "x.jar"));
        }

        @Override
        public long maxBundleBytes() {
            return MAX;
        }

        @Override
        public Path stagingFile() throws IOException {
            return Files.createTempFile(staging, "upload-", ".jar");
        }

        @Override
        public DeployResult install(Path jar, String expectedName) throws DeploymentException {
            try {
                assertTrue(jar.startsWith(staging), jar.toString());
                installed.add(Files.readAllBytes(jar));
                Files.delete(jar);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            Object outcome = nextOutcome.getAndSet(null);
            if (outcome instanceof DeploymentException e) {
                throw e;
            }
            return outcome instanceof DeployResult r ? r
                    : new DeployResult(expectedName, "1.0.0", "ACTIVE", true, expectedName + " installed");
        }

        @Override
        public DeployResult remove(String name) throws DeploymentException {
            throw new DeploymentException(DeploymentException.Reason.NOT_FOUND, "no bundle " + name + " in deploy/");
        }
    };

    private final ServerAdmin admin = new ServerAdmin() {
        @Override
        public List<SessionInfo> sessions(String user) {
            return List.of(new SessionInfo("alice", "laptop", "tcp", "127.0.0.1:5000", 1000, 42, "n1-s1"));
        }

        @Override
        public int kick(String user, String device, String reason) {
            return 0;
        }

        @Override
        public List<TypeInfo> types() {
            return List.of();
        }

        @Override
        public List<StoreInfo> stores() {
            return List.of(new StoreInfo(StoreInfo.MESSAGE, "mvstore", "io.parley.store.mvstore", "1.0.0", true,
                    StoreInfo.WRITABLE));
        }

        @Override
        public Stats stats() {
            return new Stats(1000, 5000, Map.of("tcp", 1), 1, "mvstore", List.of(), Map.of("inbound.frames", 0L));
        }
    };

    @BeforeEach
    void start() throws IOException {
        server = new HttpApiServer(HttpApiServerTest.settings(ADMIN, 64 * 1024, Duration.ofSeconds(5), 100),
                TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)));
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop();
    }

    private HttpResponse<String> call(String method, String path, String contentType, byte[] body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.localAddress().getPort() + path)).timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + ADMIN)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void withoutTheServicesEveryAdminEndpointAnswersARetryable503NamingWhatIsMissing() throws Exception {
        for (String path : List.of("/v1/sessions", "/v1/stores", "/v1/stats")) {
            HttpResponse<String> r = call("GET", path, null, null);
            assertEquals(503, r.statusCode(), r.body());
            assertTrue(r.body().contains("core is not running") && r.body().contains("\"retryable\":true"), r.body());
        }
        HttpResponse<String> bundles = call("GET", "/v1/bundles", null, null);
        assertEquals(503, bundles.statusCode());
        assertTrue(bundles.body().contains("bundle management is not running"), bundles.body());
        HttpResponse<String> put = call("PUT", "/v1/bundles/org.example.x", "application/java-archive", new byte[10]);
        assertEquals(503, put.statusCode(), put.body());
        server.bindServerAdmin(admin);
        server.bindDeployments(deployments);
        assertEquals(200, call("GET", "/v1/stats", null, null).statusCode());
        server.unbindDeployments(deployments);
        assertEquals(503, call("GET", "/v1/bundles", null, null).statusCode(), "tracked dynamically");
    }

    @Test
    void answersAreSnakeCaseJson() throws Exception {
        server.bindServerAdmin(admin);
        server.bindDeployments(deployments);
        assertEquals("{\"sessions\":[{\"user\":\"alice\",\"device\":\"laptop\",\"transport\":\"tcp\",\"remote_address\":"
                + "\"127.0.0.1:5000\",\"since\":1000,\"idle_ms\":42,\"session_id\":\"n1-s1\"}]}",
                call("GET", "/v1/sessions?user=alice", null, null).body());
        assertEquals(400, call("GET", "/v1/sessions?user=a%20b", null, null).statusCode());
        assertTrue(call("GET", "/v1/stats", null, null).body().contains("\"sessions_by_transport\":{\"tcp\":1}"));
        assertTrue(call("GET", "/v1/stores", null, null).body().contains("\"in_use\":true,\"health\":\"writable\""));
        assertTrue(call("GET", "/v1/bundles", null, null).body().contains("\"area\":\"deploy\",\"removable\":true"));
        HttpResponse<String> missing = call("DELETE", "/v1/bundles/org.example.gone", null, null);
        assertEquals(404, missing.statusCode(), missing.body());
        assertTrue(missing.body().contains("no bundle org.example.gone in deploy/"), missing.body());
    }

    @Test
    void anUploadIsStreamedToTheStagingFileIntactAndRefusalsMapToTheirCodes() throws Exception {
        server.bindServerAdmin(admin);
        server.bindDeployments(deployments);
        byte[] jar = new byte[3 << 20]; // over the 1 MiB flow-control window, over max.body.bytes (64 KiB)
        new Random(7).nextBytes(jar);
        HttpResponse<String> ok = call("PUT", "/v1/bundles/org.example.x", "application/java-archive", jar);
        assertEquals(200, ok.statusCode(), ok.body());
        assertTrue(ok.body().contains("\"state\":\"ACTIVE\""), ok.body());
        assertEquals(1, installed.size());
        assertArrayEquals(jar, installed.get(0), "the staged file holds exactly the body");

        nextOutcome.set(new DeploymentException(DeploymentException.Reason.SYSTEM_BUNDLE, "io.parley.core is a "
                + "system bundle"));
        HttpResponse<String> system = call("PUT", "/v1/bundles/io.parley.core", "application/java-archive", jar);
        assertEquals(403, system.statusCode(), system.body());
        assertTrue(system.body().contains("SYSTEM_BUNDLE"), system.body());
        nextOutcome.set(new DeployResult("org.example.x", "1.0.0", "INSTALLED", false, "unresolved imports"));
        HttpResponse<String> notStarted = call("PUT", "/v1/bundles/org.example.x", "application/java-archive", jar);
        assertEquals(422, notStarted.statusCode(), notStarted.body());
        assertTrue(notStarted.body().contains("BUNDLE_NOT_STARTED") && notStarted.body().contains("unresolved"),
                notStarted.body());

        HttpResponse<String> json = call("PUT", "/v1/bundles/org.example.x", "application/json", "{}".getBytes());
        assertEquals(415, json.statusCode(), json.body());
        HttpResponse<String> badName = call("PUT", "/v1/bundles/.hidden", "application/java-archive", jar);
        assertEquals(400, badName.statusCode(), badName.body());
        String declared = raw("PUT /v1/bundles/org.example.x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN
                + "\r\nContent-Type: application/java-archive\r\nContent-Length: " + (MAX + 1) + "\r\n\r\n", null);
        assertTrue(declared.startsWith("HTTP/1.1 413"), declared);
        assertEquals(3, installed.size(), "no refused upload reached install");
    }

    @Test
    void aChunkedBodyPastTheLimitIsRefusedAsItArrivesAndItsFileDeleted() throws Exception {
        server.bindDeployments(deployments);
        byte[] chunk = new byte[256 << 10];
        String answer = raw("PUT /v1/bundles/org.example.x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN
                + "\r\nContent-Type: application/java-archive\r\nTransfer-Encoding: chunked\r\n\r\n", out -> {
                    for (int i = 0; i < 20; i++) { // 5 MiB, over the 4 MiB limit
                        out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.write(chunk);
                        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                });
        assertTrue(answer.startsWith("HTTP/1.1 413") && answer.contains("max.bundle.bytes"), answer);
        assertEquals(0, installed.size());
        long deadline = System.nanoTime() + 5_000_000_000L;
        long left;
        do {
            try (Stream<Path> files = Files.list(staging)) {
                left = files.count();
            }
            Thread.sleep(20);
        } while (left > 0 && System.nanoTime() < deadline);
        assertEquals(0, left, "the partial upload is deleted");
    }

    interface Body {
        void write(OutputStream out) throws IOException;
    }

    /** Sends {@code head} and {@code body} on a raw connection and reads the answer until the server closes. */
    private String raw(String head, Body body) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.localAddress().getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            if (body != null) {
                try {
                    body.write(out);
                } catch (IOException closedEarly) {
                    // refused while the body was being written: read the answer
                }
            }
            out.flush();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    all.write(buf, 0, n);
                }
            } catch (IOException reset) {
                // closed by the server after its answer
            }
            return all.toString(StandardCharsets.UTF_8);
        }
    }
}
