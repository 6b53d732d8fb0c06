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
