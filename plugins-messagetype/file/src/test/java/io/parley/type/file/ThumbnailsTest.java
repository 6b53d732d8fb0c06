package io.parley.type.file;

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
        Thumbnails.ImageRefused refused = assertThrows(Thumbnails.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(bomb), "image/png"));
        assertTrue(refused.getMessage().contains("60000x60000"), refused.getMessage());
        assertTrue(refused.getMessage().contains("40000000"), refused.getMessage());
        assertTrue(System.nanoTime() - started < 2_000_000_000L, "refused without decoding");
        byte[] tall = withDimensions(image("png", 8, 8), 1, 70_000);
        assertThrows(Thumbnails.ImageRefused.class, () -> thumbnails.make(new ByteArrayInputStream(tall), "image/png"));
    }

    @Test
    void whatIsNotAnImageOrNotTheDeclaredTypeIsRefused() throws Exception {
        Thumbnails.ImageRefused notImage = assertThrows(Thumbnails.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream("<html>hi</html>".getBytes()), "image/png"));
        assertTrue(notImage.getMessage().contains("not an image"), notImage.getMessage());
        Thumbnails.ImageRefused other = assertThrows(Thumbnails.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(image("png", 10, 10)), "image/jpeg"));
        assertTrue(other.getMessage().contains("not image/jpeg"), other.getMessage());
        byte[] truncated = java.util.Arrays.copyOf(image("png", 200, 200), 120);
        assertThrows(Thumbnails.ImageRefused.class,
                () -> thumbnails.make(new ByteArrayInputStream(truncated), "image/png"));
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
