package io.parley.type.support.media;

import io.parley.type.support.testing.MediaHarness;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The container parsers on real files (src/test/resources/media) and on hostile ones. The {@code chromium-*} files
 * are Chromium 156's own MediaRecorder output (src/test/record-chromium-fixtures.py: 2.5 s from the fake microphone
 * and camera, 320x240): {@code audio/webm;codecs=opus} and {@code video/webm;codecs=vp8,opus} (no Duration, Segment
 * and Clusters of unknown size), {@code audio/mp4} and {@code video/mp4} (fragmented MP4). The others are made by
 * ffmpeg (src/test/make-media-fixtures.sh: a 3-second 440 Hz tone for voice, a 2-second 160x120 test pattern at
 * 10 fps for video), each standing for a producer clients use:
 * <ul>
 * <li>{@code voice-live.webm}, {@code video-live.webm}: Chromium's MediaRecorder ({@code audio/webm;codecs=opus},
 * {@code video/webm;codecs=vp8,opus}) — a live stream: Segment and Clusters of unknown size, no Duration (ffmpeg
 * {@code -f webm -live 1}, its Duration overwritten with a Void element);</li>
 * <li>{@code voice-opus.webm}, {@code video.webm}: file-based encoders and editors (ffmpeg, OBS, HandBrake): Duration
 * in Info, Clusters of known size, Cues;</li>
 * <li>{@code voice-opus.ogg}: Firefox's MediaRecorder {@code audio/ogg;codecs=opus} and the Opus voice notes of
 * mobile messengers; {@code voice-vorbis.ogg}: a classic Ogg Vorbis file;</li>
 * <li>{@code voice.m4a}, {@code video.mp4}: phone recorders and cameras (iOS Voice Memos, Android camera): AAC /
 * H.264 with {@code moov} after {@code mdat}; {@code video-faststart.mp4}: a file prepared for streaming
 * ({@code moov} first);</li>
 * <li>{@code voice-fragmented.m4a}, {@code video-fragmented.mp4}: Safari's and Chromium's MediaRecorder
 * ({@code audio/mp4}, {@code video/mp4}): fragmented MP4, {@code mvhd} duration 0, {@code moof}/{@code mdat}
 * pairs with {@code tfdt} and {@code trun}.</li>
 * </ul>
 */
class MediaProbeTest {

    static MediaInfo probe(String fixture, String contentType) throws Exception {
        return MediaProbe.probe(MediaSource.of(MediaHarness.fixture(fixture)), contentType);
    }

    static void assertAbout(long expectedMs, long toleranceMs, MediaInfo info) {
        assertTrue(Math.abs(info.durationMs() - expectedMs) <= toleranceMs,
                "expected about " + expectedMs + " ms, got " + info);
    }

    @Test
    void voiceClipsOfEveryContainerTellTheirDuration() throws Exception {
        for (String[] f : new String[][] {{"voice-opus.webm", "audio/webm"}, {"voice-live.webm", "audio/webm"},
                {"voice-opus.ogg", "audio/ogg"}, {"voice-vorbis.ogg", "audio/ogg"}, {"voice.m4a", "audio/mp4"},
                {"voice-fragmented.m4a", "audio/mp4"}}) {
            MediaInfo info = probe(f[0], f[1]);
            assertAbout(3000, 100, info);
            assertTrue(info.hasAudio(), f[0]);
            assertFalse(info.hasVideo(), f[0]);
        }
    }

    @Test
    void theLiveWebmHasNoDurationAndIsMeasuredFromItsLastCluster() throws Exception {
        byte[] live = MediaHarness.fixture("voice-live.webm");
        byte[] durationId = {0x44, (byte) 0x89};
        assertEquals(-1, indexOf(live, durationId, 0, 4096), "the fixture stands for MediaRecorder: no Duration");
        assertEquals("webm", probe("voice-live.webm", "audio/webm").container());
        MediaInfo video = probe("video-live.webm", "video/webm");
        assertAbout(2000, 150, video); // the last block's timestamp: the audio track's last frame, about 2 s in
        assertEquals(160, video.width());
        assertEquals(120, video.height());
    }

    @Test
    void chromiumsMediaRecorderOutputIsMeasured() throws Exception {
        for (String[] f : new String[][] {{"chromium-voice.webm", "audio/webm"}, {"chromium-voice.m4a", "audio/mp4"},
                {"chromium-video.webm", "video/webm"}, {"chromium-video.mp4", "video/mp4"}}) {
            MediaInfo info = probe(f[0], f[1]);
            assertAbout(2450, 150, info); // 2.5 s recorded; ffprobe says 2.42 and 2.50 s for the MP4 files
            assertTrue(info.hasAudio(), f[0]);
            if (f[1].startsWith("video/")) {
                assertEquals(320, info.width(), f[0]);
                assertEquals(240, info.height(), f[0]);
            } else {
                assertFalse(info.hasVideo(), f[0]);
            }
        }
        assertEquals(-1, indexOf(MediaHarness.fixture("chromium-video.webm"), new byte[] {0x44, (byte) 0x89}, 0,
                4096), "MediaRecorder writes no Duration");
    }

    @Test
    void videoClipsTellDurationAndFrameSize() throws Exception {
        for (String[] f : new String[][] {{"video.webm", "video/webm"}, {"video-live.webm", "video/webm"},
                {"video.mp4", "video/mp4"}, {"video-faststart.mp4", "video/mp4"},
                {"video-fragmented.mp4", "video/mp4"}}) {
            MediaInfo info = probe(f[0], f[1]);
            assertAbout(2000, 150, info);
            assertTrue(info.hasVideo(), f[0]);
            assertEquals(160, info.width(), f[0]);
            assertEquals(120, info.height(), f[0]);
        }
    }

    @Test
    void aContainerOtherThanTheDeclaredOneIsRefused() {
        assertRefused("voice-opus.ogg", "audio/webm", "not a WebM file");
        assertRefused("voice-opus.webm", "audio/ogg", "not an Ogg file");
        assertRefused("voice-opus.webm", "audio/mp4", "not an MP4 file");
        assertRefused("hostile-png-as-clip.webm", "video/webm", "not a WebM file");
        assertRefused("poster.jpg", "video/mp4", "not an MP4 file");
    }

    @Test
    void hostileFilesAreRefusedQuicklyWithAReason() {
        assertRefused("hostile-truncated.webm", "video/webm", "truncated");
        assertRefused("hostile-huge-size.webm", "audio/webm", "malformed");
        assertRefused("hostile-deep.webm", "video/webm", "no audio or video track");
        assertRefused("hostile-huge-box.mp4", "video/mp4", "past the end");
        assertRefused("hostile-deep.mp4", "video/mp4", "no mvhd");
        assertRefused("hostile-bad-crc.ogg", "audio/ogg", "no whole Ogg page");
    }

    @Test
    void aClusterTimecodeOf2To63OrMoreIsRefusedNotReadAsANegativeTime() {
        for (String timecode : List.of("ffffffffffffffff", "8000000000000000")) {
            // EBML header, Segment of unknown size: Info without Duration, one Opus track, one Cluster with one block
            byte[] tracks = ebml("1654ae6b", ebml("ae", ebml("d7", hex("01")), ebml("83", hex("02")),
                    ebml("86", "A_OPUS".getBytes(StandardCharsets.US_ASCII))));
            byte[] cluster = ebml("1f43b675", ebml("e7", hex(timecode)), ebml("a3", hex("817fff8000")));
            ByteArrayOutputStream webm = new ByteArrayOutputStream();
            webm.writeBytes(ebml("1a45dfa3", ebml("4282", "webm".getBytes(StandardCharsets.US_ASCII))));
            webm.writeBytes(hex("1853806701ffffffffffffff"));
            webm.writeBytes(ebml("1549a966", ebml("2ad7b1", hex("00000000000f4240"))));
            webm.writeBytes(tracks);
            webm.writeBytes(cluster);
            assertRefusedBytes(webm.toByteArray(), "audio/webm", "no readable Cluster");
        }
    }

    /** An EBML element: the ID's bytes, the size as an 8-byte vint, the children. */
    static byte[] ebml(String idHex, byte[]... children) {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (byte[] c : children) {
            data.writeBytes(c);
        }
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        e.writeBytes(hex(idHex));
        e.writeBytes(vint8(data.size()));
        e.writeBytes(data.toByteArray());
        return e.toByteArray();
    }

    static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    @Test
    void deeperNestingThanAnyCommittedFixtureIsRefusedJustAsQuickly() {
        // 100,000 nested TrackEntry elements of known sizes, and an MP4 moov of 100,000 nested trak boxes
        int n = 100_000;
        ByteArrayOutputStream chain = new ByteArrayOutputStream();
        for (int d = 0; d < n; d++) {
            chain.write(0xAE);
            chain.writeBytes(vint8(9L * (n - 1 - d)));
        }
        ByteArrayOutputStream webm = new ByteArrayOutputStream();
        webm.writeBytes(new byte[] {0x1A, 0x45, (byte) 0xDF, (byte) 0xA3, (byte) 0x87, 0x42, (byte) 0x82,
                (byte) 0x84, 'w', 'e', 'b', 'm', 0x18, 0x53, (byte) 0x80, 0x67, 0x01, -1, -1, -1, -1, -1, -1, -1,
                0x15, 0x49, (byte) 0xA9, 0x66, (byte) 0x87, 0x2A, (byte) 0xD7, (byte) 0xB1, (byte) 0x83, 0x0F, 0x42,
                0x40, 0x16, 0x54, (byte) 0xAE, 0x6B});
        webm.writeBytes(vint8(chain.size()));
        webm.writeBytes(chain.toByteArray());
        assertRefusedBytes(webm.toByteArray(), "video/webm", "no audio or video track");

        ByteBuffer mp4 = ByteBuffer.allocate(16 + 8 + 8 * n);
        mp4.putInt(16).put("ftypisom".getBytes()).putInt(0x200);
        mp4.putInt(8 + 8 * n).put("moov".getBytes());
        for (int d = 0; d < n; d++) {
            mp4.putInt(8 * (n - d)).put("trak".getBytes());
        }
        assertRefusedBytes(mp4.array(), "video/mp4", "no mvhd");
    }

    @Test
    void aLiveWebmCutAnywhereIsNeverReadPastItsEndAndNeverHangs() throws Exception {
        byte[] live = MediaHarness.fixture("video-live.webm");
        for (int cut = 1; cut < live.length; cut += Math.max(1, live.length / 200)) {
            byte[] part = Arrays.copyOf(live, cut);
            assertTimeoutPreemptively(Duration.ofSeconds(2), () -> {
                try {
                    MediaInfo info = MediaProbe.probe(MediaSource.of(part), "video/webm");
                    assertTrue(info.durationMs() <= 2000, "a cut file is no longer than the whole: " + info);
                } catch (MediaRefused expected) {
                    // refused with a reason: fine
                }
            });
        }
    }

    @Test
    void everyCutOfEveryRealFixtureEndsQuicklyWithAnAnswerOrARefusal() throws Exception {
        for (String[] f : new String[][] {{"voice-opus.webm", "audio/webm"}, {"voice-opus.ogg", "audio/ogg"},
                {"voice.m4a", "audio/mp4"}, {"voice-fragmented.m4a", "audio/mp4"}, {"video.mp4", "video/mp4"}}) {
            byte[] whole = MediaHarness.fixture(f[0]);
            for (int cut = 0; cut < whole.length; cut += Math.max(1, whole.length / 100)) {
                byte[] part = Arrays.copyOf(whole, cut);
                assertTimeoutPreemptively(Duration.ofSeconds(2), () -> {
                    try {
                        MediaProbe.probe(MediaSource.of(part), f[1]);
                    } catch (MediaRefused expected) {
                        assertFalse(expected.getMessage().isBlank());
                    }
                }, f[0] + " cut at " + cut);
            }
        }
    }

    @Test
    void aProbeReadsBoundedBytesThroughFewOpens() throws Exception {
        byte[] live = MediaHarness.fixture("video-live.webm");
        AtomicInteger opens = new AtomicInteger();
        AtomicLong read = new AtomicLong();
        MediaSource counting = new MediaSource() {
            @Override
            public long size() {
                return live.length;
            }

            @Override
            public InputStream open(long offset) throws IOException {
                opens.incrementAndGet();
                return new java.io.FilterInputStream(MediaSource.of(live).open(offset)) {
                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        int n = super.read(b, off, len);
                        read.addAndGet(Math.max(0, n));
                        return n;
                    }
                };
            }
        };
        MediaProbe.probe(counting, "video/webm");
        assertTrue(opens.get() <= 8, opens + " opens");
        assertTrue(read.get() <= 4L * live.length + 65536, read + " bytes read");

        // a source that says it is huge but holds nothing readable: refused within the budget, never read whole
        MediaSource endless = new MediaSource() {
            @Override
            public long size() {
                return 1L << 40;
            }

            @Override
            public InputStream open(long offset) {
                opens.incrementAndGet();
                return InputStream.nullInputStream();
            }
        };
        assertThrows(IOException.class, () -> MediaProbe.probe(endless, "video/mp4"));
    }

    @Test
    void durationsAreShownAsClockTime() {
        assertEquals("0:00", MediaProbe.clock(0));
        assertEquals("0:12", MediaProbe.clock(12_400));
        assertEquals("0:13", MediaProbe.clock(12_500));
        assertEquals("5:00", MediaProbe.clock(300_000));
        assertEquals("1:02:03", MediaProbe.clock(3_723_000));
    }

    static void assertRefused(String fixture, String contentType, String reasonPart) {
        assertRefusedBytes(MediaHarness.fixture(fixture), contentType, reasonPart);
    }

    static void assertRefusedBytes(byte[] bytes, String contentType, String reasonPart) {
        MediaRefused e = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertThrows(MediaRefused.class,
                () -> MediaProbe.probe(MediaSource.of(bytes), contentType)));
        assertTrue(e.getMessage().contains(reasonPart), e.getMessage());
    }

    static byte[] vint8(long n) {
        byte[] b = new byte[8];
        b[0] = 1;
        for (int i = 7; i >= 1; i--) {
            b[i] = (byte) n;
            n >>>= 8;
        }
        return b;
    }

    static int indexOf(byte[] hay, byte[] needle, int from, int to) {
        for (int i = from; i + needle.length <= Math.min(to, hay.length); i++) {
            if (Arrays.equals(hay, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        return -1;
    }
}
