package io.parley.type.support.media;

import java.io.IOException;

/**
 * Ogg with Opus or Vorbis (the first logical stream): the duration is the granule position of the stream's last page
 * that has one — for Opus minus the pre-skip of its {@code OpusHead}, over 48,000; for Vorbis over the sample rate
 * of its identification header. The last page is found by scanning the tail backwards for {@code OggS} and accepting
 * only a page whose header, length and CRC check out. Reads the first page and at most {@value #MAX_TAIL} bytes of
 * the tail.
 */
final class Ogg {

    private static final int MAX_TAIL = 1 << 20;
    private static final int[] CRC = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int c = i << 24;
            for (int k = 0; k < 8; k++) {
                c = (c & 0x8000_0000) != 0 ? (c << 1) ^ 0x04C1_1DB7 : c << 1;
            }
            CRC[i] = c;
        }
    }

    private final RangeReader r;

    Ogg(RangeReader r) {
        this.r = r;
    }

    MediaInfo parse() throws IOException, MediaRefused {
        long size = r.size();
        if (size < 28 || r.uint(0, 4) != 0x4F676753L) { // OggS
            throw new MediaRefused("the object is not an Ogg file (no OggS page first)");
        }
        int segments = r.u8(26);
        if (r.u8(4) != 0 || (r.u8(5) & 0x02) == 0 || 27 + segments > size) {
            throw new MediaRefused("the first Ogg page is malformed (not the start of a stream)");
        }
        long serial = r.uintLe(14, 4);
        int firstPacket = 0;
        for (int i = 0; i < segments; i++) {
            int lace = r.u8(27 + i);
            firstPacket += lace;
            if (lace < 255) {
                break;
            }
        }
        long body = 27 + segments;
        byte[] head = r.bytes(body, (int) Math.min(Math.min(firstPacket, 64), size - body));
        long rate;
        long preSkip = 0;
        if (startsWith(head, "OpusHead") && head.length >= 19) {
            rate = 48_000;
            preSkip = (head[10] & 0xff) | (head[11] & 0xff) << 8;
        } else if (head.length >= 16 && head[0] == 1 && startsWith(head, 1, "vorbis")) {
            rate = (head[12] & 0xffL) | (head[13] & 0xffL) << 8 | (head[14] & 0xffL) << 16 | (head[15] & 0xffL) << 24;
            if (rate < 1) {
                throw new MediaRefused("the Vorbis header has a sample rate of 0");
            }
        } else {
            throw new MediaRefused("the Ogg file's first stream is neither Opus nor Vorbis");
        }
        long granule = lastGranule(serial);
        double ms = (granule - preSkip) * 1000.0 / rate;
        return new MediaInfo("ogg", Math.max(0, Math.round(ms)), true, false, 0, 0);
    }

    /** @return the granule position of the last whole, CRC-checked page of stream {@code serial} that has one */
    private long lastGranule(long serial) throws IOException, MediaRefused {
        long size = r.size();
        int n = (int) Math.min(size, MAX_TAIL);
        long from = size - n;
        byte[] tail = r.bytes(from, n);
        for (int i = n - 27; i >= 0; i--) {
            if (tail[i] != 'O' || tail[i + 1] != 'g' || tail[i + 2] != 'g' || tail[i + 3] != 'S' || tail[i + 4] != 0) {
                continue;
            }
            int segments = tail[i + 26] & 0xff;
            if (i + 27 + segments > n) {
                continue;
            }
            int length = 27 + segments;
            for (int k = 0; k < segments; k++) {
                length += tail[i + 27 + k] & 0xff;
            }
            if (i + length > n || le(tail, i + 14, 4) != serial || crc(tail, i, length) != (int) le(tail, i + 22, 4)) {
                continue;
            }
            long granule = le(tail, i + 6, 8);
            if (granule != -1) {
                if (granule < 0) {
                    throw new MediaRefused("the last Ogg page has a negative granule position");
                }
                return granule;
            }
        }
        throw new MediaRefused("no whole Ogg page with a granule position in the last " + n + " bytes of the file");
    }

    private static int crc(byte[] b, int at, int length) {
        int c = 0;
        for (int i = 0; i < length; i++) {
            int v = (i >= 22 && i < 26) ? 0 : b[at + i] & 0xff; // the CRC field counts as zeros
            c = (c << 8) ^ CRC[((c >>> 24) ^ v) & 0xff];
        }
        return c;
    }

    private static long le(byte[] b, int at, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (b[at + i] & 0xff);
        }
        return v;
    }

    private static boolean startsWith(byte[] b, String s) {
        return startsWith(b, 0, s);
    }

    private static boolean startsWith(byte[] b, int at, String s) {
        if (b.length < at + s.length()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (b[at + i] != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
