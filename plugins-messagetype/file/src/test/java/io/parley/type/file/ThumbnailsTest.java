package io.parley.type.file;

import io.parley.type.support.ImageHeaders;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThumbnailsTest {

    final Thumbnails thumbnails = new Thumbnails(40_000_000L, 320);

    static byte[] image(String format, int width, int height) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, (x * 255 / width) << 16 | (y * 255 / height) << 8 | 0x40);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out), format);
        return out.toByteArray();
    }

    @Test
    void aLandscapePngGetsAThumbnailOfTheMaximumSideKeepingItsAspect() throws Exception {
        Thumbnails.Thumbnail t = thumbnails.make(new ByteArrayInputStream(image("png", 1600, 900)), "image/png");
        assertEquals(1600, t.width());
        assertEquals(900, t.height());
        assertEquals(320, t.thumbWidth());
        assertEquals(180, t.thumbHeight());
        BufferedImage back = ImageIO.read(new ByteArrayInputStream(t.jpeg()));
        assertEquals(320, back.getWidth());
        assertEquals(180, back.getHeight());
    }

    @Test
    void aSmallJpegIsNotEnlarged() throws Exception {
        Thumbnails.Thumbnail t = thumbnails.make(new ByteArrayInputStream(image("jpeg", 40, 90)), "image/jpeg");
        assertEquals(40, t.thumbWidth());
        assertEquals(90, t.thumbHeight());
    }

    @Test
    void gifAndBmpAreRead() throws Exception {
        assertEquals(100, thumbnails.make(new ByteArrayInputStream(image("gif", 100, 50)), "image/gif").width());
        assertEquals(100, thumbnails.make(new ByteArrayInputStream(image("bmp", 100, 50)), "image/bmp").width());
    }

    /** A 2 KB PNG whose header claims 60000 x 60000 pixels is refused from its header, before any decoding. */
    @Test
    void aDecompressionBombIsRefusedFromItsHeader() throws Exception {
        byte[] bomb = withDimensions(image("png", 8, 8), 60_000, 60_000);
        long started = System.nanoTime();
        ImageHeaders.ImageRefused refused = assertThrows(ImageHeaders.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(bomb), "image/png"));
        assertTrue(refused.getMessage().contains("60000x60000"), refused.getMessage());
        assertTrue(refused.getMessage().contains("40000000"), refused.getMessage());
        assertTrue(System.nanoTime() - started < 2_000_000_000L, "refused without decoding");
        byte[] tall = withDimensions(image("png", 8, 8), 1, 70_000);
        assertThrows(ImageHeaders.ImageRefused.class, () -> thumbnails.make(new ByteArrayInputStream(tall), "image/png"));
    }

    @Test
    void whatIsNotAnImageOrNotTheDeclaredTypeIsRefused() throws Exception {
        ImageHeaders.ImageRefused notImage = assertThrows(ImageHeaders.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream("<html>hi</html>".getBytes()), "image/png"));
        assertTrue(notImage.getMessage().contains("not an image"), notImage.getMessage());
        ImageHeaders.ImageRefused other = assertThrows(ImageHeaders.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(image("png", 10, 10)), "image/jpeg"));
        assertTrue(other.getMessage().contains("not image/jpeg"), other.getMessage());
        byte[] truncated = java.util.Arrays.copyOf(image("png", 200, 200), 120);
        assertThrows(ImageHeaders.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(truncated), "image/png"));
        // a header the decoder cannot read is the image's fault (INVALID_BODY), not the store's (a retryable failure)
        byte[] badHeader = {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xDB, 0, 2, (byte) 0xFF, (byte) 0xC0, 0, 4,
                1, 2, (byte) 0xFF, (byte) 0xD9};
        ImageHeaders.ImageRefused header = assertThrows(ImageHeaders.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(badHeader), "image/jpeg"));
        assertTrue(header.getMessage().contains("cannot be read"), header.getMessage());
    }

    /**
     * A 1000-scan progressive JPEG of 2000 x 2000 pixels: 50 KB whose header is harmless, while the JDK's decoder
     * works through the whole frame (and outputs it) once per scan. Refused once its scans pass the limit.
     */
    @Test
    void aJpegWithThousandsOfScansIsRefusedAtTheScanLimit() throws Exception {
        byte[] bomb = scanBomb(2000, 2000, 1000);
        assertTrue(bomb.length < 100_000, bomb.length + " bytes");
        long started = System.nanoTime();
        ImageHeaders.ImageRefused refused = assertThrows(ImageHeaders.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(bomb), "image/jpeg"));
        assertTrue(refused.getMessage().contains("more than " + Thumbnails.MAX_JPEG_SCANS + " scans"),
                refused.getMessage());
        assertTrue(System.nanoTime() - started < 5_000_000_000L, "refused at the limit, not after every scan");
        // at the limit it is read: the limit is about scans, not about this file
        Thumbnails.Thumbnail atLimit = thumbnails.make(new ByteArrayInputStream(
                scanBomb(200, 100, Thumbnails.MAX_JPEG_SCANS)), "image/jpeg");
        assertEquals(200, atLimit.width());
    }

    @Test
    void anOrdinaryProgressiveJpegIsRead() throws Exception {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(image("png", 800, 600)));
        javax.imageio.ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        javax.imageio.ImageWriteParam param = writer.getDefaultWriteParam();
        param.setProgressiveMode(javax.imageio.ImageWriteParam.MODE_DEFAULT);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (javax.imageio.stream.ImageOutputStream o = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(o);
            writer.write(null, new javax.imageio.IIOImage(img, null, null), param);
        }
        Thumbnails.Thumbnail t = thumbnails.make(new ByteArrayInputStream(out.toByteArray()), "image/jpeg");
        assertEquals(800, t.width());
        assertEquals(320, t.thumbWidth());
    }

    /**
     * A BMP whose header says 100 x 100 but whose pixels are a JPEG (compression 4) or a PNG (5): the JDK decodes the
     * wrapped image at its own size, past the pixel limit (a progressive one of 20000 x 20000 takes gigabytes of native
     * memory). Refused from the BMP header, before any decoding.
     */
    @Test
    void aBmpWrappingAJpegOrAPngIsRefusedBeforeDecoding() throws Exception {
        byte[][] wrapped = {scanBomb(4000, 4000, 2), image("png", 300, 300)};
        for (int i = 0; i < wrapped.length; i++) {
            byte[] bmp = bmpWrapping(wrapped[i], 100, 100, 4 + i);
            ImageHeaders.ImageRefused refused = assertThrows(ImageHeaders.ImageRefused.class,
                    () -> thumbnails.make(new ByteArrayInputStream(bmp), "image/bmp"));
            assertTrue(refused.getMessage().contains("compression " + (4 + i)), refused.getMessage());
        }
        // plain and RLE BMPs are still read
        assertEquals(100, thumbnails.make(new ByteArrayInputStream(image("bmp", 100, 50)), "image/bmp").width());
    }

    /** A grayscale progressive JPEG: a DC scan, then {@code scans - 1} AC scans that are one EOB run each. */
    static byte[] scanBomb(int width, int height, int scans) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0xFF, (byte) 0xD8});
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
        out.write(entropy("0".repeat(blocks)));
        byte[] eobRuns = entropy(("0" + "1".repeat(14)).repeat((blocks + 32766) / 32767));
        for (int i = 1; i < scans; i++) {
            segment(out, 0xDA, new byte[] {1, 1, 0, 1, 63, 0});
            out.write(eobRuns);
        }
        out.write(new byte[] {(byte) 0xFF, (byte) 0xD9});
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

    /** A BMP (BITMAPINFOHEADER) of the given size and compression whose pixel data is {@code inner}. */
    static byte[] bmpWrapping(byte[] inner, int width, int height, int compression) {
        ByteBuffer b = ByteBuffer.allocate(54 + inner.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'B').put((byte) 'M').putInt(54 + inner.length).putInt(0).putInt(54);
        b.putInt(40).putInt(width).putInt(height).putShort((short) 1).putShort((short) 0).putInt(compression)
                .putInt(inner.length).putInt(0).putInt(0).putInt(0).putInt(0);
        return b.put(inner).array();
    }

    /** Rewrites the IHDR chunk's width and height (and its CRC) of a PNG. */
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
}
