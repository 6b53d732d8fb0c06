package io.parley.itest;

import io.parley.client.Attachments;
import io.parley.client.MediaMessages;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Voice and video messages (protocol.md §6h) on the assembled server with its shipped deploy/ (file, voice and video
 * type bundles) and the Java SDK: real uploads over HTTP to /blobs/, real clips (Chromium's MediaRecorder output: WebM
 * without Duration, fragmented MP4) and posters; the recipient gets the server-measured
 * duration and frame sizes and downloads clip and poster with file.download; and the refusals the issue names: over
 * max.bytes, over max.duration.seconds (changed at run time in conf/), a wrong content type, a poster that is not an
 * image, another user's object, a download by a non-member.
 */
class MediaFlowIT {
    static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final List<ParleyClient> clients = new ArrayList<>();

    @Test
    void voiceAndVideoMessagesFromUploadToDownload() throws Exception {
        try (ServerProcess server = new ServerProcess(dir)) {
            ServerProcess.setKey(server.home.resolve("conf/parley.type.voice.cfg"), "max.bytes", "20000");
            server.start();
            BlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
            ParleyClient alice = client(server, "alice", null);
            ParleyClient bob = client(server, "bob", bobInbox);
            ParleyClient carol = client(server, "carol", null);
            try {
                flow(server, alice, bob, carol, bobInbox);
            } finally {
                clients.forEach(ParleyClient::close);
            }
        }
    }

    /**
     * The voice and video bundles come and go at run time like the file types (FileFlowIT): removed from deploy/,
     * their types are refused as unsupported; back, they serve again, and a clip uploaded before the removal is sent.
     */
    @Test
    void theVoiceAndVideoBundlesComeAndGoAtRuntime() throws Exception {
        try (ServerProcess server = new ServerProcess(dir)) {
            server.start();
            Path saved = Files.createDirectories(dir.resolve("saved"));
            for (String jar : List.of("parley-type-voice.jar", "parley-type-video.jar")) {
                Files.copy(server.home.resolve("deploy").resolve(jar), saved.resolve(jar));
            }
            ParleyClient alice = client(server, "alice", null);
            try {
                Path clip = fixture("voice-opus.ogg");
                Attachments.Upload upload = alice.upload(alice.requestUpload("note.ogg", Files.size(clip), "audio/ogg")
                        .get(30, TimeUnit.SECONDS), clip, null).get(30, TimeUnit.SECONDS);
                Send voice = Send.newBuilder().setPeer("bob").setType(MediaMessages.VOICE_TYPE)
                        .setBody(MediaMessages.voiceBody(upload, new byte[] {9})).build();

                server.undeploy("parley-type-voice.jar");
                server.undeploy("parley-type-video.jar");
                // probed with bodies that claim nothing while the types still run (INVALID_BODY), so the upload stays
                Attachments.Upload none = new Attachments.Upload(upload.key() + "x", "none", 1, "audio/ogg",
                        upload.sha256());
                eventuallyRefused(() -> alice.send(voice.toBuilder().setClientMsgId(alice.newClientMsgId())
                        .setBody(MediaMessages.voiceBody(none, new byte[] {9})).build()),
                        ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE);
                eventuallyRefused(() -> alice.send(Send.newBuilder().setPeer("bob").setType(MediaMessages.VIDEO_TYPE)
                        .setBody(MediaMessages.videoBody(none, none)).build()), ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE);

                server.deploy(saved.resolve("parley-type-voice.jar"), "parley-type-voice.jar");
                server.deploy(saved.resolve("parley-type-video.jar"), "parley-type-video.jar");
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (true) {
                    try {
                        SendAck ack = alice.send(voice.toBuilder().setClientMsgId("after-redeploy").build())
                                .get(30, TimeUnit.SECONDS);
                        assertTrue(ack.getSeq() > 0);
                        break;
                    } catch (ExecutionException e) {
                        assertTrue(System.nanoTime() < deadline, "the voice type did not come back: " + e.getCause());
                        Thread.sleep(250);
                    }
                }
                assertTrue(alice.sendVideo("bob", fixture("video.webm"), fixture("poster.png"), null, null)
                        .get(30, TimeUnit.SECONDS).getSeq() > 0);
            } finally {
                clients.forEach(ParleyClient::close);
            }
        }
    }

    interface Call {
        CompletableFuture<?> call() throws Exception;
    }

    static void eventuallyRefused(Call call, ErrorCode code) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                call.call().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ParleyClientException p && p.code() == code) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "never refused with " + code);
            Thread.sleep(250);
        }
    }

    private void flow(ServerProcess server, ParleyClient alice, ParleyClient bob, ParleyClient carol,
                      BlockingQueue<Message> bobInbox) throws Exception {
        // a voice message recorded by Chromium's MediaRecorder (WebM without Duration): the server measures it
        Path voiceClip = fixture("chromium-voice.webm");
        byte[] wave = {10, 80, (byte) 250, 30};
        SendAck voiceAck = alice.sendVoice("bob", voiceClip, null, wave, null).get(30, TimeUnit.SECONDS);
        Message received = next(bobInbox, voiceAck.getSeq());
        MediaMessages.Voice voice = assertInstanceOf(MediaMessages.Voice.class,
                MediaMessages.of(received).orElseThrow());
        assertTrue(Math.abs(voice.durationMs() - 2450) <= 150, "duration " + voice.durationMs());
        assertEquals(List.of(10, 80, 250, 30), voice.waveform());
        assertEquals("audio/webm", voice.contentType());
        Path savedVoice = bob.download(voice.clip(), dir.resolve("got-voice.webm"), null).get(30, TimeUnit.SECONDS);
        assertArrayEquals(Files.readAllBytes(voiceClip), Files.readAllBytes(savedVoice));

        // a video with its poster (Chromium's MediaRecorder video/mp4: fragmented MP4): clip and poster downloaded
        Path videoClip = fixture("chromium-video.mp4");
        Path poster = fixture("poster.jpg");
        SendAck videoAck = alice.sendVideo("bob", videoClip, poster, null, null).get(30, TimeUnit.SECONDS);
        MediaMessages.Video video = assertInstanceOf(MediaMessages.Video.class,
                MediaMessages.of(next(bobInbox, videoAck.getSeq())).orElseThrow());
        assertTrue(Math.abs(video.durationMs() - 2450) <= 150, "duration " + video.durationMs());
        assertEquals(320, video.width());
        assertEquals(240, video.height());
        assertEquals(160, video.posterWidth());
        assertEquals(120, video.posterHeight());
        Attachments.DownloadTicket urls = bob.downloadTicket("d:alice:bob", videoAck.getSeq()).get(30, TimeUnit.SECONDS);
        assertNotNull(urls.thumbnailUrl(), "the poster is the download's thumbnail_url");
        HttpResponse<byte[]> posterBytes = http.send(HttpRequest.newBuilder(urls.thumbnailUrl()).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, posterBytes.statusCode());
        assertArrayEquals(Files.readAllBytes(poster), posterBytes.body());
        assertEquals("image/jpeg", posterBytes.headers().firstValue("Content-Type").orElse(""));
        Path savedVideo = bob.download(video.clip(), dir.resolve("got-video.mp4"), null).get(30, TimeUnit.SECONDS);
        assertArrayEquals(Files.readAllBytes(videoClip), Files.readAllBytes(savedVideo));

        // a non-member gets no download
        assertRefused(carol.downloadTicket("d:alice:bob", videoAck.getSeq()), ErrorCode.ERROR_CODE_NOT_FOUND, "");

        // over max.bytes (20000 in conf/parley.type.voice.cfg): the upload is taken, the message refused
        Path big = dir.resolve("big.webm");
        byte[] noise = new byte[30_000];
        new Random(1).nextBytes(noise);
        Files.write(big, noise);
        assertRefused(alice.sendVoice("bob", big, null, wave, null), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "this server takes at most 20000 (max.bytes)");
        // a content type voice messages do not take
        assertRefused(alice.sendVoice("bob", fixture("voice-opus.ogg"), "audio/mpeg", wave, null),
                ErrorCode.ERROR_CODE_INVALID_BODY, "content_type must be one of audio/mp4, audio/ogg, audio/webm");
        // a poster that is not an image (an Ogg file named .png)
        Path fakePoster = dir.resolve("fake.png");
        Files.copy(fixture("voice-opus.ogg"), fakePoster);
        assertRefused(alice.sendVideo("bob", fixture("video-live.webm"), fakePoster, null, null),
                ErrorCode.ERROR_CODE_INVALID_BODY, "poster: the object is not an image");
        // bob names alice's clip as his own
        Attachments.Upload alices = new Attachments.Upload(voice.key(), "x.webm", voice.size(), voice.contentType(),
                voice.sha256());
        assertRefused(bob.send(Send.newBuilder().setPeer("alice").setType(MediaMessages.VOICE_TYPE)
                        .setBody(MediaMessages.voiceBody(alices, wave)).build()), ErrorCode.ERROR_CODE_INVALID_BODY,
                "key must be the key of an upload ticket issued to the sender");

        // over max.duration.seconds, changed while the server runs (conf/ is watched)
        ServerProcess.setKey(server.home.resolve("conf/parley.type.video.cfg"), "max.duration.seconds", "1");
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                alice.sendVideo("bob", fixture("video-live.webm"), poster, null, null).get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                ParleyClientException refused = assertInstanceOf(ParleyClientException.class, e.getCause());
                assertEquals(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, refused.code(), refused.toString());
                assertTrue(refused.getMessage().contains("this server takes at most 1 s (max.duration.seconds)"),
                        refused.getMessage());
                break;
            }
            assertTrue(System.nanoTime() < deadline, "max.duration.seconds = 1 never applied");
            Thread.sleep(250);
        }
    }

    ParleyClient client(ServerProcess server, String user, BlockingQueue<Message> inbox) throws Exception {
        ParleyClient.Builder b = server.clientBuilder(user, "phone", server.port);
        if (inbox != null) {
            b.messageListener(inbox::add);
        }
        ParleyClient c = b.build();
        clients.add(c);
        c.connect().get(30, TimeUnit.SECONDS);
        return c;
    }

    static Message next(BlockingQueue<Message> inbox, long seq) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            Message m = inbox.poll(1, TimeUnit.SECONDS);
            if (m != null && m.getSeq() == seq) {
                return m;
            }
        }
        throw new AssertionError("message " + seq + " never arrived");
    }

    /** @return the media fixture {@code name} (from the support module's test jar) as a file in the test's dir */
    Path fixture(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!Files.exists(file)) {
            try (InputStream in = MediaFlowIT.class.getResourceAsStream("/media/" + name)) {
                assertNotNull(in, "no media fixture " + name + " on the test class path");
                Files.copy(in, file);
            }
        }
        return file;
    }

    static void assertRefused(CompletableFuture<?> call, ErrorCode code, String reasonPart) throws Exception {
        try {
            call.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            ParleyClientException refused = assertInstanceOf(ParleyClientException.class, e.getCause(),
                    String.valueOf(e.getCause()));
            assertEquals(code, refused.code(), refused.toString());
            assertTrue(refused.getMessage().contains(reasonPart), refused.getMessage());
            return;
        }
        throw new AssertionError("not refused: expected " + code);
    }
}
