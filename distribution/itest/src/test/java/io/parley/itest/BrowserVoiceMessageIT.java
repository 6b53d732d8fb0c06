package io.parley.itest;

import com.google.protobuf.Any;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Voice and video messages recorded in the web client (docs/web-client.md) in real headless Chromium, from Chromium's
 * fake microphone and camera, against the assembled server with the voice and video bundles (deploy/): one user
 * records and sends, the other sees the duration the server read from the container (and the waveform, or the
 * poster) and plays the clip fetched with file.download — the audio element's time advances and it ends.
 * Screenshots go to {@code target/screenshots/}.
 */
class BrowserVoiceMessageIT {

    @TempDir
    static Path work;
    static ServerProcess server;
    static String webUrl;

    @BeforeAll
    static void start() throws Exception {
        MediaBrowser.requireChromium();
        server = MediaServer.prepare(work);
        webUrl = MediaServer.webUrl(server);
        server.start();
        MediaServer.awaitMessageType(server, "voice");
        MediaServer.awaitMessageType(server, "video");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aVoiceMessageRecordedInTheBrowserIsPlayedBackByTheOtherUser() throws Exception {
        try (MediaBrowser alice = new MediaBrowser("voice-alice", webUrl);
             MediaBrowser bob = new MediaBrowser("voice-bob", webUrl)) {
            alice.signIn(server.tokens().mint("valice", null, Duration.ofMinutes(30)));
            bob.signIn(server.tokens().mint("vbob", null, Duration.ofMinutes(30)));
            alice.startChat("vbob");

            // record about three seconds from the fake microphone (a beep every second) and send
            alice.click("#record-voice");
            alice.await(d -> "recording".equals(d.findElement(org.openqa.selenium.By.id("recorder"))
                    .getAttribute("data-state")) ? true : null);
            Thread.sleep(3000);
            alice.screenshot("voice-1-alice-recording");
            alice.click("#recorder-send");
            long seq = alice.awaitOwnSent("voice");
            alice.screenshot("voice-2-alice-sent");

            // what the server stored: its own duration (read from the WebM container), the page's waveform
            Message stored = MediaServer.latest(server, "vbob", "d:valice:vbob", "voice");
            assertEquals(seq, stored.getSeq());
            Any body = stored.getBody();
            assertEquals("type.googleapis.com/parley.voice.v1.Voice", body.getTypeUrl());
            assertEquals("audio/webm", new String(MediaServer.bytes(body, 3)), "content type without parameters");
            long durationMs = MediaServer.varint(body, 5);
            assertTrue(durationMs >= 2000 && durationMs <= 8000, "a recording of about 3 s: " + durationMs + " ms");
            byte[] waveform = MediaServer.bytes(body, 6);
            assertTrue(waveform.length >= 1 && waveform.length <= 100, "waveform of " + waveform.length + " bytes");
            int loudest = 0;
            for (byte b : waveform) {
                loudest = Math.max(loudest, b & 0xFF);
            }
            assertTrue(loudest > 0, "the fake microphone's beeps show in the waveform");

            // bob sees the voice message with the server's duration and plays it
            bob.open("d:valice:vbob");
            String item = "#messages li[data-type='voice'][data-seq='" + seq + "']";
            assertEquals(MediaServer.formatDuration(durationMs), bob.textIn(item + " .voice-duration"));
            assertEquals(Long.toString(durationMs), bob.attribute(item + " .voice-duration", "data-duration-ms"));
            bob.awaitNumber("const c = document.querySelector(arguments[0]); return c && c.width > 0 ? c.width : null;",
                    item + " canvas.waveform");
            bob.screenshot("voice-3-bob-received");
            bob.click(item + " button.voice-play");
            double first = bob.awaitNumber("const a = document.querySelector(arguments[0]);"
                    + " return a && a.currentTime > 0.3 ? a.currentTime : null;", item + " audio");
            assertEquals("playing", bob.attribute(item + " .voice", "data-state"));
            bob.screenshot("voice-4-bob-playing");
            double later = bob.awaitNumber("const a = document.querySelector(arguments[0]);"
                    + " return a && a.currentTime > arguments[1] ? a.currentTime : null;", item + " audio", first);
            assertTrue(later > first, "the clip's time advances: " + first + " → " + later);
            bob.await(MediaBrowser.WAIT, d -> Boolean.TRUE.equals(bob.script(
                    "return document.querySelector(arguments[0]).ended;", item + " audio")) ? true : null);
            assertEquals("ended", bob.attribute(item + " .voice", "data-state"));
            String src = bob.attribute(item + " audio", "src");
            assertTrue(src.startsWith("http://127.0.0.1:" + server.httpPort + "/blobs/"), "fetched through file.download: " + src);
            bob.screenshot("voice-5-bob-played");
        }
    }

    @Test
    void aVideoMessageRecordedInTheBrowserShowsItsPosterAndPlays() throws Exception {
        try (MediaBrowser alice = new MediaBrowser("video-alice", webUrl);
             MediaBrowser bob = new MediaBrowser("video-bob", webUrl)) {
            alice.signIn(server.tokens().mint("malice", null, Duration.ofMinutes(30)));
            bob.signIn(server.tokens().mint("mbob", null, Duration.ofMinutes(30)));
            alice.startChat("mbob");

            alice.click("#record-video");
            alice.await(d -> "recording".equals(d.findElement(org.openqa.selenium.By.id("recorder"))
                    .getAttribute("data-state")) ? true : null);
            alice.awaitNumber("const v = document.getElementById('recorder-preview');"
                    + " return v.videoWidth > 0 ? v.videoWidth : null;");
            Thread.sleep(2500);
            alice.screenshot("video-1-alice-recording");
            alice.click("#recorder-send");
            long seq = alice.awaitOwnSent("video");

            Message stored = MediaServer.latest(server, "mbob", "d:malice:mbob", "video");
            Any body = stored.getBody();
            assertEquals("video/webm", new String(MediaServer.bytes(body, 3)));
            long durationMs = MediaServer.varint(body, 5);
            assertTrue(durationMs >= 1500 && durationMs <= 8000, "a recording of about 2.5 s: " + durationMs + " ms");
            long width = MediaServer.varint(body, 6);
            long height = MediaServer.varint(body, 7);
            assertTrue(width > 0 && height > 0, "the server read the frame size: " + width + "×" + height);
            assertEquals("image/jpeg", new String(MediaServer.bytes(body, 11)), "the poster is a JPEG frame");

            bob.open("d:malice:mbob");
            String item = "#messages li[data-type='video'][data-seq='" + seq + "']";
            assertEquals("▶ " + MediaServer.formatDuration(durationMs), bob.textIn(item + " .video-duration"));
            double posterWidth = bob.awaitNumber("const i = document.querySelector(arguments[0]);"
                    + " return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : null;", item + " img.poster");
            assertTrue(posterWidth > 0);
            bob.screenshot("video-2-bob-poster");
            bob.click(item + " button.video-open");
            double first = bob.awaitNumber("const v = document.querySelector(arguments[0]);"
                    + " return v && v.currentTime > 0.2 && v.videoWidth > 0 ? v.currentTime : null;",
                    item + " video.video-player");
            double later = bob.awaitNumber("const v = document.querySelector(arguments[0]);"
                    + " return v.currentTime > arguments[1] ? v.currentTime : null;", item + " video.video-player", first);
            assertTrue(later > first);
            bob.screenshot("video-3-bob-playing");
        }
    }
}
