package io.parley.client.cli;

import io.parley.client.CoreServerAccess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /file, /image and /download against the SDK tests' server with the file type and the HTTP blob endpoints. */
class ChatMainFileTest {
    @TempDir
    Path dir;
    private CoreServerAccess server;

    @BeforeEach
    void start() throws Exception {
        server = CoreServerAccess.withFiles(dir.resolve("server"));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private CliRun run(String user, String input) {
        return CliRun.of(server.port(), user, input);
    }

    @Test
    void aFileAndAnImageGoWithProgressShowAsAttachmentsAndDownloadUnderAFreeName() throws Exception {
        byte[] bytes = new byte[300 * 1024];
        new Random(7).nextBytes(bytes);
        Path report = Files.write(dir.resolve("report.pdf"), bytes);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(640, 480, BufferedImage.TYPE_INT_RGB), "png", png);
        Path view = Files.write(dir.resolve("view.png"), png.toByteArray());

        CliRun alice = run("alice", "/file " + report + " @bob\n/image " + view + "\n");
        assertEquals(0, alice.code(), alice.err());
        assertEquals(List.of("✓ #1", "✓ #2"), alice.out());
        assertTrue(alice.err().contains("* uploading report.pdf: 0% (0 B of 300 KB)"), alice.err());
        assertTrue(alice.err().contains("* uploading report.pdf: 40% (128 KB of 300 KB)"), alice.err());
        assertTrue(alice.err().contains("* uploading report.pdf: 100% (300 KB of 300 KB)"), alice.err());
        assertEquals(List.of("file", "image"), server.types("d:alice:bob"));

        Path downloads = Files.createDirectories(dir.resolve("downloads"));
        Files.writeString(downloads.resolve("report.pdf"), "already here");
        CliRun bob = run("bob", "/download 1 " + downloads + "\n/download 2 " + downloads + "\n");
        assertEquals(0, bob.code(), bob.err());
        assertEquals("[d:alice:bob #1] alice: 📎 report.pdf (300 KB) — /download 1", bob.out().get(0));
        assertEquals("[d:alice:bob #2] alice: 🖼 view.png (640×480, " + ChatMain.size(png.size())
                + ") — /download 2", bob.out().get(1));
        assertEquals("✓ saved #1 to " + downloads.resolve("report (1).pdf") + " (300 KB)", bob.out().get(2));
        assertEquals("✓ saved #2 to " + downloads.resolve("view.png") + " (" + ChatMain.size(png.size()) + ")",
                bob.out().get(3));
        assertArrayEquals(bytes, Files.readAllBytes(downloads.resolve("report (1).pdf")));
        assertArrayEquals(png.toByteArray(), Files.readAllBytes(downloads.resolve("view.png")));
        assertEquals("already here", Files.readString(downloads.resolve("report.pdf")));
        assertTrue(bob.err().contains("* downloading report.pdf: 100% (300 KB of 300 KB)"), bob.err());
    }

    @Test
    void aRecalledFileShowsAsRecalledAndIsNotDownloaded() throws Exception {
        Path notes = Files.writeString(dir.resolve("notes.txt"), "secret plans");
        CliRun alice = run("alice", "/file " + notes + " bob\n/recall 1\n");
        assertEquals(0, alice.code(), alice.err());
        assertEquals("✓ #1", alice.out().get(0));
        // the recall event reaches the recalling device too, before or after the command's answer
        assertTrue(alice.out().containsAll(List.of("✓ recalled #1", "[d:alice:bob #2] * alice recalled #1")),
                alice.out().toString());

        CliRun bob = run("bob", "/download d:alice:bob 1 " + dir + "\n");
        assertEquals(1, bob.code());
        assertEquals("[d:alice:bob #1] alice: message recalled", bob.out().get(0));
        assertEquals("[d:alice:bob #2] * alice recalled #1", bob.out().get(1));
        assertTrue(bob.err().contains("/download failed") && bob.err().contains("ERROR_CODE_NOT_FOUND")
                && bob.err().contains("message 1 was recalled"), bob.err());
        try (var files = Files.list(dir)) {
            assertEquals(List.of("notes.txt", "server"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void badFileCommandsAreErrors() {
        CliRun run = run("alice", "/file\n/file " + dir.resolve("missing.bin") + " @bob\n/image " + dir
                + "/nothing.png\n/download 5\n/download x\n");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("error: usage: /file PATH [@user | #group]"), run.err());
        assertTrue(run.err().contains("error: /file: no such file: " + dir.resolve("missing.bin")), run.err());
        assertTrue(run.err().contains("error: usage: /image PATH [@user | #group] (no current @user or #group yet)")
                || run.err().contains("no such file"), run.err());
        assertTrue(run.err().contains("error: usage: /download SEQ [DIR]"), run.err());
        assertFalse(run.err().contains("Exception in"), run.err());
    }

    @Test
    void downloadNamesAreSanitizedAndNeverOverwrite() throws Exception {
        assertEquals(dir.resolve(".._.._etc_passwd"), ChatMain.freeName(dir, "../../etc/passwd"));
        assertEquals(dir.resolve("a_b_c.txt"), ChatMain.freeName(dir, "a\\b\u0007c.txt"));
        assertEquals(dir.resolve("download"), ChatMain.freeName(dir, ".."));
        Files.writeString(dir.resolve("x.tar.gz"), "");
        Files.writeString(dir.resolve("x.tar (1).gz"), "");
        assertEquals(dir.resolve("x.tar (2).gz"), ChatMain.freeName(dir, "x.tar.gz"));
        Files.writeString(dir.resolve("README"), "");
        assertEquals(dir.resolve("README (1)"), ChatMain.freeName(dir, "README"));
        assertEquals("512 B", ChatMain.size(512));
        assertEquals("1.2 MB", ChatMain.size(1_300_000));
        assertEquals("12.5 KB", ChatMain.size(12_800));
    }
}
