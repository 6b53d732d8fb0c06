package io.parley.client.cli;

import io.parley.client.CoreServerAccess;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a newcomer meets first in the chat client: /help, replying, groups by name, and why a connection fails. */
class ChatMainNewcomerTest {
    private CoreServerAccess server;

    @BeforeEach
    void start() throws Exception {
        server = new CoreServerAccess();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static int run(String input, ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        return ChatMain.run(args, new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                Map.of("PARLEY_TOKEN", "alice"));
    }

    @Test
    void helpListsTheCommands() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, run("/help\n", out, err, "--port", String.valueOf(server.port()), "--device", "cli"),
                err.toString(StandardCharsets.UTF_8));
        String help = out.toString(StandardCharsets.UTF_8);
        for (String command : List.of("/group create", "/list", "/read", "/recall", "/file", "/download", "/reply",
                "/emoji", "/help", "/quit")) {
            assertTrue(help.contains(command), command + " missing from:\n" + help);
        }
    }

    @Test
    void aLineBeforeAnyTargetAndReplyGoToWhoWroteLast() {
        server.append("d:alice:bob", "bob", "hi alice");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run("hi bob\n/reply how are you?\n", out, err, "--port", String.valueOf(server.port()),
                "--device", "cli");
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        assertEquals(List.of("hi alice", "hi bob", "how are you?"), server.texts("d:alice:bob"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("* to @bob (who wrote last)"),
                err.toString(StandardCharsets.UTF_8));

        ByteArrayOutputStream nobodyErr = new ByteArrayOutputStream();
        try (CoreServerAccess empty = new CoreServerAccess()) {
            assertEquals(1, run("/reply hello?\n", new ByteArrayOutputStream(), nobodyErr, "--port",
                    String.valueOf(empty.port()), "--device", "cli"));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertTrue(nobodyErr.toString(StandardCharsets.UTF_8).contains("nobody has written to you yet"),
                nobodyErr.toString(StandardCharsets.UTF_8));
    }

    @Test
    void groupsAreNamedByNameAsWellAsById() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PipedOutputStream typing = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(typing);
        FutureTask<Integer> chat = new FutureTask<>(() -> ChatMain.run(
                new String[] {"--port", String.valueOf(server.port()), "--device", "cli"}, in,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                Map.of("PARLEY_TOKEN", "alice")));
        new Thread(chat, "chat-main").start();
        typing.write("/group create Team bob\n/group create other carol\n".getBytes(StandardCharsets.UTF_8));
        typing.flush();
        String created = awaitLine(out, "✓ group ", "\"Team\"");
        String id = created.substring("✓ group ".length(), created.indexOf(' ', "✓ group ".length()));
        awaitLine(out, "✓ group ", "\"other\"");
        typing.write("#team hello by name\nand more\n#nosuch hi\n".getBytes(StandardCharsets.UTF_8));
        typing.close();
        int code = chat.get(30, TimeUnit.SECONDS);
        assertEquals(1, code, "the unknown group fails: " + err.toString(StandardCharsets.UTF_8));
        assertEquals(List.of("hello by name", "and more"), server.texts("g:" + id));
    }

    @Test
    void nothingListeningSaysSoInsteadOfConnectionRefused() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(3, run("", new ByteArrayOutputStream(), err, "--port", String.valueOf(closed), "--device", "cli"));
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("nothing listens at 127.0.0.1:" + closed + ": is the server running"), text);
    }

    @Test
    void aPlaintextClientAtATlsOnlyTransportIsToldToUseTls(@TempDir Path dir) throws Exception {
        TestCertificates.Generated cert = TestCertificates.localhost(dir);
        try (CoreServerAccess tls = new CoreServerAccess(TlsSettings.of(cert.certPem(), cert.keyPem()))) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            long t0 = System.nanoTime();
            assertEquals(3, run("", new ByteArrayOutputStream(), err, "--port", String.valueOf(tls.port()),
                    "--device", "cli"));
            String text = err.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("127.0.0.1:" + tls.port() + " only accepts TLS: connect with --tls"), text);
            assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) < 20, "told promptly, not after retries");
        }
    }

    /** Waits up to 10 s for a line of {@code out} starting with {@code prefix} and containing {@code part}. */
    private static String awaitLine(ByteArrayOutputStream out, String prefix, String part) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            for (String line : out.toString(StandardCharsets.UTF_8).lines().toList()) {
                if (line.startsWith(prefix) && line.contains(part)) {
                    return line;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no line " + prefix + "..." + part + " in " + out.toString(StandardCharsets.UTF_8));
    }
}
