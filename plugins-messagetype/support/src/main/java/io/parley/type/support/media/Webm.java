package io.parley.type.support.media;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * WebM (Matroska with DocType {@code webm}): duration from {@code Segment/Info/Duration × TimecodeScale}, or — when
 * Duration is absent, as in what Chromium's MediaRecorder writes (a live stream: unknown-size Segment and Clusters, no
 * Duration, no Cues) — from the last Cluster's {@code Timecode} plus the largest relative timecode of its blocks,
 * found by scanning the file's tail backwards for a Cluster that parses cleanly to its end. Video size from the first
 * video track's {@code PixelWidth}/{@code PixelHeight}. Only the elements on that path are read; everything else is
 * skipped by its declared size, unknown sizes are accepted only for Segment and Cluster, and every count is bounded.
 */
final class Webm {

    private static final long EBML = 0x1A45DFA3L;
    private static final long DOC_TYPE = 0x4282;
    private static final long SEGMENT = 0x18538067L;
    private static final long INFO = 0x1549A966L;
    private static final long TIMECODE_SCALE = 0x2AD7B1;
    private static final long DURATION = 0x4489;
    private static final long TRACKS = 0x1654AE6BL;
    private static final long TRACK_ENTRY = 0xAE;
    private static final long TRACK_TYPE = 0x83;
    private static final long VIDEO = 0xE0;
    private static final long PIXEL_WIDTH = 0xB0;
    private static final long PIXEL_HEIGHT = 0xBA;
    private static final long CLUSTER = 0x1F43B675L;
    private static final long TIMECODE = 0xE7;
    private static final long SIMPLE_BLOCK = 0xA3;
    private static final long BLOCK_GROUP = 0xA0;
    private static final long BLOCK = 0xA1;
    /** Level-1 elements: one of them after a Cluster's children ends an unknown-size Cluster. */
    private static final long[] TOP_LEVEL = {CLUSTER, 0x1C53BB6BL /* Cues */, 0x1254C367L /* Tags */,
            0x1043A770L /* Chapters */, 0x1941A469L /* Attachments */, 0x114D9B74L /* SeekHead */, INFO, TRACKS};
    /** Cluster children that may follow Timecode. */
    private static final long[] CLUSTER_CHILDREN = {SIMPLE_BLOCK, BLOCK_GROUP, 0xA7 /* Position */,
            0xAB /* PrevSize */, 0x5854 /* SilentTracks */, 0xAF /* EncryptedBlock */, 0xEC /* Void */,
            0xBF /* CRC-32 */};
    private static final int MAX_ELEMENTS = 1024;
    private static final int MAX_CLUSTER_CHILDREN = 200_000;
    private static final long MAX_TAIL = 32L << 20;
    private static final int TAIL_CHUNK = RangeReader.MAX_READ - 4;
    private static final byte[] CLUSTER_ID = {0x1F, 0x43, (byte) 0xB6, 0x75};

    /** An element's header. {@code size} is -1 for an unknown size. */
    private record Element(long id, long dataStart, long size) {
        long end(long limit) {
            return size < 0 ? limit : dataStart + size;
        }
    }

    private final RangeReader r;
    private long timecodeScale = 1_000_000;
    private Double duration;
    private boolean hasAudio;
    private boolean hasVideo;
    private long width;
    private long height;

    Webm(RangeReader r) {
        this.r = r;
    }

    MediaInfo parse() throws IOException, MediaRefused {
        long size = r.size();
        if (size < 4 || r.uint(0, 4) != EBML) {
            throw new MediaRefused("the object is not a WebM file (no EBML header)");
        }
        Element header = element(0, size, "the EBML header");
        if (header.size() < 0 || header.size() > 4096) {
            throw new MediaRefused("the EBML header is malformed");
        }
        String docType = "";
        for (long p = header.dataStart(); p < header.end(size); ) {
            Element e = element(p, header.end(size), "the EBML header");
            if (e.id() == DOC_TYPE && e.size() <= 32) {
                docType = new String(r.bytes(e.dataStart(), (int) e.size()), StandardCharsets.US_ASCII).trim()
                        .replace("\0", "");
            }
            p = e.end(size);
        }
        if (!docType.equals("webm")) {
            throw new MediaRefused("the EBML document type is \"" + docType + "\", not webm");
        }
        Element segment = element(header.end(size), size, "the Segment");
        if (segment.id() != SEGMENT) {
            throw new MediaRefused("the WebM file has no Segment after its EBML header");
        }
        long segmentEnd = segment.end(size);
        long firstCluster = -1;
        boolean info = false;
        boolean tracks = false;
        int count = 0;
        for (long p = segment.dataStart(); p < segmentEnd; ) {
            if (++count > MAX_ELEMENTS) {
                throw new MediaRefused("the WebM file has more than " + MAX_ELEMENTS + " elements before its first "
                        + "Cluster");
            }
            Element e = element(p, segmentEnd, "the Segment");
            if (e.id() == CLUSTER) {
                firstCluster = p;
                break;
            }
            if (e.size() < 0) {
                throw new MediaRefused("a WebM element other than Segment or Cluster has an unknown size");
            }
            if (e.id() == INFO) {
                info = true;
                info(e);
            } else if (e.id() == TRACKS) {
                tracks = true;
                tracks(e);
            }
            p = e.end(segmentEnd);
        }
        if (!info || !tracks) {
            throw new MediaRefused("the WebM file has no " + (info ? "Tracks" : "Info") + " element before its first "
                    + "Cluster");
        }
        if (!hasAudio && !hasVideo) {
            throw new MediaRefused("the WebM file has no audio or video track");
        }
        long ms;
        if (duration != null) {
            ms = millis(duration);
        } else if (firstCluster < 0) {
            throw new MediaRefused("the WebM file has no Duration and no Cluster");
        } else {
            ms = millis(lastTimecode(firstCluster, segmentEnd));
        }
        return new MediaInfo("webm", ms, hasAudio, hasVideo, (int) Math.min(width, Integer.MAX_VALUE),
                (int) Math.min(height, Integer.MAX_VALUE));
    }

    private long millis(double ticks) throws MediaRefused {
        double ms = ticks * timecodeScale / 1e6;
        if (!(ms >= 0) || ms > 1e12) {
            throw new MediaRefused("the WebM file declares a duration of " + ms + " ms");
        }
        return Math.round(ms);
    }

    private void info(Element info) throws IOException, MediaRefused {
        if (info.size() > 65536) {
            throw new MediaRefused("the WebM Info element has " + info.size() + " bytes (at most 65536 are read)");
        }
        int count = 0;
        for (long p = info.dataStart(); p < info.end(0); ) {
            Element e = known(element(p, info.end(0), "the Info element"), ++count);
            if (e.id() == TIMECODE_SCALE) {
                timecodeScale = uint(e);
                if (timecodeScale < 1) {
                    throw new MediaRefused("the WebM TimecodeScale is 0");
                }
            } else if (e.id() == DURATION) {
                if (e.size() == 4) {
                    duration = (double) Float.intBitsToFloat((int) r.uint(e.dataStart(), 4));
                } else if (e.size() == 8) {
                    duration = Double.longBitsToDouble(r.uint(e.dataStart(), 8));
                } else {
                    throw new MediaRefused("the WebM Duration has " + e.size() + " bytes (a float has 4 or 8)");
                }
                if (!(duration >= 0) || duration.isInfinite()) {
                    throw new MediaRefused("the WebM Duration is " + duration);
                }
            }
            p = e.end(0);
        }
    }

    private void tracks(Element tracks) throws IOException, MediaRefused {
        if (tracks.size() > RangeReader.MAX_READ) {
            throw new MediaRefused("the WebM Tracks element has " + tracks.size() + " bytes (at most "
                    + RangeReader.MAX_READ + " are read)");
        }
        int count = 0;
        for (long p = tracks.dataStart(); p < tracks.end(0); ) {
            Element entry = known(element(p, tracks.end(0), "the Tracks element"), ++count);
            if (entry.id() == TRACK_ENTRY) {
                long type = 0;
                long w = 0;
                long h = 0;
                for (long q = entry.dataStart(); q < entry.end(0); ) {
                    Element e = known(element(q, entry.end(0), "a TrackEntry"), ++count);
                    if (e.id() == TRACK_TYPE) {
                        type = uint(e);
                    } else if (e.id() == VIDEO) {
                        for (long v = e.dataStart(); v < e.end(0); ) {
                            Element f = known(element(v, e.end(0), "a Video element"), ++count);
                            if (f.id() == PIXEL_WIDTH) {
                                w = uint(f);
                            } else if (f.id() == PIXEL_HEIGHT) {
                                h = uint(f);
                            }
                            v = f.end(0);
                        }
                    }
                    q = e.end(0);
                }
                if (type == 2) {
                    hasAudio = true;
                } else if (type == 1 && !hasVideo) {
                    if (w < 1 || h < 1) {
                        throw new MediaRefused("the WebM video track has no PixelWidth and PixelHeight");
                    }
                    hasVideo = true;
                    width = w;
                    height = h;
                }
            }
            p = entry.end(0);
        }
    }

    /**
     * @return the timecode (in TimecodeScale units) of the last block of the last Cluster that parses cleanly,
     *     scanning backwards from the end in chunks, at most {@value #MAX_TAIL} bytes from the end
     */
    private double lastTimecode(long firstCluster, long segmentEnd) throws IOException, MediaRefused {
        long scannedFrom = segmentEnd;
        while (scannedFrom > firstCluster) {
            if (segmentEnd - scannedFrom >= MAX_TAIL) {
                throw new MediaRefused("the WebM file has no Duration, and no Cluster starts within its last "
                        + (MAX_TAIL >> 20) + " MiB");
            }
            long from = Math.max(firstCluster, scannedFrom - TAIL_CHUNK);
            // 3 bytes past the chunk scanned before, so that an ID across the boundary is seen
            int n = (int) (Math.min(scannedFrom + 3, segmentEnd) - from);
            byte[] chunk = r.bytes(from, n);
            for (int i = (int) (scannedFrom - from) - 1; i >= 0; i--) {
                if (i + 4 <= n && chunk[i] == CLUSTER_ID[0] && chunk[i + 1] == CLUSTER_ID[1]
                        && chunk[i + 2] == CLUSTER_ID[2] && chunk[i + 3] == CLUSTER_ID[3]) {
                    Double t = cluster(from + i, segmentEnd);
                    if (t != null) {
                        return t;
                    }
                }
            }
            scannedFrom = from;
        }
        throw new MediaRefused("the WebM file has no Duration and no readable Cluster");
    }

    /**
     * @return the Cluster at {@code pos}'s Timecode plus its blocks' largest relative timecode, or null if what is at
     *     {@code pos} does not parse as a whole Cluster (a Cluster ID inside some payload)
     */
    private Double cluster(long pos, long limit) throws IOException, MediaRefused {
        try {
            Element cluster = element(pos, limit, "a Cluster");
            long end = cluster.end(limit);
            Element first = element(cluster.dataStart(), end, "a Cluster");
            if (first.id() != TIMECODE || first.size() < 1 || first.size() > 8) {
                return null;
            }
            long timecode = r.uint(first.dataStart(), (int) first.size());
            if (timecode < 0) { // 2^63 and more: no clip is that long
                return null;
            }
            long last = 0;
            int count = 0;
            for (long p = first.end(end); p < end; ) {
                Element e = element(p, end, "a Cluster");
                if (cluster.size() < 0 && contains(TOP_LEVEL, e.id())) {
                    break; // the next level-1 element ends an unknown-size Cluster
                }
                if (!contains(CLUSTER_CHILDREN, e.id()) || e.size() < 0 || ++count > MAX_CLUSTER_CHILDREN) {
                    return null;
                }
                if (e.id() == SIMPLE_BLOCK) {
                    last = Math.max(last, blockTimecode(e.dataStart(), e.end(end)));
                } else if (e.id() == BLOCK_GROUP) {
                    for (long q = e.dataStart(); q < e.end(end); ) {
                        Element b = element(q, e.end(end), "a BlockGroup");
                        if (b.size() < 0) {
                            return null;
                        }
                        if (b.id() == BLOCK) {
                            last = Math.max(last, blockTimecode(b.dataStart(), b.end(end)));
                        }
                        q = b.end(end);
                    }
                }
                p = e.end(end);
            }
            return (double) timecode + last;
        } catch (MediaRefused notACluster) {
            if (r.exhausted()) {
                throw notACluster;
            }
            return null;
        }
    }

    /** @return a Block's timecode relative to its Cluster (a signed 16-bit value after the track number) */
    private long blockTimecode(long pos, long end) throws IOException, MediaRefused {
        int first = r.u8(pos);
        int trackLength = Integer.numberOfLeadingZeros(first) - 23;
        if (first == 0 || trackLength > 8 || pos + trackLength + 2 > end) {
            throw new MediaRefused("a WebM block is malformed");
        }
        return (short) r.uint(pos + trackLength, 2);
    }

    private long uint(Element e) throws IOException, MediaRefused {
        if (e.size() < 0 || e.size() > 8) {
            throw new MediaRefused("a WebM integer element has " + e.size() + " bytes (at most 8)");
        }
        return e.size() == 0 ? 0 : r.uint(e.dataStart(), (int) e.size()) & Long.MAX_VALUE;
    }

    private static Element known(Element e, int count) throws MediaRefused {
        if (e.size() < 0) {
            throw new MediaRefused("a WebM element other than Segment or Cluster has an unknown size");
        }
        if (count > MAX_ELEMENTS) {
            throw new MediaRefused("a WebM element has more than " + MAX_ELEMENTS + " children");
        }
        return e;
    }

    /**
     * Reads the element header at {@code pos}: an ID of 1-4 bytes and a size of 1-8 bytes (all ones: unknown).
     *
     * @param limit where the parent ends: a known size past it refuses the file as truncated or malformed
     */
    private Element element(long pos, long limit, String where) throws IOException, MediaRefused {
        int b = r.u8(pos);
        int idLength = Integer.numberOfLeadingZeros(b) - 23;
        if (b == 0 || idLength > 4) {
            throw new MediaRefused("the WebM file has a malformed element ID in " + where + " at byte " + pos);
        }
        long id = r.uint(pos, idLength);
        long s = pos + idLength;
        int first = r.u8(s);
        int sizeLength = Integer.numberOfLeadingZeros(first) - 23;
        if (first == 0) {
            throw new MediaRefused("the WebM file has a malformed element size in " + where + " at byte " + s);
        }
        long value = first & (0xFF >> sizeLength);
        boolean unknown = value == (0xFF >> sizeLength);
        for (int i = 1; i < sizeLength; i++) {
            int next = r.u8(s + i);
            value = value << 8 | next;
            unknown &= next == 0xFF;
        }
        long dataStart = s + sizeLength;
        if (unknown) {
            return new Element(id, dataStart, -1);
        }
        if (value > limit - dataStart) {
            throw new MediaRefused("the WebM file is truncated or malformed: an element in " + where + " declares "
                    + value + " bytes, past the end of what holds it (byte " + limit + ")");
        }
        return new Element(id, dataStart, value);
    }

    private static boolean contains(long[] ids, long id) {
        for (long i : ids) {
            if (i == id) {
                return true;
            }
        }
        return false;
    }
}
