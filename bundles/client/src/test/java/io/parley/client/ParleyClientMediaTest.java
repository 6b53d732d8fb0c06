package io.parley.client;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Voice and video messages end to end: the SDK against {@link CoreServer#withFiles} — the real engine, the real file,
 * voice and video types (their bundles' components) on the real filesystem blob store, the real HTTP blob endpoints —
 * with real clips (the voice and video types' fixtures: a WebM without Duration as Chromium's MediaRecorder writes, an
 * MP4 with moov at the end as phones write).
 */
class ParleyClientMediaTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private CoreServer server;
    private final List<ParleyClient> clients = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = CoreServer.withFiles(dir.resolve("server"), Map.of("upload.chunk.max.bytes", 65536));
    }

    @AfterEach
    void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        server.close();
    }

    @Test
    void aVoiceMessageIsSentMeasuredReadAndDownloaded() throws Exception {
        BlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient alice = client("alice", null);
        ParleyClient bob = client("bob", bobInbox);
        Path clip = fixture("voice-live.webm");
        SendAck ack = await(alice.sendVoice("bob", clip, null, new byte[] {5, 50, (byte) 250}, null));
        MediaMessages.Voice voice = assertInstanceOf(MediaMessages.Voice.class,
                MediaMessages.of(next(bobInbox, ack.getSeq())).orElseThrow());
        assertTrue(Math.abs(voice.durationMs() - 3000) <= 100, "the server's duration: " + voice.durationMs());
        assertEquals(List.of(5, 50, 250), voice.waveform());
        Path saved = await(bob.download(voice.clip(), dir.resolve("got.webm"), null));
        assertArrayEquals(Files.readAllBytes(clip), Files.readAllBytes(saved));

        ParleyClientException refused = refusal(alice.sendVoice("bob", clip, "audio/mpeg", new byte[] {1}, null));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, refused.code());
        assertTrue(refused.getMessage().contains("content_type must be one of"), refused.getMessage());
        assertThrows(IllegalArgumentException.class, () -> alice.sendVoice("bob", clip, null, new byte[0], null));
        assertThrows(IllegalArgumentException.class,
                () -> alice.sendVoice("bob", fixture("poster.png"), null, new byte[] {1}, null));
    }

    @Test
    void aVideoMessageCarriesTheServersSizesAndItsPoster() throws Exception {
        BlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient alice = client("alice", null);
        ParleyClient bob = client("bob", bobInbox);
        Path clip = fixture("video.mp4");
        Path poster = fixture("poster.png");
        SendAck ack = await(alice.sendVideo("bob", clip, poster, null, null));
        MediaMessages.Video video = assertInstanceOf(MediaMessages.Video.class,
                MediaMessages.of(next(bobInbox, ack.getSeq())).orElseThrow());
        assertTrue(Math.abs(video.durationMs() - 2000) <= 150, "the server's duration: " + video.durationMs());
        assertEquals(List.of(160, 120, 160, 120), List.of(video.width(), video.height(), video.posterWidth(),
                video.posterHeight()));
        assertEquals("image/png", video.posterContentType());
        Attachments.DownloadTicket urls = await(bob.downloadTicket("d:alice:bob", ack.getSeq()));
        assertNotNull(urls.thumbnailUrl());
        HttpResponse<byte[]> got = HttpClient.newHttpClient().send(HttpRequest.newBuilder(urls.thumbnailUrl()).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertArrayEquals(Files.readAllBytes(poster), got.body());
        assertArrayEquals(Files.readAllBytes(clip),
                Files.readAllBytes(await(bob.download(video.clip(), dir.resolve("got.mp4"), null))));

        ParleyClientException refused = refusal(alice.sendVideo("bob", fixture("voice-opus.webm"), poster,
                "video/webm", null));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, refused.code());
        assertTrue(refused.getMessage().contains("the clip has no video track"), refused.getMessage());
    }

    private ParleyClient client(String user, BlockingQueue<Message> inbox) throws Exception {
        ParleyClient.Builder b = ParleyClient.builder().port(server.port()).deviceId(user + "-phone").token(user)
                .requestTimeout(Duration.ofSeconds(5)).transferTimeout(Duration.ofSeconds(5));
        if (inbox != null) {
            b.messageListener(inbox::add);
        }
        ParleyClient c = b.build();
        clients.add(c);
        await(c.connect());
        return c;
    }

    private Path fixture(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!Files.exists(file)) {
            try (InputStream in = getClass().getResourceAsStream("/media/" + name)) {
                assertNotNull(in, "no media fixture " + name);
                Files.copy(in, file);
            }
        }
        return file;
    }

    private static Message next(BlockingQueue<Message> inbox, long seq) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            Message m = inbox.poll(100, TimeUnit.MILLISECONDS);
            if (m != null && m.getSeq() == seq) {
                return m;
            }
        }
        throw new AssertionError("message " + seq + " never arrived");
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static ParleyClientException refusal(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        return assertInstanceOf(ParleyClientException.class, e.getCause(), String.valueOf(e.getCause()));
    }
}
