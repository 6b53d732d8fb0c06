package io.parley.client;

import com.google.protobuf.Any;
import io.parley.core.proto.Message;
import io.parley.type.video.proto.Video;
import io.parley.type.voice.proto.Voice;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MediaMessagesTest {
    static final String SHA = "a".repeat(64);
    final Attachments.Upload clip = new Attachments.Upload("f/alice/20261206/clip", "rec.webm", 5000, "audio/webm", SHA);
    final Attachments.Upload video = new Attachments.Upload("f/alice/20261206/vid", "v.mp4", 90000, "video/mp4", SHA);
    final Attachments.Upload poster = new Attachments.Upload("f/alice/20261206/pst", "p.jpg", 3000, "image/jpeg",
            "b".repeat(64));

    @Test
    void voiceBodiesNameTheUploadAndCarryTheWaveform() throws Exception {
        Any body = MediaMessages.voiceBody(clip, new byte[] {0, 10, (byte) 255});
        assertEquals(MediaMessages.VOICE_TYPE_URL, body.getTypeUrl());
        Voice v = body.unpack(Voice.class);
        assertEquals(clip.key(), v.getKey());
        assertEquals(5000, v.getSize());
        assertEquals("audio/webm", v.getContentType());
        assertEquals(SHA, v.getSha256());
        assertEquals(0, v.getDurationMs(), "the server fills it in");
        assertArrayEquals(new byte[] {0, 10, (byte) 255}, v.getWaveform().toByteArray());
        assertThrows(IllegalArgumentException.class, () -> MediaMessages.voiceBody(clip, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> MediaMessages.voiceBody(clip, new byte[101]));
    }

    @Test
    void receivedVoiceAndVideoMessagesAreRead() throws Exception {
        Message voice = Message.newBuilder().setType("voice").setConversation("d:alice:bob").setSeq(7)
                .setBody(Any.pack(Voice.newBuilder().setKey(clip.key()).setSize(5000).setContentType("audio/ogg")
                        .setSha256(SHA).setDurationMs(12_345).setWaveform(com.google.protobuf.ByteString.copyFrom(
                                new byte[] {1, (byte) 200})).build())).build();
        MediaMessages.Voice v = (MediaMessages.Voice) MediaMessages.of(voice).orElseThrow();
        assertEquals(12_345, v.durationMs());
        assertEquals(List.of(1, 200), v.waveform());
        Attachments.Attachment a = v.clip();
        assertEquals("voice-7.ogg", a.name());
        assertEquals(7, a.seq());
        assertEquals(SHA, a.sha256());
        assertTrue(MediaMessages.isMedia(voice));

        Video body = MediaMessages.videoBody(video, poster).unpack(Video.class).toBuilder().setDurationMs(34_000)
                .setWidth(640).setHeight(480).setPosterWidth(640).setPosterHeight(480).build();
        Message m = Message.newBuilder().setType("video").setConversation("g:team").setSeq(3).setBody(Any.pack(body))
                .build();
        MediaMessages.Video got = (MediaMessages.Video) MediaMessages.of(m).orElseThrow();
        assertEquals(new MediaMessages.Video("g:team", 3, video.key(), 90000, "video/mp4", SHA, 34_000, 640, 480,
                poster.key(), 3000, "image/jpeg", "b".repeat(64), 640, 480), got);
        assertEquals("video-3.mp4", got.clip().name());

        assertEquals(Optional.empty(), MediaMessages.of(m.toBuilder().setType("voice").build()),
                "a body of another type is not read");
        assertEquals(Optional.empty(), MediaMessages.of(Message.newBuilder().setType("recalled").build()));
        assertFalse(MediaMessages.isMedia(Message.newBuilder().setType("file").build()));
    }

    @Test
    void waveformsArePeaksPerPart() {
        short[] pcm = new short[1000];
        for (int i = 0; i < pcm.length; i++) {
            pcm[i] = (short) (i < 500 ? 0 : (i % 2 == 0 ? 32767 : -16384));
        }
        byte[] w = MediaMessages.waveform(pcm, 4);
        assertArrayEquals(new byte[] {0, 0, (byte) 255, (byte) 255}, w);
        assertEquals(3, MediaMessages.waveform(new short[] {1, 2, 3}, 100).length);
        assertArrayEquals(new byte[] {0}, MediaMessages.waveform(new short[0], 10));
        assertThrows(IllegalArgumentException.class, () -> MediaMessages.waveform(pcm, 101));
    }

    @Test
    void contentTypesComeFromTheName() {
        assertEquals(Optional.of("audio/webm"), MediaMessages.voiceContentTypeOf("note.WEBM"));
        assertEquals(Optional.of("audio/ogg"), MediaMessages.voiceContentTypeOf("note.opus"));
        assertEquals(Optional.of("audio/mp4"), MediaMessages.voiceContentTypeOf("memo.m4a"));
        assertEquals(Optional.empty(), MediaMessages.voiceContentTypeOf("song.mp3"));
        assertEquals(Optional.of("video/mp4"), MediaMessages.videoContentTypeOf("clip.mp4"));
        assertEquals(Optional.of("video/webm"), MediaMessages.videoContentTypeOf("clip.webm"));
        assertEquals(Optional.empty(), MediaMessages.videoContentTypeOf("clip.mov"));
    }
}
