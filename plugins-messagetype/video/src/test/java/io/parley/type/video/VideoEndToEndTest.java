package io.parley.type.video;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.type.support.BlobKeys;
import io.parley.type.support.testing.MediaHarness;
import io.parley.type.support.testing.MediaHarness.Device;
import io.parley.type.support.testing.MediaHarness.Uploaded;
import io.parley.type.video.proto.Video;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static io.parley.type.support.testing.MediaHarness.assertRefused;
import static io.parley.type.support.testing.MediaHarness.awaitTrue;
import static io.parley.type.support.testing.MediaHarness.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The video type on the real engine with the real filesystem blob store and the real recall command
 * ({@link MediaHarness}): real clips (see MediaProbeTest for what each stands for) and posters, measured by the server
 * whatever the client says; clip and poster are claimed together or not at all; every refusal has its code and reason.
 */
class VideoEndToEndTest {

    @TempDir
    Path dir;
    MediaHarness world;
    final AtomicReference<VideoSettings> settings = new AtomicReference<>(defaults());

    static VideoSettings defaults() {
        return new VideoSettings(104_857_600L, Duration.ofSeconds(300), 3840L * 2160, 2_097_152L,
                Duration.ofHours(24));
    }

    @BeforeEach
    void start() throws Exception {
        world = new MediaHarness(dir);
        world.start(Map.<String, MessageProcessor>of("video",
                new VideoProcessor(settings::get, world.store(), world.io(), Clock.systemUTC())));
    }

    @AfterEach
    void stop() throws Exception {
        world.close();
    }

    static Video body(Uploaded clip, Uploaded poster) {
        return Video.newBuilder().setKey(clip.key()).setSize(clip.size()).setContentType(clip.contentType())
                .setSha256(clip.sha256()).setDurationMs(1).setWidth(7680).setHeight(4320)
                .setPosterKey(poster.key()).setPosterSize(poster.size()).setPosterContentType(poster.contentType())
                .setPosterSha256(poster.sha256()).setPosterWidth(1).setPosterHeight(1).build();
    }

    @Test
    void clipsAreMeasuredByTheServerWithTheirPosters() throws Exception {
        Device alice = world.device("alice");
        Device bob = world.device("bob");
        String[][] clips = {{"video-live.webm", "video/webm"}, {"video.webm", "video/webm"},
                {"video.mp4", "video/mp4"}, {"video-faststart.mp4", "video/mp4"},
                {"video-fragmented.mp4", "video/mp4"}, {"chromium-video.webm", "video/webm"},
                {"chromium-video.mp4", "video/mp4"}};
        int n = 0;
        for (String[] c : clips) {
            Uploaded clip = world.upload("alice", fixture(c[0]), c[1]);
            Uploaded poster = world.upload("alice", fixture(n % 2 == 0 ? "poster.jpg" : "poster.png"),
                    n % 2 == 0 ? "image/jpeg" : "image/png");
            Frame ack = alice.send("v" + n++, "bob", "video", body(clip, poster));
            assertTrue(ack.hasSendAck(), c[0] + ": " + ack);
            Message got = bob.awaitMessage("d:alice:bob", ack.getSendAck().getSeq());
            Video stored = got.getBody().unpack(Video.class);
            boolean chromium = c[0].startsWith("chromium"); // 2.5 s at 320x240; the others 2 s at 160x120
            assertTrue(Math.abs(stored.getDurationMs() - (chromium ? 2450 : 2000)) <= 150, c[0] + ": "
                    + stored.getDurationMs());
            assertEquals(chromium ? 320 : 160, stored.getWidth(), c[0]);
            assertEquals(chromium ? 240 : 120, stored.getHeight(), c[0]);
            assertEquals(160, stored.getPosterWidth(), c[0]);
            assertEquals(120, stored.getPosterHeight(), c[0]);
            assertTrue(world.blobs().stat(BlobKeys.claim(clip.key())).isPresent(), "the clip is claimed");
            assertTrue(world.blobs().stat(BlobKeys.claim(poster.key())).isPresent(), "the poster is claimed");
        }
    }

    @Test
    void everyRefusalNamesItsFieldAndLimit() throws Exception {
        Device alice = world.device("alice");
        Device bob = world.device("bob");
        Uploaded clip = world.upload("alice", fixture("video-live.webm"), "video/webm");
        Uploaded poster = world.upload("alice", fixture("poster.jpg"), "image/jpeg");
        Video ok = body(clip, poster);

        assertRefused(alice.send("a", "bob", "video", ok.toBuilder().setContentType("video/quicktime").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "content_type must be one of video/mp4, video/webm");
        assertRefused(alice.send("b", "bob", "video", ok.toBuilder().setPosterContentType("image/gif").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "poster_content_type must be one of image/jpeg, image/png");
        assertRefused(alice.send("c", "bob", "video", ok.toBuilder().setPosterKey(clip.key()).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "poster_key must name another upload");
        assertRefused(alice.send("d", "bob", "video", ok.toBuilder().setPosterSha256("X").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "poster_sha256 must be 64 lower-case hex digits");
        assertRefused(bob.send("e", "alice", "video", ok), ErrorCode.ERROR_CODE_INVALID_BODY,
                "key must be the key of an upload ticket issued to the sender");
        Uploaded bobsPoster = world.upload("bob", fixture("poster.jpg"), "image/jpeg");
        assertRefused(alice.send("f", "bob", "video", body(clip, bobsPoster)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "poster_key must be the key of an upload ticket issued to the sender");

        settings.set(new VideoSettings(1000, Duration.ofSeconds(300), 3840L * 2160, 2_097_152L, Duration.ofHours(24)));
        assertRefused(alice.send("g", "bob", "video", ok), ErrorCode.ERROR_CODE_BODY_TOO_LARGE, "(max.bytes)");
        settings.set(new VideoSettings(104_857_600L, Duration.ofSeconds(1), 3840L * 2160, 2_097_152L,
                Duration.ofHours(24)));
        assertRefused(alice.send("h", "bob", "video", ok), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "this server takes at most 1 s (max.duration.seconds)");
        settings.set(new VideoSettings(104_857_600L, Duration.ofSeconds(300), 100 * 100, 2_097_152L,
                Duration.ofHours(24)));
        assertRefused(alice.send("i", "bob", "video", ok), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "the clip is 160x120 pixels; this server takes at most 10000 pixels (max.pixels)");
        settings.set(new VideoSettings(104_857_600L, Duration.ofSeconds(300), 3840L * 2160, 1024,
                Duration.ofHours(24)));
        assertRefused(alice.send("j", "bob", "video", ok), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "(poster.max.bytes)");
        settings.set(defaults());

        // a poster that is not an image (a clip uploaded as image/png); a clip that is not a video (a voice clip)
        Uploaded notImage = world.upload("alice", fixture("voice-opus.ogg"), "image/png");
        assertRefused(alice.send("k", "bob", "video", body(clip, notImage)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "poster: the object is not an image");
        Uploaded jpegAsPng = world.upload("alice", fixture("poster.jpg"), "image/png");
        assertRefused(alice.send("l", "bob", "video", body(clip, jpegAsPng)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "poster: the object is not image/png");
        Uploaded voice = world.upload("alice", fixture("voice-opus.webm"), "video/webm");
        assertRefused(alice.send("m", "bob", "video", body(voice, poster)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "the clip has no video track");
        Uploaded hostile = world.upload("alice", fixture("hostile-huge-box.mp4"), "video/mp4");
        assertRefused(alice.send("n", "bob", "video", body(hostile, poster)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "the clip cannot be read as video/mp4");
        assertTrue(world.blobs().stat(BlobKeys.claim(clip.key())).isEmpty(), "nothing refused claims the clip");
        assertTrue(world.blobs().stat(BlobKeys.claim(poster.key())).isEmpty(), "nor the poster");
    }

    @Test
    void clipAndPosterAreClaimedTogetherOrNotAtAll() throws Exception {
        Device alice = world.device("alice");
        Uploaded clip = world.upload("alice", fixture("video.mp4"), "video/mp4");
        Uploaded poster = world.upload("alice", fixture("poster.png"), "image/png");
        Uploaded other = world.upload("alice", fixture("video.webm"), "video/webm");
        assertTrue(alice.send("first", "bob", "video", body(other, poster)).hasSendAck());
        // the poster is taken: the clip is refused with it and stays unclaimed, so it can still be sent
        assertRefused(alice.send("second", "bob", "video", body(clip, poster)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "poster: the object " + poster.key() + " was already sent in another message");
        assertTrue(world.blobs().stat(BlobKeys.claim(clip.key())).isEmpty());
        Uploaded poster2 = world.upload("alice", fixture("poster.jpg"), "image/jpeg");
        assertTrue(alice.send("third", "bob", "video", body(clip, poster2)).hasSendAck());
    }

    @Test
    void aRecallDeletesClipAndPoster() throws Exception {
        Device alice = world.device("alice");
        Uploaded clip = world.upload("alice", fixture("video.webm"), "video/webm");
        Uploaded poster = world.upload("alice", fixture("poster.jpg"), "image/jpeg");
        long seq = alice.send("x", "bob", "video", body(clip, poster)).getSendAck().getSeq();
        assertTrue(alice.recall("d:alice:bob", seq).hasCommandResult());
        awaitTrue(() -> world.blobs().stat(clip.key()).isEmpty(), "the clip is deleted");
        awaitTrue(() -> world.blobs().stat(poster.key()).isEmpty(), "the poster is deleted");
        awaitTrue(() -> world.blobs().stat(BlobKeys.claim(poster.key())).isEmpty(), "the claims are deleted");
    }
}
