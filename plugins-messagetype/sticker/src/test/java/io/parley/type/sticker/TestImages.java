package io.parley.type.sticker;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.CRC32;

/** Images for the tests, made with Image I/O or byte by byte. */
final class TestImages {

    private TestImages() {
    }

    /** A gradient of {@code width} x {@code height} in {@code format} (png, gif, jpeg); {@code seed} varies it. */
    static byte[] image(String format, int width, int height, int seed) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, (x * 255 / width) << 16 | (y * 255 / height) << 8 | (seed * 37 & 0xff));
            }
        }
        return write(img, format);
    }

    /** Random pixels: a PNG that compresses badly, so it is large for its size. */
    static byte[] noisyPng(int width, int height) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Random random = new Random(7);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, random.nextInt(0x1000000));
            }
        }
        return write(img, "png");
    }

    private static byte[] write(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(img, format, out)) {
            throw new IllegalStateException("no writer for " + format);
        }
        return out.toByteArray();
    }

    /** Rewrites the IHDR chunk's width and height (and its CRC) of a PNG: a header that lies about the pixels. */
    static byte[] withDimensions(byte[] png, int width, int height) {
        byte[] copy = png.clone();
        ByteBuffer b = ByteBuffer.wrap(copy);
        // signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC (4)
        b.putInt(16, width);
        b.putInt(20, height);
        CRC32 crc = new CRC32();
        crc.update(copy, 12, 17);
        b.putInt(29, (int) crc.getValue());
        return copy;
    }

    /** A grayscale progressive JPEG: a DC scan, then {@code scans - 1} AC scans that are one EOB run each. */
    static byte[] scanBomb(int width, int height, int scans) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0xFF);
        out.write(0xD8);
        byte[] dqt = new byte[65];
        java.util.Arrays.fill(dqt, 1, 65, (byte) 1);
        segment(out, 0xDB, dqt);
        segment(out, 0xC2, new byte[] {8, (byte) (height >> 8), (byte) height, (byte) (width >> 8), (byte) width, 1,
                1, 0x11, 0});
        byte[] dht = new byte[18];
        dht[1] = 1; // one code of length 1
        segment(out, 0xC4, dht); // DC table 0: the symbol 0 (no difference)
        byte[] ac = dht.clone();
        ac[0] = 0x10;
        ac[17] = (byte) 0xE0;
        segment(out, 0xC4, ac); // AC table 0: EOB14 (an end-of-band run of 16384 + 14 bits)
        int blocks = ((width + 7) / 8) * ((height + 7) / 8);
        segment(out, 0xDA, new byte[] {1, 1, 0, 0, 0, 0});
        out.writeBytes(entropy("0".repeat(blocks)));
        byte[] eobRuns = entropy(("0" + "1".repeat(14)).repeat((blocks + 32766) / 32767));
        for (int i = 1; i < scans; i++) {
            segment(out, 0xDA, new byte[] {1, 1, 0, 1, 63, 0});
            out.writeBytes(eobRuns);
        }
        out.write(0xFF);
        out.write(0xD9);
        return out.toByteArray();
    }

    private static void segment(ByteArrayOutputStream out, int marker, byte[] payload) {
        out.write(0xFF);
        out.write(marker);
        out.write((payload.length + 2) >> 8);
        out.write(payload.length + 2);
        out.writeBytes(payload);
    }

    /** Bits to bytes, padded with 1s, every 0xFF followed by a stuffed 0x00. */
    private static byte[] entropy(String bits) {
        String padded = bits + "1".repeat((8 - bits.length() % 8) % 8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < padded.length(); i += 8) {
            int v = Integer.parseInt(padded.substring(i, i + 8), 2);
            out.write(v);
            if (v == 0xFF) {
                out.write(0);
            }
        }
        return out.toByteArray();
    }

    /** A lossless WebP header (VP8L) declaring {@code width} x {@code height}; no valid pixel data follows. */
    static byte[] webpLossless(int width, int height) {
        ByteBuffer b = riff("VP8L", 10);
        b.put((byte) 0x2f);
        b.putInt((width - 1) | (height - 1) << 14);
        return b.array();
    }

    /** An extended WebP header (VP8X) declaring a canvas of {@code width} x {@code height}. */
    static byte[] webpExtended(int width, int height) {
        ByteBuffer b = riff("VP8X", 10);
        b.putInt(0);
        put24(b, width - 1);
        put24(b, height - 1);
        return b.array();
    }

    private static ByteBuffer riff(String chunk, int chunkSize) {
        int total = 20 + chunkSize + 10;
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(total - 8).put("WEBP".getBytes(StandardCharsets.US_ASCII));
        b.put(chunk.getBytes(StandardCharsets.US_ASCII)).putInt(chunkSize);
        return b;
    }

    private static void put24(ByteBuffer b, int value) {
        b.put((byte) value).put((byte) (value >> 8)).put((byte) (value >> 16));
    }
}
