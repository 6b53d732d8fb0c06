package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Hot swap on the assembled server, driven through deploy/ as an operator would (DESIGN.md §7). */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DistributionHotSwapIT {
    @TempDir
    static Path work;
    static ServerProcess server;
    static final List<ParleyClient> clients = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        long readyMs = server.start();
        System.out.println("[hot-swap] server ready in " + readyMs + " ms (process start to TCP accept)");
    }

    @AfterAll
    static void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        server.close();
    }

    static ParleyClient client(String user, String device, LinkedBlockingQueue<Message> inbox, int retries) throws Exception {
        ParleyClient c = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId(device)
                .token(server.tokens().mint(user, null, Duration.ofMinutes(30)))
                .maxSendRetries(retries)
                .messageListener(inbox::add).build();
        clients.add(c);
        c.connect().get(15, TimeUnit.SECONDS);
        return c;
    }

    static Any emoji(String e) {
        // parley.emoji.v1.Emoji { string emoji = 1; } encoded by hand: the test does not link the emoji bundle
        byte[] utf8 = e.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] body = new byte[utf8.length + 2];
        body[0] = 0x0a;
        body[1] = (byte) utf8.length;
        System.arraycopy(utf8, 0, body, 2, utf8.length);
        return Any.newBuilder().setTypeUrl("type.googleapis.com/parley.emoji.v1.Emoji").setValue(ByteString.copyFrom(body)).build();
    }

    static ErrorCode errorOf(CompletableFuture<?> f) throws Exception {
        try {
            f.get(15, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return assertInstanceOf(ParleyClientException.class, e.getCause()).code();
        }
    }

    @Test
    @Order(1)
    void aNewTypeBundleDroppedIntoDeployBecomesUsableWithoutRestart() throws Exception {
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient alice = client("alice", "a1", new LinkedBlockingQueue<>(), 0);
        client("bob", "b1", inbox, 0);
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, errorOf(alice.send("bob", "emoji", emoji("👍"))));

        long t0 = System.nanoTime();
        server.deploy(server.home.resolve("extras/parley-type-emoji.jar"), "parley-type-emoji.jar");
        SendAck ack = null;
        while (ack == null) {
            if (ServerProcess.since(t0).toSeconds() > 20) {
                fail("emoji did not become usable within 20 s of the deploy");
            }
            try {
                ack = alice.send("bob", "emoji", emoji("👍")).get(15, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, ((ParleyClientException) e.getCause()).code());
                Thread.sleep(100);
            }
        }
        System.out.println("[hot-swap] emoji usable " + ServerProcess.since(t0).toMillis() + " ms after the jar was dropped");
        Message m = inbox.poll(10, TimeUnit.SECONDS);
        assertNotNull(m);
        assertEquals("emoji", m.getType());
        assertEquals(ack.getSeq(), m.getSeq());
    }

    @Test
    @Order(2)
    void replacingTheTextBundleUnderLoadLosesAndRejectsNothing() throws Exception {
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient carol = client("carol", "c1", new LinkedBlockingQueue<>(), 0); // no retries: any refusal fails
        client("dave", "d1", inbox, 0);
        Path v2 = rebuiltWithVersion(server.home.resolve("deploy/parley-type-text.jar"), "0.1.1.swap", work.resolve("text-v2.jar"));

        Semaphore window = new Semaphore(32);
        List<CompletableFuture<SendAck>> sends = new ArrayList<>();
        long t0 = System.nanoTime();
        boolean swapped = false;
        int i = 0;
        while (ServerProcess.since(t0).toMillis() < 4000) {
            if (!swapped && ServerProcess.since(t0).toMillis() > 1000) {
                server.deploy(v2, "parley-type-text.jar");
                swapped = true;
            }
            window.acquire();
            CompletableFuture<SendAck> f = carol.sendText("dave", "m" + i++);
            f.whenComplete((a, e) -> window.release());
            sends.add(f);
        }
        int rejected = 0;
        long lastSeq = -1;
        for (CompletableFuture<SendAck> f : sends) {
            try {
                SendAck a = f.get(30, TimeUnit.SECONDS);
                assertTrue(lastSeq < 0 || a.getSeq() == lastSeq + 1, "seq order follows send order");
                lastSeq = a.getSeq();
            } catch (ExecutionException e) {
                rejected++;
                System.out.println("[hot-swap] rejected: " + e.getCause());
            }
        }
        List<String> received = new ArrayList<>();
        while (received.size() < sends.size()) {
            Message m = inbox.poll(15, TimeUnit.SECONDS);
            if (m == null) {
                break;
            }
            received.add(Bodies.textOf(m));
        }
        int lost = sends.size() - rejected - received.size();
        System.out.printf("[hot-swap] text bundle replaced under load: sent %d, rejected %d, lost %d%n", sends.size(), rejected, lost);
        assertEquals(0, rejected, "rejected sends");
        assertEquals(sends.size(), received.size(), "delivered messages");
        for (int k = 0; k < received.size(); k++) {
            assertEquals("m" + k, received.get(k), "delivery order");
        }
        assertTrue(countOf(server.log(), "Message type 'text' is served by bundle") >= 2,
                "the log shows the text type registered again after the swap");
    }

    @Test
    @Order(3)
    void aRemovedTypeIsRefusedCleanly() throws Exception {
        ParleyClient erin = client("erin", "e1", new LinkedBlockingQueue<>(), 0);
        assertEquals(null, errorOf(erin.send("frank", "emoji", emoji("🎉"))));
        server.undeploy("parley-type-emoji.jar");
        long t0 = System.nanoTime();
        ErrorCode code;
        do {
            assertTrue(ServerProcess.since(t0).toSeconds() < 20, "emoji still accepted 20 s after removal");
            Thread.sleep(100);
            code = errorOf(erin.send("frank", "emoji", emoji("🎉")));
        } while (code == null);
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, code);
        assertEquals(null, errorOf(erin.sendText("frank", "text still works")));
    }

    @Test
    @Order(4)
    void theDefaultServerRecallsAndTheChatCliRecallsAndShowsIt() throws Exception {
        // deploy/ ships the recall bundle: nothing to install
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        client("cli-bob", "b1", inbox, 0);
        ProcessBuilder pb = new ProcessBuilder(server.home.resolve("bin/parley").toString(), "chat",
                "--token", server.tokens().mint("cli-ann", null, Duration.ofMinutes(10)),
                "--device", "cli", "--port", Integer.toString(server.port))
                .directory(server.home.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(server.home.resolve("logs/test-chat.log").toFile()));
        Process chat = pb.start();
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(
                    chat.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        reader.start();
        try (java.io.Writer in = new java.io.OutputStreamWriter(chat.getOutputStream(),
                java.nio.charset.StandardCharsets.UTF_8)) {
            in.write("@cli-bob sent to the wrong person\n");
            in.flush();
            awaitLine(lines, "✓ #1");
            assertEquals("sent to the wrong person", Bodies.textOf(inbox.poll(15, TimeUnit.SECONDS)));
            in.write("/recall 1\n");
            in.flush();
            awaitLine(lines, "✓ recalled #1");
            // the event reaches the other member and the recalling device itself
            Message event = inbox.poll(15, TimeUnit.SECONDS);
            assertNotNull(event, "cli-bob hears of the recall");
            assertEquals(java.util.Optional.of(1L), io.parley.client.Recalls.of(event).map(r -> r.seq()));
            awaitLine(lines, "[d:cli-ann:cli-bob #2] * cli-ann recalled #1");
            in.write("/list\n/quit\n");
        }
        assertTrue(chat.waitFor(30, TimeUnit.SECONDS), "the chat ended");
        assertEquals(0, chat.exitValue());
        reader.join(5000);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("d:cli-ann:cli-bob \"cli-bob\" unread 0 | cli-ann: ")),
                "the list shows the conversation: " + lines);
        try (ParleyClient bobLater = client("cli-bob", "b2", new LinkedBlockingQueue<>(), 0)) {
            Message first = bobLater.syncRange("d:cli-ann:cli-bob", 1, 1, 1).get(15, TimeUnit.SECONDS).getMessages(0);
            assertTrue(io.parley.client.Recalls.isTombstone(first), "history holds the tombstone: " + first);
        }
    }

    // ------------------------------------------------------------------ the HTTP admin API (issue 13, helper B)

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(10)).build();

    /** {@code method path} with {@code Authorization: auth} (null: none) and a jar body (null: none). */
    private static java.net.http.HttpResponse<String> admin(String method, String path, String auth, byte[] jar)
            throws Exception {
        java.net.http.HttpRequest.Builder b = java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.httpPort + path)).timeout(Duration.ofSeconds(60))
                .method(method, jar == null ? java.net.http.HttpRequest.BodyPublishers.noBody()
                        : java.net.http.HttpRequest.BodyPublishers.ofByteArray(jar));
        if (jar != null) {
            b.header("Content-Type", "application/java-archive");
        }
        if (auth != null) {
            b.header("Authorization", auth);
        }
        return HTTP.send(b.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    private static java.net.http.HttpResponse<String> admin(String method, String path, byte[] jar) throws Exception {
        return admin(method, path, "Bearer " + ServerProcess.ADMIN_TOKEN, jar);
    }

    /** {@code jar} with its manifest's {@code Bundle-SymbolicName} and {@code Bundle-Version} replaced (null: kept). */
    static byte[] rewritten(Path jar, String bsn, String version) throws IOException {
        return rewritten(jar, bsn, version, java.util.Map.of());
    }

    /** The same, with {@code headers} set in the manifest as well. */
    static byte[] rewritten(Path jar, String bsn, String version, java.util.Map<String, String> headers)
            throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (JarFile in = new JarFile(jar.toFile())) {
            Manifest m = new Manifest(in.getManifest());
            headers.forEach(m.getMainAttributes()::putValue);
            if (bsn != null) {
                m.getMainAttributes().putValue("Bundle-SymbolicName", bsn);
            }
            if (version != null) {
                m.getMainAttributes().putValue("Bundle-Version", version);
            }
            try (JarOutputStream out = new JarOutputStream(bytes, m)) {
                for (Enumeration<JarEntry> e = in.entries(); e.hasMoreElements(); ) {
                    JarEntry entry = e.nextElement();
                    if (entry.getName().equals("META-INF/MANIFEST.MF")) {
                        continue;
                    }
                    out.putNextEntry(new JarEntry(entry.getName()));
                    try (InputStream data = in.getInputStream(entry)) {
                        data.transferTo(out);
                    }
                }
            }
        }
        return bytes.toByteArray();
    }

    private static com.fasterxml.jackson.databind.JsonNode bundle(String bsn) throws Exception {
        java.net.http.HttpResponse<String> r = admin("GET", "/v1/bundles", null);
        assertEquals(200, r.statusCode(), r.body());
        for (com.fasterxml.jackson.databind.JsonNode b : JSON.readTree(r.body()).get("bundles")) {
            if (b.get("symbolic_name").asText().equals(bsn)) {
                return b;
            }
        }
        return null;
    }

    /** The head of a PUT declaring {@code length} body bytes, sent raw; the answer's status line and body. */
    private static String rawPutHead(String path, long length) throws IOException {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.httpPort)) {
            s.setSoTimeout(15_000);
            s.getOutputStream().write(("PUT " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + ServerProcess.ADMIN_TOKEN + "\r\nContent-Type: application/java-archive\r\nContent-Length: "
                    + length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    @Order(5)
    void bundlesAreInstalledUpdatedAndRemovedByNameThroughTheAdminApiAndSessionsStatsStoresAreListed() throws Exception {
        long t0 = System.nanoTime();
        String emoji = "io.parley.type.emoji";
        Path emojiJar = server.home.resolve("extras/parley-type-emoji.jar");
        byte[] v1 = Files.readAllBytes(emojiJar);
        // every admin endpoint: 401 without and with a wrong token, before anything else is looked at
        for (String[] op : new String[][] {{"GET", "/v1/sessions"}, {"GET", "/v1/stores"}, {"GET", "/v1/stats"},
                {"GET", "/v1/bundles"}, {"PUT", "/v1/bundles/" + emoji}, {"DELETE", "/v1/bundles/" + emoji},
                {"DELETE", "/v1/bundles/io.parley.type.text"}}) {
            for (String auth : new String[] {null, "Bearer wrong-" + ServerProcess.ADMIN_TOKEN}) {
                java.net.http.HttpResponse<String> r = admin(op[0], op[1], auth, op[0].equals("PUT") ? v1 : null);
                assertEquals(401, r.statusCode(), op[0] + " " + op[1] + " auth=" + auth + ": " + r.body());
                assertTrue(r.body().contains("UNAUTHENTICATED"), r.body());
            }
        }
        assertTrue(Files.notExists(server.home.resolve("deploy/" + emoji + ".jar")), "nothing was deployed");

        // sessions, stats, stores with a logged-in user
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient gina = client("gina", "g1", new LinkedBlockingQueue<>(), 0);
        client("hank", "h1", inbox, 0);
        com.fasterxml.jackson.databind.JsonNode sessions = JSON.readTree(admin("GET", "/v1/sessions?user=gina", null).body());
        assertEquals(1, sessions.get("sessions").size(), sessions.toString());
        com.fasterxml.jackson.databind.JsonNode g = sessions.get("sessions").get(0);
        assertEquals("gina", g.get("user").asText());
        assertEquals("g1", g.get("device").asText());
        assertEquals("tcp", g.get("transport").asText());
        assertTrue(g.get("remote_address").asText().startsWith("127.0.0.1:"), g.toString());
        assertTrue(g.get("idle_ms").asLong() >= 0 && g.get("since").asLong() > 0, g.toString());
        assertEquals(400, admin("GET", "/v1/sessions?user=a%20b", null).statusCode());
        com.fasterxml.jackson.databind.JsonNode stats = JSON.readTree(admin("GET", "/v1/stats", null).body());
        assertTrue(stats.get("sessions_by_transport").get("tcp").asInt() >= 2, stats.toString());
        assertTrue(stats.get("users_online").asInt() >= 2, stats.toString());
        String store = stats.get("store").asText();
        assertEquals(0, stats.get("problems").size(), stats.toString());
        String stores = admin("GET", "/v1/stores", null).body();
        assertTrue(stores.contains("{\"kind\":\"message\",\"name\":\"" + store
                + "\",\"in_use\":true,\"health\":\"writable\""), store + " " + stores);
        assertTrue(stores.contains("\"in_use\":false"), "the other message stores are listed, not in use: " + stores);
        assertTrue(stores.contains("\"kind\":\"blob\",\"name\":\"fs\",\"in_use\":true"), stores);
        com.fasterxml.jackson.databind.JsonNode self = bundle("io.parley.admin");
        assertEquals("system", self.get("area").asText(), String.valueOf(self));
        assertEquals(false, self.get("removable").asBoolean());
        assertEquals("deploy", bundle("io.parley.type.text").get("area").asText());

        // install: ACTIVE when the call returns, the type usable at once
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, errorOf(gina.send("hank", "emoji", emoji("🚀"))));
        java.net.http.HttpResponse<String> installed = admin("PUT", "/v1/bundles/" + emoji, v1);
        assertEquals(200, installed.statusCode(), installed.body());
        assertTrue(installed.body().contains("\"state\":\"ACTIVE\""), installed.body());
        assertTrue(Files.isRegularFile(server.home.resolve("deploy/" + emoji + ".jar")));
        assertEquals(null, errorOf(gina.send("hank", "emoji", emoji("🚀"))), "usable when the PUT has answered");
        assertEquals("emoji", inbox.poll(10, TimeUnit.SECONDS).getType());
        long id = bundle(emoji).get("id").asLong();

        // update: the same file replaced in place, a FileInstall update of the same bundle
        java.net.http.HttpResponse<String> updated = admin("PUT", "/v1/bundles/" + emoji,
                rewritten(emojiJar, null, "0.1.1"));
        assertEquals(200, updated.statusCode(), updated.body());
        assertTrue(updated.body().contains("\"version\":\"0.1.1\"") && updated.body().contains("ACTIVE"),
                updated.body());
        com.fasterxml.jackson.databind.JsonNode after = bundle(emoji);
        assertEquals("0.1.1", after.get("version").asText());
        assertEquals(id, after.get("id").asLong(), "an update keeps the bundle");
        assertEquals(null, errorOf(gina.send("hank", "emoji", emoji("✨"))));

        // refusals: deploy/ untouched, clear codes
        java.net.http.HttpResponse<String> notJar = admin("PUT", "/v1/bundles/" + emoji,
                "this is not a zip".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(400, notJar.statusCode(), notJar.body());
        assertTrue(notJar.body().contains("INVALID_BUNDLE"), notJar.body());
        java.net.http.HttpResponse<String> mismatch = admin("PUT", "/v1/bundles/org.example.other", v1);
        assertEquals(400, mismatch.statusCode(), mismatch.body());
        assertTrue(mismatch.body().contains("NAME_MISMATCH"), mismatch.body());
        java.net.http.HttpResponse<String> system = admin("PUT", "/v1/bundles/io.parley.core",
                rewritten(emojiJar, "io.parley.core", "9.9.9"));
        assertEquals(403, system.statusCode(), system.body());
        assertTrue(system.body().contains("SYSTEM_BUNDLE"), system.body());
        java.net.http.HttpResponse<String> removeSystem = admin("DELETE", "/v1/bundles/io.parley.admin", null);
        assertEquals(403, removeSystem.statusCode(), removeSystem.body());
        assertEquals(404, admin("DELETE", "/v1/bundles/org.example.absent", null).statusCode());
        assertEquals(400, admin("DELETE", "/v1/bundles/..", null).statusCode());
        String tooLarge = rawPutHead("/v1/bundles/" + emoji, 65L * 1024 * 1024);
        assertTrue(tooLarge.startsWith("HTTP/1.1 413") && tooLarge.contains("max.bundle.bytes"), tooLarge);
        assertEquals("0.1.1", bundle(emoji).get("version").asText(), "the refusals changed nothing");
        try (java.util.stream.Stream<Path> staged = Files.list(server.home.resolve("data/tmp"))) {
            assertEquals(0, staged.count(), "no upload left in data/tmp");
        }

        // remove: uninstalled when the call returns; the type is refused
        java.net.http.HttpResponse<String> removed = admin("DELETE", "/v1/bundles/" + emoji, null);
        assertEquals(200, removed.statusCode(), removed.body());
        assertTrue(removed.body().contains("\"state\":\"REMOVED\""), removed.body());
        assertEquals(null, bundle(emoji));
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, errorOf(gina.send("hank", "emoji", emoji("🚀"))));

        // a bundle that cannot resolve: the answer says so and why, instead of a silent no-op
        String broken = "org.example.broken";
        java.net.http.HttpResponse<String> unresolved = admin("PUT", "/v1/bundles/" + broken, rewritten(emojiJar,
                broken, "1.0.0", java.util.Map.of("Import-Package", "org.example.missing;version=\"[1,2)\"")));
        assertEquals(422, unresolved.statusCode(), unresolved.body());
        assertTrue(unresolved.body().contains("BUNDLE_NOT_STARTED") && unresolved.body().contains("INSTALLED")
                && unresolved.body().contains("org.example.missing"), unresolved.body());
        assertEquals("INSTALLED", bundle(broken).get("state").asText());
        assertEquals(200, admin("DELETE", "/v1/bundles/" + broken, null).statusCode());
        assertEquals(null, bundle(broken));
        System.out.println("[admin] install, update, refusals and remove through the HTTP API in "
                + ServerProcess.since(t0).toMillis() + " ms");
    }

    /**
     * Found by a hot-swap soak: RocksJava was embedded in the store bundle, so every replacement loaded another copy
     * of its native library, whose flush and compaction threads could never stop. RocksJava is now the system/ bundle
     * io.parley.rocksdbjni, and a replaced store reuses it.
     */
    @Test
    @Order(6)
    void replacingTheRocksdbStoreReusesItsNativeLibraryAndThreadsAndKeepsTheHistory() throws Exception {
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient frank = client("frank", "f1", new LinkedBlockingQueue<>(), 50); // a send during a swap is retried
        client("grace", "g1", inbox, 0);
        long first = frank.sendText("grace", "before").get(15, TimeUnit.SECONDS).getSeq();
        long threads = rocksdbThreads();
        assertTrue(threads > 0, "RocksDB's background threads run");
        List<String> libraries = rocksdbLibraries();
        assertEquals(1, libraries.size(), () -> "one copy of the native library is mapped: " + libraries);
        assertTrue(libraries.get(0).startsWith(server.home.resolve("data/felix-cache").toRealPath() + "/"),
                () -> "extracted by the framework into its cache, not by RocksJava into /tmp: " + libraries);

        Path jar = server.home.resolve("deploy/parley-store-rocksdb.jar");
        String opened = "Message store opened: RocksDB";
        int opens = countOf(server.log(), opened);
        for (int i = 1; i <= 3; i++) {
            server.deploy(rebuiltWithVersion(jar, "0.1." + i + ".swap", work.resolve("rocksdb-v" + i + ".jar")),
                    "parley-store-rocksdb.jar");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (countOf(server.log(), opened) < opens + i) {
                assertTrue(System.nanoTime() < deadline, () -> "the replaced store did not open\n" + server.logTails());
                Thread.sleep(100);
            }
        }
        long after = frank.sendText("grace", "after").get(30, TimeUnit.SECONDS).getSeq();
        assertEquals(first + 1, after, "the history survived three replacements: the seq goes on");
        assertEquals("before", Bodies.textOf(inbox.poll(15, TimeUnit.SECONDS)));
        assertEquals("after", Bodies.textOf(inbox.poll(15, TimeUnit.SECONDS)));
        assertEquals(threads, rocksdbThreads(), "no RocksDB thread added by three replacements");
        assertEquals(libraries, rocksdbLibraries(), "still the same copy of the native library");
    }

    /** Threads of the server process whose name RocksDB gave them ({@code rocksdb:low}, {@code rocksdb:high}). */
    private static long rocksdbThreads() throws IOException {
        try (var tasks = Files.list(Path.of("/proc/" + server.pid() + "/task"))) {
            return tasks.filter(t -> {
                try {
                    return Files.readString(t.resolve("comm")).startsWith("rocksdb");
                } catch (IOException e) {
                    return false; // the thread ended meanwhile
                }
            }).count();
        }
    }

    /** The files of RocksDB's native library mapped into the server process, each once. */
    private static List<String> rocksdbLibraries() throws IOException {
        return Files.readAllLines(Path.of("/proc/" + server.pid() + "/maps")).stream()
                .filter(l -> l.contains("librocksdbjni"))
                .map(l -> l.substring(l.indexOf('/')))
                .distinct().toList();
    }

    /** Waits until the chat has printed {@code expected} (at any point so far: the lines are kept, not consumed). */
    private static void awaitLine(List<String> lines, String expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (lines.contains(expected)) {
                return;
            }
            Thread.sleep(50);
        }
        fail("the chat did not print \"" + expected + "\"; it printed " + lines);
    }

    private static int countOf(String haystack, String needle) {
        int n = 0;
        for (int at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
            n++;
        }
        return n;
    }

    /** The same bundle with another Bundle-Version: what a new build of the type looks like to the framework. */
    static Path rebuiltWithVersion(Path jar, String version, Path out) throws IOException {
        try (JarFile in = new JarFile(jar.toFile())) {
            Manifest mf = new Manifest(in.getManifest());
            mf.getMainAttributes().put(new Attributes.Name("Bundle-Version"), version);
            try (OutputStream os = Files.newOutputStream(out); JarOutputStream jos = new JarOutputStream(os, mf)) {
                for (Enumeration<JarEntry> e = in.entries(); e.hasMoreElements(); ) {
                    JarEntry entry = e.nextElement();
                    if (entry.getName().equals("META-INF/MANIFEST.MF")) {
                        continue;
                    }
                    jos.putNextEntry(new JarEntry(entry.getName()));
                    try (InputStream is = in.getInputStream(entry)) {
                        is.transferTo(jos);
                    }
                    jos.closeEntry();
                }
            }
        }
        return out;
    }
}
