package io.parley.type.support;

import org.junit.jupiter.api.Test;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JpegScanLimitTest {

    @Test
    void theScansOfRealJpegsAreCountedAndTheirBytesPassedThrough() throws Exception {
        for (boolean progressive : new boolean[] {false, true}) {
            byte[] jpeg = jpeg(progressive);
            JpegScanLimit in = new JpegScanLimit(new ByteArrayInputStream(jpeg), 64);
            assertArrayEquals(jpeg, readAll(in));
            assertEquals(progressive ? 10 : 1, in.scans(), "the JDK writes 10 progressive scans for YCbCr");
        }
    }

    /** SOS bytes in a segment (a thumbnail in APP1) and stuffed or restart bytes in scans are no scans. */
    @Test
    void onlyMarkersCountNotTheBytesOfSegmentsOrEntropyCodedData() throws Exception {
        byte[] stream = bytes(0xFF, 0xD8,
                0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xDA, 0xFF, 0xDA, 0xFF, 0xDA, // APP1 holding "FF DA" three times
                0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02, // SOS 1
                0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF, 0x00, 0x78, // entropy: stuffing, RST3, fill
                0xFF, 0xFF, 0xDA, 0x00, 0x03, 0x01, // SOS 2 after a fill byte
                0x9A, 0xBC,
                0xFF, 0xD9, // EOI
                0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9); // a second image: SOS 3
        JpegScanLimit in = new JpegScanLimit(new ByteArrayInputStream(stream), 3);
        assertArrayEquals(stream, readAll(in));
        assertEquals(3, in.scans());
        JpegScanLimit two = new JpegScanLimit(new ByteArrayInputStream(stream), 2);
        JpegScanLimit.TooManyScans e = assertThrows(JpegScanLimit.TooManyScans.class, () -> readAll(two));
        assertTrue(e.getMessage().contains("more than 2 scans"), e.getMessage());
    }

    @Test
    void theLimitStopsTheReadAtTheFirstScanTooManyAndSkipsAreLookedAt() throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(bytes(0xFF, 0xD8));
        for (int i = 0; i < 10_000; i++) {
            b.write(bytes(0xFF, 0xDA, 0x00, 0x03, 0x01, 0x55, 0x66));
        }
        JpegScanLimit in = new JpegScanLimit(new ByteArrayInputStream(b.toByteArray()), 100);
        assertThrows(JpegScanLimit.TooManyScans.class, () -> in.skip(Long.MAX_VALUE));
        assertEquals(101, in.scans());
        // not a JPEG: nothing is counted, everything passes
        byte[] png = bytes(0x89, 'P', 'N', 'G', 0xFF, 0xDA, 0x00, 0x03, 0x01);
        JpegScanLimit other = new JpegScanLimit(new ByteArrayInputStream(png), 0);
        assertArrayEquals(png, readAll(other));
        assertEquals(0, other.scans());
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(in.read()); // one byte alone, the rest in blocks
        in.transferTo(out);
        return out.toByteArray();
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    static byte[] jpeg(boolean progressive) throws IOException {
        BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 48; y++) {
            for (int x = 0; x < 64; x++) {
                img.setRGB(x, y, x * 4 << 16 | y * 5 << 8 | (x ^ y));
            }
        }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        if (progressive) {
            param.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageOutputStream o = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(o);
            writer.write(null, new IIOImage(img, null, null), param);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }
}
