package io.parley.client.cli;

import io.parley.client.FakeServerAccess;
import io.parley.core.proto.MarkRead;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import io.parley.transport.support.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatMainTest {
    private FakeServerAccess server;

    @BeforeEach
    void start() throws Exception {
        server = new FakeServerAccess();
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
        try (FakeServerAccess tls = new FakeServerAccess(cert.serverContext())) {
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
        try (FakeServerAccess ws = FakeServerAccess.webSocket()) {
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
    void createsAGroupAndSendsToIt() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("/group create team bob carol\n#grp1 hello team\nand more\n", out, err,
                "--port", String.valueOf(server.port()), "--device", "cli");
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertTrue(lines.contains("✓ group grp1 \"team\": alice, bob, carol"), lines.toString());
        assertTrue(lines.contains("[g:grp1 #1] * alice created \"team\" with bob, carol"), lines.toString());
        assertTrue(lines.containsAll(List.of("✓ #2", "✓ #3")), lines.toString());
        assertEquals(List.of("alice", "bob", "carol"), server.groupMembers("grp1"));
        assertEquals(List.of("hello team", "and more"), server.texts("g:grp1"));
    }

    @Test
    void listPrintsConversationsWithUnreadCounts() {
        server.append("d:alice:bob", "bob", "one");
        server.append("d:alice:bob", "bob", "two");
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
