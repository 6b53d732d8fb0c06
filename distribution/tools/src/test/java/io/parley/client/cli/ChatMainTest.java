package io.parley.client.cli;

import io.parley.client.CoreServerAccess;
import io.parley.core.proto.MarkRead;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatMainTest {
    private CoreServerAccess server;

    @BeforeEach
    void start() throws Exception {
        server = new CoreServerAccess();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
    }

    private int run(String input, ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        return ChatMain.run(args, new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                Map.of("PARLEY_TOKEN", "alice"));
    }

    @Test
    void printsMissedMessagesSendsLinesAndExitsAfterAcksOnEof() {
        server.append("d:alice:bob", "bob", "hey alice");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("@bob hello there\nsecond line\n\n", out, err,
                "--port", String.valueOf(server.port()), "--device", "cli");
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals("[d:alice:bob #1] bob: hey alice", lines.get(0));
        assertTrue(lines.containsAll(List.of("✓ #2", "✓ #3")), lines.toString());
        assertEquals(List.of("hello there", "second line"), server.texts("d:alice:bob").subList(1, 3));
    }

    @Test
    void quitStopsReading() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("@bob one\n/quit\n@bob two\n", out, err, "--port", String.valueOf(server.port()),
                "--device", "cli");
        assertEquals(0, code);
        assertEquals(List.of("one"), server.texts("d:alice:bob"));
    }

    @Test
    void lineWithoutPeerIsAnError() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("nobody to talk to\n", out, err, "--port", String.valueOf(server.port()), "--device", "cli");
        assertEquals(1, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no peer"));
    }

    @Test
    void trustOptionSpeaksTlsTrustingThatCertificate(@TempDir Path dir) throws Exception {
        TestCertificates.Generated cert = TestCertificates.localhost(dir);
        try (CoreServerAccess tls = new CoreServerAccess(TlsSettings.of(cert.certPem(), cert.keyPem()))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = run("@bob over tls\n", out, err, "--port", String.valueOf(tls.port()), "--device", "cli",
                    "--tls", "--trust", cert.certPem().toString());
            assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
            assertEquals(List.of("over tls"), tls.texts("d:alice:bob"));

            ByteArrayOutputStream untrustedErr = new ByteArrayOutputStream();
            assertEquals(3, run("", new ByteArrayOutputStream(), untrustedErr, "--port",
                    String.valueOf(tls.port()), "--device", "cli", "--tls"));
            assertTrue(untrustedErr.toString(StandardCharsets.UTF_8).contains("TLS with 127.0.0.1"),
                    untrustedErr.toString(StandardCharsets.UTF_8));
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run("", new ByteArrayOutputStream(), err, "--port", "12345", "--device", "cli",
                "--trust", dir.resolve("missing.pem").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("missing.pem"));
    }

    @Test
    void urlOptionSpeaksWebSocketAndOverridesThePort() throws Exception {
        try (CoreServerAccess ws = CoreServerAccess.webSocket()) {
            ws.append("d:alice:bob", "bob", "hey over ws");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            // bin/parley adds --port (the TCP port) when none is given: --url wins
            int code = run("@bob hello ws\n", out, err, "--url", ws.webSocketUrl(), "--port", "1",
                    "--device", "cli");
            assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
            List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
            assertEquals("[d:alice:bob #1] bob: hey over ws", lines.get(0));
            assertTrue(lines.contains("✓ #2"), lines.toString());
            assertEquals(List.of("hey over ws", "hello ws"), ws.texts("d:alice:bob"));
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run("", new ByteArrayOutputStream(), err, "--url", "http://127.0.0.1:1/", "--device", "cli"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unsupported URL"));
        ByteArrayOutputStream tlsErr = new ByteArrayOutputStream();
        assertEquals(2, run("", new ByteArrayOutputStream(), tlsErr, "--url", "ws://127.0.0.1:1/parley", "--tls",
                "--device", "cli"));
        assertTrue(tlsErr.toString(StandardCharsets.UTF_8).contains("wss://"));
    }

    @Test
    void missingArgumentsGiveUsage() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, run("", out, err, "--port", "12345"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage"));
    }

    @Test
    void createsAGroupAndSendsToIt() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        // the server picks the group's id: the lines after the create are typed once it was printed
        PipedOutputStream typing = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(typing);
        FutureTask<Integer> chat = new FutureTask<>(() -> ChatMain.run(
                new String[] {"--port", String.valueOf(server.port()), "--device", "cli"}, in,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                Map.of("PARLEY_TOKEN", "alice")));
        Thread chatThread = new Thread(chat, "chat-main");
        chatThread.start();
        typing.write("/group create team bob carol\n".getBytes(StandardCharsets.UTF_8));
        typing.flush();
        String created = awaitLine(out, "✓ group ");
        String id = created.substring("✓ group ".length(), created.indexOf(' ', "✓ group ".length()));
        typing.write(("#" + id + " hello team\nand more\n").getBytes(StandardCharsets.UTF_8));
        typing.close();
        int code = chat.get(30, TimeUnit.SECONDS);
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals("✓ group " + id + " \"team\": alice, bob, carol", created);
        // the server's KIND_CREATED event lists every initial member, the creator included
        assertTrue(lines.contains("[g:" + id + " #1] * alice created \"team\" with alice, bob, carol"),
                lines.toString());
        assertTrue(lines.containsAll(List.of("✓ #2", "✓ #3")), lines.toString());
        assertEquals(List.of("alice", "bob", "carol"), server.groupMembers(id));
        assertEquals(List.of("hello team", "and more"), server.texts("g:" + id));
    }

    /** Waits up to 10 s for a line of {@code out} starting with {@code prefix}; returns it. */
    private static String awaitLine(ByteArrayOutputStream out, String prefix) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            for (String line : out.toString(StandardCharsets.UTF_8).lines().toList()) {
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no line starting with " + prefix + " in " + out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void listPrintsConversationsWithUnreadCounts() throws Exception {
        server.append("d:alice:bob", "bob", "one");
        server.append("d:alice:bob", "bob", "two");
        Thread.sleep(5);   // the list is ordered by the latest message's server time, in milliseconds
        server.append("d:alice:carol", "carol", "hi");
        server.setReadCursor("alice", "d:alice:bob", 1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("/list\n", out, err, "--port", String.valueOf(server.port()), "--device", "cli");
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        int at = lines.indexOf("d:alice:carol \"carol\" unread 1 | carol: hi");
        assertTrue(at >= 0, lines.toString());
        assertEquals("d:alice:bob \"bob\" unread 1 | bob: two", lines.get(at + 1));
    }

    @Test
    void readMarksEverythingReceivedAsRead() throws Exception {
        server.append("d:alice:bob", "bob", "one");
        server.append("d:alice:bob", "bob", "two");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("/read\n", out, err, "--port", String.valueOf(server.port()), "--device", "cli");
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        MarkRead mark = server.awaitMarkRead(Duration.ofSeconds(5));
        assertEquals("d:alice:bob", mark.getConversation());
        assertEquals(2, mark.getSeq());
    }

    @Test
    void unknownCommandAndFailedGroupCommandAreErrors() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("/frobnicate\n/group create\n/group create team not/a/user\n", out, err, "--port", String.valueOf(server.port()),
                "--device", "cli");
        assertEquals(1, code);
        String errors = err.toString(StandardCharsets.UTF_8);
        assertTrue(errors.contains("unknown command /frobnicate"), errors);
        assertTrue(errors.contains("usage: /group create"), errors);
        assertTrue(errors.contains("/group failed") && errors.contains("ERROR_CODE_INVALID_REQUEST"), errors);
    }
}
