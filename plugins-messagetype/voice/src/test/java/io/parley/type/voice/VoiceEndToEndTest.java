package io.parley.type.voice;

import com.google.protobuf.ByteString;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.type.support.BlobKeys;
import io.parley.type.support.testing.MediaHarness;
import io.parley.type.support.testing.MediaHarness.Device;
import io.parley.type.support.testing.MediaHarness.Uploaded;
import io.parley.type.voice.proto.Voice;
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
 * The voice type on the real engine with the real filesystem blob store and the real recall command
 * ({@link MediaHarness}): clips of every accepted container (real files, see MediaProbeTest for what each stands for)
 * are measured by the server whatever the client says, and every refusal has its code and reason.
 */
class VoiceEndToEndTest {
    static final ByteString WAVE = ByteString.copyFrom(new byte[] {0, 40, (byte) 200, (byte) 255, 90});

    @TempDir
    Path dir;
    MediaHarness world;
    final AtomicReference<VoiceSettings> settings = new AtomicReference<>(
            new VoiceSettings(10_485_760L, Duration.ofSeconds(300), Duration.ofHours(24)));

    @BeforeEach
    void start() throws Exception {
        world = new MediaHarness(dir);
        world.start(Map.<String, MessageProcessor>of("voice",
                new VoiceProcessor(settings::get, world.store(), world.io(), Clock.systemUTC())));
    }

    @AfterEach
    void stop() throws Exception {
        world.close();
    }

    static Voice body(Uploaded u) {
        return Voice.newBuilder().setKey(u.key()).setSize(u.size()).setContentType(u.contentType())
                .setSha256(u.sha256()).setDurationMs(999_999).setWaveform(WAVE).build();
    }

    @Test
    void clipsOfEveryContainerAreMeasuredByTheServerAndDelivered() throws Exception {
        Device alice = world.device("alice");
        Device bob = world.device("bob");
        String[][] clips = {{"voice-live.webm", "audio/webm"}, {"voice-opus.webm", "audio/webm"},
                {"voice-opus.ogg", "audio/ogg"}, {"voice-vorbis.ogg", "audio/ogg"}, {"voice.m4a", "audio/mp4"},
                {"voice-fragmented.m4a", "audio/mp4"}, {"chromium-voice.webm", "audio/webm"},
                {"chromium-voice.m4a", "audio/mp4"}};
        int n = 0;
        for (String[] clip : clips) {
            Uploaded u = world.upload("alice", fixture(clip[0]), clip[1]);
            Frame ack = alice.send("v" + n++, "bob", "voice", body(u)); // the client claims 999,999 ms
            assertTrue(ack.hasSendAck(), clip[0] + ": " + ack);
            Message got = bob.awaitMessage("d:alice:bob", ack.getSendAck().getSeq());
            Voice stored = got.getBody().unpack(Voice.class);
            long expected = clip[0].startsWith("chromium") ? 2450 : 3000; // 2.5 s recorded, a 3 s tone
            assertTrue(Math.abs(stored.getDurationMs() - expected) <= 150, clip[0] + ": " + stored.getDurationMs());
            assertEquals(body(u).toBuilder().setDurationMs(stored.getDurationMs()).build(), stored);
            assertTrue(world.blobs().stat(BlobKeys.claim(u.key())).isPresent(), "claimed");
        }
    }

    @Test
    void aRetryPassesAnotherMessageWithTheSameClipDoesNot() throws Exception {
        Device alice = world.device("alice");
        Uploaded u = world.upload("alice", fixture("voice-opus.ogg"), "audio/ogg");
        Frame ack = alice.send("r1", "bob", "voice", body(u));
        assertTrue(ack.hasSendAck(), ack.toString());
        assertTrue(alice.send("r1", "bob", "voice", body(u)).getSendAck().getDuplicate());
        assertRefused(alice.send("r2", "bob", "voice", body(u)), ErrorCode.ERROR_CODE_INVALID_BODY, "already sent");
    }

    @Test
    void everyRefusalNamesItsFieldAndLimit() throws Exception {
        Device alice = world.device("alice");
        Device bob = world.device("bob");
        Uploaded u = world.upload("alice", fixture("voice-live.webm"), "audio/webm");
        Voice ok = body(u);

        assertRefused(alice.send("a", "bob", "voice", io.parley.core.proto.Ping.getDefaultInstance()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "parley.voice.v1.Voice");
        assertRefused(alice.send("b", "bob", "voice", ok.toBuilder().setWaveform(ByteString.EMPTY).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "waveform must have 1-100 samples, not 0");
        assertRefused(alice.send("c", "bob", "voice", ok.toBuilder().setWaveform(ByteString.copyFrom(new byte[101]))
                .build()), ErrorCode.ERROR_CODE_INVALID_BODY, "not 101");
        assertRefused(alice.send("d", "bob", "voice", ok.toBuilder().setContentType("audio/webm;codecs=opus")
                .build()), ErrorCode.ERROR_CODE_INVALID_BODY, "content_type");
        assertRefused(alice.send("e", "bob", "voice", ok.toBuilder().setContentType("audio/mpeg").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "content_type must be one of audio/mp4, audio/ogg, audio/webm");
        assertRefused(alice.send("f", "bob", "voice", ok.toBuilder().setSha256("0".repeat(64)).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "sha256 does not match");
        // bob names alice's upload: not his
        assertRefused(bob.send("g", "alice", "voice", ok), ErrorCode.ERROR_CODE_INVALID_BODY,
                "key must be the key of an upload ticket issued to the sender");
        // not uploaded (no object under a key of alice's)
        assertRefused(alice.send("h", "bob", "voice", ok.toBuilder().setKey(u.key() + "x").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "no uploaded object");

        settings.set(new VoiceSettings(1000, Duration.ofSeconds(300), Duration.ofHours(24)));
        assertRefused(alice.send("i", "bob", "voice", ok), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "this server takes at most 1000 (max.bytes)");
        settings.set(new VoiceSettings(10_485_760L, Duration.ofSeconds(2), Duration.ofHours(24)));
        assertRefused(alice.send("j", "bob", "voice", ok), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "this server takes at most 2 s (max.duration.seconds)");
        assertTrue(world.blobs().stat(BlobKeys.claim(u.key())).isEmpty(), "nothing refused claims the clip");
        settings.set(new VoiceSettings(10_485_760L, Duration.ofSeconds(300), Duration.ofHours(24)));

        // a clip that is not what it says: a PNG uploaded as audio/webm, an Ogg file as audio/mp4
        Uploaded png = world.upload("alice", fixture("poster.png"), "audio/webm");
        assertRefused(alice.send("k", "bob", "voice", body(png)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "the clip cannot be read as audio/webm: the object is not a WebM file");
        Uploaded ogg = world.upload("alice", fixture("voice-opus.ogg"), "audio/mp4");
        assertRefused(alice.send("l", "bob", "voice", body(ogg)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "not an MP4 file");
        // a video clip is no voice message
        Uploaded video = world.upload("alice", fixture("video.webm"), "audio/webm");
        Frame withVideo = alice.send("m", "bob", "voice", body(video));
        assertTrue(withVideo.hasSendAck(), "a WebM with an audio track is a voice clip: " + withVideo);
        Uploaded silent = world.upload("alice", fixture("video.mp4"), "audio/mp4");
        assertRefused(alice.send("n", "bob", "voice", body(silent)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "no audio track");
    }

    @Test
    void aRecallDeletesTheClipAndItsClaim() throws Exception {
        Device alice = world.device("alice");
        Uploaded u = world.upload("alice", fixture("voice-opus.webm"), "audio/webm");
        long seq = alice.send("x", "bob", "voice", body(u)).getSendAck().getSeq();
        assertTrue(alice.recall("d:alice:bob", seq).hasCommandResult());
        awaitTrue(() -> world.blobs().stat(u.key()).isEmpty(), "the clip is deleted");
        awaitTrue(() -> world.blobs().stat(BlobKeys.claim(u.key())).isEmpty(), "its claim is deleted");
    }
}
