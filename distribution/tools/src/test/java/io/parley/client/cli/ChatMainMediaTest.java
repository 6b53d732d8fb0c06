package io.parley.client.cli;

import io.parley.client.CoreServerAccess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * /voice, /video and /download of their clips against the SDK tests' server with the file, voice and video types and
 * the HTTP blob endpoints, with the voice and video types' real media fixtures.
 */
class ChatMainMediaTest {
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

    private Path fixture(String name) throws IOException {
        Path file = dir.resolve(name);
        try (InputStream in = getClass().getResourceAsStream("/media/" + name)) {
            assertNotNull(in, "no media fixture " + name);
            Files.copy(in, file);
        }
        return file;
    }

    @Test
    void voiceAndVideoGoShowTheirServerMeasuredDurationAndDownload() throws Exception {
        Path voice = fixture("voice-opus.ogg");
        Path video = fixture("video.webm");
        Path poster = fixture("poster.jpg");
        CliRun alice = run("alice", "/voice " + voice + " @bob\n/video " + video + " " + poster + "\n");
        assertEquals(0, alice.code(), alice.err());
        assertEquals(List.of("✓ #1", "✓ #2"), alice.out());
        assertEquals(List.of("voice", "video"), server.types("d:alice:bob"));

        Path downloads = Files.createDirectories(dir.resolve("downloads"));
        CliRun bob = run("bob", "/download 1 " + downloads + "\n/download 2 " + downloads + "\n");
        assertEquals(0, bob.code(), bob.err());
        assertEquals("[d:alice:bob #1] alice: 🎤 voice 0:03 — /download 1", bob.out().get(0));
        assertEquals("[d:alice:bob #2] alice: 🎬 video 0:02 160×120 — /download 2", bob.out().get(1));
        assertTrue(bob.out().get(2).startsWith("✓ saved #1 to " + downloads.resolve("voice-1.ogg")), bob.out().get(2));
        assertArrayEquals(Files.readAllBytes(voice), Files.readAllBytes(downloads.resolve("voice-1.ogg")));
        assertArrayEquals(Files.readAllBytes(video), Files.readAllBytes(downloads.resolve("video-2.webm")));
    }

    @Test
    void badMediaCommandsAreErrors() throws Exception {
        Path poster = fixture("poster.png");
        CliRun run = run("alice", "/voice\n/video " + poster + "\n/voice " + dir.resolve("missing.ogg") + " @bob\n"
                + "/voice " + poster + " @bob\n");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("error: usage: /voice PATH [@user | #group]"), run.err());
        assertTrue(run.err().contains("error: usage: /video PATH POSTER [@user | #group]"), run.err());
        assertTrue(run.err().contains("error: /voice: no such file: " + dir.resolve("missing.ogg")), run.err());
        assertTrue(run.err().contains("error: /voice: no voice content type for"), run.err());
    }
}
