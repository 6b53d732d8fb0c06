package io.parley.type.support.media;

import java.io.IOException;

/**
 * MP4 (ISO base media): the top-level boxes are walked by their sizes from {@code ftyp} (which must come first) to
 * {@code moov}, wherever it is (before or after {@code mdat}). Duration from {@code mvhd} (duration / timescale);
 * when that is 0 or unknown — a fragmented file as browsers' MediaRecorder and {@code -movflags frag_keyframe}
 * write — from {@code mvex/mehd}, else from the last {@code moof} (found by scanning the tail backwards): per track
 * fragment {@code tfdt} plus the sample durations of its {@code trun}s, over the track's {@code mdhd} timescale.
 * Video size from the first video track's {@code tkhd} (handler {@code vide}). Only small boxes on that path are
 * read; counts and the tail scan are bounded.
 */
final class Mp4 {

    private static final int MAX_BOXES = 4096;
    private static final long MAX_TAIL = 16L << 20;
    private static final int TAIL_CHUNK = RangeReader.MAX_READ - 8;
    private static final int MAX_TRACKS = 64;

    private record Box(String type, long start, long dataStart, long end) {
    }

    private final RangeReader r;
    private long movieTimescale;
    private long movieDuration;
    private long fragmentDuration;
    private final long[] trackIds = new long[MAX_TRACKS];
    private final long[] trackTimescales = new long[MAX_TRACKS];
    private final long[] trexDurations = new long[MAX_TRACKS];
    private int tracks;
    private int trexes;
    private final long[] trexIds = new long[MAX_TRACKS];
    private boolean hasAudio;
    private boolean hasVideo;
    private int width;
    private int height;

    Mp4(RangeReader r) {
        this.r = r;
    }

    MediaInfo parse() throws IOException, MediaRefused {
        long size = r.size();
        if (size < 8 || r.uint(4, 4) != 0x66747970L) { // ftyp
            throw new MediaRefused("the object is not an MP4 file (no ftyp box first)");
        }
        Box moov = null;
        int count = 0;
        for (long p = 0; p < size; ) {
            if (++count > MAX_BOXES) {
                throw new MediaRefused("the MP4 file has more than " + MAX_BOXES + " boxes before its moov box");
            }
            Box b = box(p, size);
            if (b.type().equals("moov")) {
                moov = b;
                break;
            }
            p = b.end();
        }
        if (moov == null) {
            throw new MediaRefused("the MP4 file has no moov box");
        }
        children(moov, this::moovChild);
        if (movieTimescale < 1) {
            throw new MediaRefused("the MP4 file has no mvhd box with a timescale");
        }
        if (!hasAudio && !hasVideo) {
            throw new MediaRefused("the MP4 file has no audio or video track");
        }
        double ms;
        if (movieDuration > 0 && movieDuration != 0xFFFF_FFFFL && movieDuration != -1) {
            ms = movieDuration * 1000.0 / movieTimescale;
        } else if (fragmentDuration > 0) {
            ms = fragmentDuration * 1000.0 / movieTimescale;
        } else {
            ms = lastFragmentEnd(moov.end());
        }
        if (!(ms >= 0) || ms > 1e12) {
            throw new MediaRefused("the MP4 file declares a duration of " + ms + " ms");
        }
        return new MediaInfo("mp4", Math.round(ms), hasAudio, hasVideo, width, height);
    }

    @FunctionalInterface
    private interface Visitor {
        void visit(Box b) throws IOException, MediaRefused;
    }

    private void children(Box parent, Visitor visitor) throws IOException, MediaRefused {
        int count = 0;
        for (long p = parent.dataStart(); p < parent.end(); ) {
            if (++count > MAX_BOXES) {
                throw new MediaRefused("an MP4 " + parent.type() + " box has more than " + MAX_BOXES + " children");
            }
            Box b = box(p, parent.end());
            visitor.visit(b);
            p = b.end();
        }
    }

    private void moovChild(Box b) throws IOException, MediaRefused {
        switch (b.type()) {
            case "mvhd" -> {
                boolean v1 = version(b) == 1;
                need(b, v1 ? 32 : 20);
                movieTimescale = r.uint(b.dataStart() + (v1 ? 20 : 12), 4);
                movieDuration = v1 ? r.uint(b.dataStart() + 24, 8) : r.uint(b.dataStart() + 16, 4);
            }
            case "mvex" -> children(b, c -> {
                if (c.type().equals("mehd")) {
                    boolean v1 = version(c) == 1;
                    need(c, v1 ? 12 : 8);
                    fragmentDuration = v1 ? r.uint(c.dataStart() + 4, 8) : r.uint(c.dataStart() + 4, 4);
                } else if (c.type().equals("trex") && trexes < MAX_TRACKS) {
                    need(c, 24);
                    trexIds[trexes] = r.uint(c.dataStart() + 4, 4);
                    trexDurations[trexes++] = r.uint(c.dataStart() + 12, 4);
                }
            });
            case "trak" -> trak(b);
            default -> {
                // not needed
            }
        }
    }

    private void trak(Box trak) throws IOException, MediaRefused {
        long[] id = {0};
        long[] timescale = {0};
        String[] handler = {""};
        int[] size = {0, 0};
        children(trak, b -> {
            if (b.type().equals("tkhd")) {
                boolean v1 = version(b) == 1;
                need(b, v1 ? 96 : 84);
                id[0] = r.uint(b.dataStart() + (v1 ? 20 : 12), 4);
                size[0] = (int) (r.uint(b.dataStart() + (v1 ? 88 : 76), 4) >>> 16); // 16.16 fixed point
                size[1] = (int) (r.uint(b.dataStart() + (v1 ? 92 : 80), 4) >>> 16);
            } else if (b.type().equals("mdia")) {
                children(b, m -> {
                    if (m.type().equals("mdhd")) {
                        boolean v1 = version(m) == 1;
                        need(m, v1 ? 24 : 16);
                        timescale[0] = r.uint(m.dataStart() + (v1 ? 20 : 12), 4);
                    } else if (m.type().equals("hdlr")) {
                        need(m, 12);
                        handler[0] = fourCc(m.dataStart() + 8);
                    }
                });
            }
        });
        if (tracks < MAX_TRACKS) {
            trackIds[tracks] = id[0];
            trackTimescales[tracks++] = timescale[0];
        }
        if (handler[0].equals("soun")) {
            hasAudio = true;
        } else if (handler[0].equals("vide") && !hasVideo) {
            if (size[0] < 1 || size[1] < 1) {
                throw new MediaRefused("the MP4 video track has no width and height in its tkhd box");
            }
            hasVideo = true;
            width = size[0];
            height = size[1];
        }
    }

    /** @return the end of the last movie fragment in ms: its latest track fragment's tfdt plus its samples' durations */
    private double lastFragmentEnd(long from) throws IOException, MediaRefused {
        long size = r.size();
        long scannedFrom = size;
        while (scannedFrom > from) {
            if (size - scannedFrom >= MAX_TAIL) {
                break;
            }
            long start = Math.max(from, scannedFrom - TAIL_CHUNK);
            // box starts in [start, scannedFrom): their types may reach 8 bytes past scannedFrom
            int n = (int) (Math.min(scannedFrom + 8, size) - start);
            byte[] chunk = r.bytes(start, n);
            for (int i = (int) (scannedFrom - start) - 1; i >= 0; i--) {
                if (i + 8 <= n && chunk[i + 4] == 'm' && chunk[i + 5] == 'o' && chunk[i + 6] == 'o'
                        && chunk[i + 7] == 'f') {
                    Double end = moof(start + i, size);
                    if (end != null) {
                        return end;
                    }
                }
            }
            scannedFrom = start;
        }
        throw new MediaRefused("the MP4 file does not say how long it is (no duration in mvhd or mehd, and no movie "
                + "fragment with a tfdt near its end)");
    }

    /** @return the end in ms of the movie fragment at {@code pos}, or null if it is not a whole moof with a tfdt */
    private Double moof(long pos, long limit) throws IOException, MediaRefused {
        try {
            Box moof = box(pos, limit);
            if (!moof.type().equals("moof") || !box(moof.dataStart(), moof.end()).type().equals("mfhd")) {
                return null;
            }
            double[] latest = {-1};
            children(moof, traf -> {
                if (traf.type().equals("traf")) {
                    double end = traf(traf);
                    latest[0] = Math.max(latest[0], end);
                }
            });
            return latest[0] < 0 ? null : latest[0];
        } catch (MediaRefused notAMoof) {
            if (r.exhausted()) {
                throw notAMoof;
            }
            return null;
        }
    }

    /** @return the end in ms of a track fragment's samples; refused if it has no tfdt or no known timescale */
    private double traf(Box traf) throws IOException, MediaRefused {
        long[] track = {0, 0}; // id, default sample duration
        long[] decode = {-1};
        long[] total = {0};
        children(traf, b -> {
            switch (b.type()) {
                case "tfhd" -> {
                    need(b, 8);
                    long flags = r.uint(b.dataStart(), 4) & 0xFFFFFF;
                    track[0] = r.uint(b.dataStart() + 4, 4);
                    long at = b.dataStart() + 8 + ((flags & 0x01) != 0 ? 8 : 0) + ((flags & 0x02) != 0 ? 4 : 0);
                    if ((flags & 0x08) != 0) {
                        need(b, at + 4 - b.dataStart());
                        track[1] = r.uint(at, 4);
                    } else {
                        track[1] = trexDuration(track[0]);
                    }
                }
                case "tfdt" -> {
                    boolean v1 = version(b) == 1;
                    need(b, v1 ? 12 : 8);
                    decode[0] = v1 ? r.uint(b.dataStart() + 4, 8) : r.uint(b.dataStart() + 4, 4);
                }
                case "trun" -> {
                    need(b, 8);
                    long flags = r.uint(b.dataStart(), 4) & 0xFFFFFF;
                    long samples = r.uint(b.dataStart() + 4, 4);
                    long at = b.dataStart() + 8 + ((flags & 0x01) != 0 ? 4 : 0) + ((flags & 0x04) != 0 ? 4 : 0);
                    int each = Long.bitCount(flags & 0xF00) * 4;
                    if (at + samples * each > b.end()) {
                        throw new MediaRefused("an MP4 trun box declares more samples than it holds");
                    }
                    if ((flags & 0x100) == 0) {
                        total[0] += samples * track[1];
                    } else {
                        for (long s = 0; s < samples; s++) {
                            total[0] += r.uint(at + s * each, 4);
                        }
                    }
                }
                default -> {
                    // not needed
                }
            }
        });
        long timescale = 0;
        for (int i = 0; i < tracks; i++) {
            if (trackIds[i] == track[0]) {
                timescale = trackTimescales[i];
            }
        }
        if (decode[0] < 0 || timescale < 1) {
            throw new MediaRefused("an MP4 track fragment has no tfdt or names an unknown track");
        }
        return (decode[0] + total[0]) * 1000.0 / timescale;
    }

    private long trexDuration(long trackId) {
        for (int i = 0; i < trexes; i++) {
            if (trexIds[i] == trackId) {
                return trexDurations[i];
            }
        }
        return 0;
    }

    private int version(Box b) throws IOException, MediaRefused {
        need(b, 4);
        return r.u8(b.dataStart());
    }

    private static void need(Box b, long bytes) throws MediaRefused {
        if (b.end() - b.dataStart() < bytes) {
            throw new MediaRefused("an MP4 " + b.type() + " box is too short (" + (b.end() - b.dataStart())
                    + " bytes)");
        }
    }

    private String fourCc(long pos) throws IOException, MediaRefused {
        char[] c = new char[4];
        for (int i = 0; i < 4; i++) {
            c[i] = (char) r.u8(pos + i);
        }
        return new String(c);
    }

    /** Reads a box header: a 32-bit size (1: a 64-bit size follows; 0: to the end of the parent) and a type. */
    private Box box(long pos, long limit) throws IOException, MediaRefused {
        if (limit - pos < 8) {
            throw new MediaRefused("the MP4 file has a malformed box at byte " + pos + " (fewer than 8 bytes left)");
        }
        long size = r.uint(pos, 4);
        String type = fourCc(pos + 4);
        long header = 8;
        if (size == 1) {
            if (limit - pos < 16) {
                throw new MediaRefused("the MP4 file has a malformed box at byte " + pos);
            }
            size = r.uint(pos + 8, 8);
            header = 16;
        } else if (size == 0) {
            size = limit - pos;
        }
        if (size < header || size > limit - pos) {
            throw new MediaRefused("the MP4 file is truncated or malformed: box " + type + " at byte " + pos
                    + " declares " + Long.toUnsignedString(size) + " bytes, past the end of what holds it (byte "
                    + limit + ")");
        }
        return new Box(type, pos, pos + header, pos + size);
    }
}
