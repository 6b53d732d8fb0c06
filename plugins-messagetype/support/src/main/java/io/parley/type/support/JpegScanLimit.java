package io.parley.type.support;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Passes a JPEG's bytes through to a decoder and fails the read, with {@link TooManyScans}, once the stream has
 * shown more than {@code maxScans} scans (SOS markers). A progressive JPEG may have any number of scans, and the
 * JDK's decoder works through the whole image for each of them (and outputs every one of them): a file of a few
 * hundred kilobytes made of thousands of empty scans over a 40-megapixel frame costs minutes of CPU while its header
 * looks harmless. Real encoders write one scan (baseline) or about ten (progressive).
 *
 * <p>The markers are followed as a decoder does: segments are skipped by their length (so a thumbnail inside an
 * APPn segment is not counted), and inside entropy-coded data only a {@code 0xFF} followed by something else than
 * {@code 0x00}, a restart marker or fill is a marker. Every scan of the stream counts, those of images after the
 * first included. Not thread-safe (one decoder reads it); mark and reset are not supported.
 */
public final class JpegScanLimit extends FilterInputStream {

    /** The read that would have passed the limit. */
    public static final class TooManyScans extends IOException {
        TooManyScans(int maxScans) {
            super("the JPEG image has more than " + maxScans + " scans");
        }
    }

    private static final int SOS = 0xDA;
    private static final int EOI = 0xD9;

    private enum State { SOI_FF, SOI, MARKER_FF, MARKER, LENGTH_HI, LENGTH_LO, SEGMENT, ENTROPY, ENTROPY_FF, NOT_JPEG }

    private final int maxScans;
    private State state = State.SOI_FF;
    private int marker;
    private int remaining;
    private int scans;

    /** @param maxScans the most scans the stream may have */
    public JpegScanLimit(InputStream in, int maxScans) {
        super(in);
        this.maxScans = maxScans;
    }

    /** @return the scans seen so far */
    public int scans() {
        return scans;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            feed(b);
        }
        return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        int n = in.read(buffer, offset, length);
        for (int i = 0; i < n; i++) {
            feed(buffer[offset + i] & 0xff);
        }
        return n;
    }

    /** Skips by reading, so that every byte is looked at. */
    @Override
    public long skip(long n) throws IOException {
        byte[] scratch = new byte[(int) Math.min(8192, Math.max(0, n))];
        long skipped = 0;
        while (skipped < n) {
            int r = read(scratch, 0, (int) Math.min(scratch.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public synchronized void mark(int readlimit) {
        // not supported
    }

    @Override
    public synchronized void reset() throws IOException {
        throw new IOException("mark/reset not supported");
    }

    private void feed(int b) throws TooManyScans {
        switch (state) {
            case SOI_FF -> state = b == 0xFF ? State.SOI : State.NOT_JPEG;
            case SOI -> state = b == 0xD8 ? State.MARKER_FF : State.NOT_JPEG;
            case MARKER_FF -> {
                if (b == 0xFF) {
                    state = State.MARKER;
                }
                // anything else: extraneous bytes between segments, which decoders skip
            }
            case MARKER -> marker(b);
            case LENGTH_HI -> {
                remaining = b << 8;
                state = State.LENGTH_LO;
            }
            case LENGTH_LO -> {
                remaining = (remaining | b) - 2;
                if (marker == SOS && ++scans > maxScans) {
                    throw new TooManyScans(maxScans);
                }
                if (remaining < 0) {
                    state = State.NOT_JPEG; // malformed: the decoder refuses it
                } else if (remaining == 0) {
                    segmentDone();
                } else {
                    state = State.SEGMENT;
                }
            }
            case SEGMENT -> {
                if (--remaining == 0) {
                    segmentDone();
                }
            }
            case ENTROPY -> {
                if (b == 0xFF) {
                    state = State.ENTROPY_FF;
                }
            }
            case ENTROPY_FF -> {
                if (b == 0x00 || (b >= 0xD0 && b <= 0xD7)) {
                    state = State.ENTROPY; // a stuffed 0xFF or a restart marker: the scan goes on
                } else if (b != 0xFF) {
                    marker(b);
                }
            }
            case NOT_JPEG -> {
                // not followed: the decoder decides
            }
        }
    }

    /** The byte after a marker's 0xFF. */
    private void marker(int b) {
        if (b == 0xFF) {
            state = State.MARKER; // fill
        } else if (b == 0x00 || b == 0x01 || b == 0xD8 || b == EOI || (b >= 0xD0 && b <= 0xD7)) {
            state = State.MARKER_FF; // no length follows (an EOI may be followed by further images)
        } else {
            marker = b;
            state = State.LENGTH_HI;
        }
    }

    private void segmentDone() {
        state = marker == SOS ? State.ENTROPY : State.MARKER_FF;
    }
}
