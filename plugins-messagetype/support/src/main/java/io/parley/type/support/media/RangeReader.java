package io.parley.type.support.media;

import java.io.IOException;
import java.io.InputStream;

/**
 * Bounded random reads of a {@link MediaSource} for the container parsers: reads through a window of
 * {@value #WINDOW} bytes, and refuses (with {@link MediaRefused}) to fetch more than {@code maxBytes} in all or to
 * open the source more than {@code maxOpens} times, so a hostile file costs a bounded amount of I/O whatever it
 * declares. Nothing is ever allocated from a length read from the file: a single read is at most
 * {@value #MAX_READ} bytes, and callers ask only for what they parse. Reads past the end refuse the file as truncated.
 * Not thread-safe (one parse).
 */
final class RangeReader {

    static final int WINDOW = 64 * 1024;
    static final int MAX_READ = 1 << 20;

    private final MediaSource source;
    private final long size;
    private final long maxBytes;
    private final int maxOpens;
    private long fetched;
    private int opens;
    private boolean exhausted;
    private long windowStart = -1;
    private byte[] window = new byte[0];

    RangeReader(MediaSource source, long maxBytes, int maxOpens) {
        this.source = source;
        this.size = source.size();
        this.maxBytes = maxBytes;
        this.maxOpens = maxOpens;
    }

    long size() {
        return size;
    }

    /** @return true once a read was refused for going past the budget (every later read is refused too) */
    boolean exhausted() {
        return exhausted;
    }

    /** @return the byte at {@code pos} */
    int u8(long pos) throws IOException, MediaRefused {
        ensure(pos, 1);
        return window[(int) (pos - windowStart)] & 0xff;
    }

    /** @return {@code n} (at most {@value #MAX_READ}) bytes from {@code pos} */
    byte[] bytes(long pos, int n) throws IOException, MediaRefused {
        if (n < 0 || n > MAX_READ) {
            throw new IllegalArgumentException("read of " + n + " bytes");
        }
        if (n > WINDOW) {
            checkRange(pos, n);
            return fetch(pos, n);
        }
        ensure(pos, n);
        byte[] out = new byte[n];
        System.arraycopy(window, (int) (pos - windowStart), out, 0, n);
        return out;
    }

    /** @return the big-endian unsigned value of {@code n} (1-8) bytes at {@code pos} */
    long uint(long pos, int n) throws IOException, MediaRefused {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = v << 8 | u8(pos + i);
        }
        return v;
    }

    /** @return the little-endian unsigned value of {@code n} (1-8) bytes at {@code pos} */
    long uintLe(long pos, int n) throws IOException, MediaRefused {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | u8(pos + i);
        }
        return v;
    }

    private void ensure(long pos, int n) throws IOException, MediaRefused {
        checkRange(pos, n);
        if (windowStart >= 0 && pos >= windowStart && pos + n <= windowStart + window.length) {
            return;
        }
        int length = (int) Math.min(WINDOW, size - pos);
        window = fetch(pos, length);
        windowStart = pos;
    }

    private void checkRange(long pos, int n) throws MediaRefused {
        if (pos < 0 || pos + n > size) {
            throw new MediaRefused("the file is truncated: it has " + size + " bytes, and its structure needs bytes up "
                    + "to " + (pos + n));
        }
    }

    private byte[] fetch(long pos, int length) throws IOException, MediaRefused {
        if (++opens > maxOpens || fetched + length > maxBytes) {
            exhausted = true;
            throw new MediaRefused("the container's structure would take more than " + maxOpens + " reads or "
                    + maxBytes + " bytes to read; this server does not read that much of it");
        }
        fetched += length;
        try (InputStream in = source.open(pos)) {
            byte[] b = in.readNBytes(length);
            if (b.length < length) {
                throw new IOException("the object ended at " + (pos + b.length) + " of " + size + " bytes");
            }
            return b;
        }
    }
}
