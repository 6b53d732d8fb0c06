package io.parley.type.sticker;

import io.parley.type.support.JpegScanLimit;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;

/**
 * Checks a sticker image: its format (from its magic bytes) must be the declared content type, and its width and
 * height — read from the header <b>before</b> any pixel is decoded — at most {@code maxSide}; then the first frame is
 * decoded with the JDK's Image I/O to prove it is readable (at most {@code maxSide}² pixels are ever held). WebP has
 * no reader in the JDK: its header is checked (VP8, VP8L or VP8X) and it is decoded only when a reader is installed.
 * A JPEG may have at most {@value #MAX_JPEG_SCANS} scans (the decoder works through the whole frame for each).
 * Stateless, thread-safe; CPU-bound (call it from the sticker bundle's workers).
 */
final class StickerImages {

    static final String PNG = "image/png";
    static final String GIF = "image/gif";
    static final String WEBP = "image/webp";
    static final String JPEG = "image/jpeg";
    /** The most scans a JPEG may have: baseline has one, progressive encoders write about ten. */
    static final int MAX_JPEG_SCANS = 64;

    /** Thrown for an image that is refused: unreadable, of another type, or over the limit. For the client. */
    static final class ImageRefused extends Exception {
        ImageRefused(String message) {
            super(message);
        }
    }

    /** What a checked image is. */
    record Checked(String contentType, int width, int height) {
    }

    private final int maxSide;

    StickerImages(int maxSide) {
        this.maxSide = maxSide;
    }

    /**
     * @param image       the image's bytes
     * @param contentType what the caller declared
     * @return the image's type and dimensions
     * @throws ImageRefused with the reason, for the client
     */
    Checked check(byte[] image, String contentType) throws ImageRefused {
        String format = sniff(image);
        if (format == null) {
            throw new ImageRefused("the image is not a PNG, GIF, WebP or JPEG image");
        }
        if (!format.equals(contentType)) {
            throw new ImageRefused("the image is " + format + ", not " + contentType);
        }
        int[] size = switch (format) {
            case PNG -> pngSize(image);
            case GIF -> gifSize(image);
            case WEBP -> webpSize(image);
            default -> null; // JPEG: its size is in a SOF segment anywhere in the header; Image I/O finds it
        };
        if (size != null) {
            checkSides(size[0], size[1]);
        }
        int[] decoded = decode(image, format);
        if (decoded == null) {
            return new Checked(format, size[0], size[1]);
        }
        return size == null ? new Checked(format, decoded[0], decoded[1]) : new Checked(format, size[0], size[1]);
    }

    /** @return the media type the magic bytes say, or null */
    static String sniff(byte[] b) {
        if (b.length >= 24 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[4] == 0x0d
                && b[5] == 0x0a && b[6] == 0x1a && b[7] == 0x0a) {
            return PNG;
        }
        if (b.length >= 10 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8' && (b[4] == '7' || b[4] == '9')
                && b[5] == 'a') {
            return GIF;
        }
        if (b.length >= 30 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F' && b[8] == 'W' && b[9] == 'E'
                && b[10] == 'B' && b[11] == 'P') {
            return WEBP;
        }
        if (b.length >= 4 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff) {
            return JPEG;
        }
        return null;
    }

    private static int[] pngSize(byte[] b) throws ImageRefused {
        if (b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R') {
            throw new ImageRefused("the PNG image has no IHDR header");
        }
        return new int[] {be32(b, 16), be32(b, 20)};
    }

    /** The logical screen: what every frame is drawn on. */
    private static int[] gifSize(byte[] b) {
        return new int[] {le16(b, 6), le16(b, 8)};
    }

    private static int[] webpSize(byte[] b) throws ImageRefused {
        long riff = le32(b, 4) & 0xffffffffL;
        if (riff + 8 > b.length) {
            throw new ImageRefused("the WebP image is truncated");
        }
        String chunk = new String(b, 12, 4, java.nio.charset.StandardCharsets.US_ASCII);
        switch (chunk) {
            case "VP8 " -> {
                if ((b[23] & 0xff) != 0x9d || (b[24] & 0xff) != 0x01 || (b[25] & 0xff) != 0x2a) {
                    throw new ImageRefused("the WebP image has a malformed VP8 header");
                }
                return new int[] {le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff};
            }
            case "VP8L" -> {
                if ((b[20] & 0xff) != 0x2f) {
                    throw new ImageRefused("the WebP image has a malformed VP8L header");
                }
                int bits = le32(b, 21);
                return new int[] {(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1};
            }
            case "VP8X" -> {
                return new int[] {le24(b, 24) + 1, le24(b, 27) + 1};
            }
            default -> throw new ImageRefused("the WebP image has an unknown first chunk");
        }
    }

    private void checkSides(int width, int height) throws ImageRefused {
        if (width <= 0 || height <= 0 || width > maxSide || height > maxSide) {
            throw new ImageRefused("the image is " + Integer.toUnsignedString(width) + "x"
                    + Integer.toUnsignedString(height) + " pixels; at most " + maxSide + " on a side are accepted");
        }
    }

    /**
     * Decodes the first frame, after checking the reader's idea of its size.
     *
     * @return its width and height, or null when no reader is installed for WebP (the header check stands)
     */
    private int[] decode(byte[] image, String format) throws ImageRefused {
        Iterator<ImageReader> readers = ImageIO.getImageReadersByMIMEType(format);
        if (!readers.hasNext()) {
            if (format.equals(WEBP)) {
                return null;
            }
            throw new ImageRefused("this server cannot read " + format + " images");
        }
        ImageReader reader = readers.next();
        InputStream bytes = new ByteArrayInputStream(image);
        if (format.equals(JPEG)) {
            bytes = new JpegScanLimit(bytes, MAX_JPEG_SCANS);
        }
        try (ImageInputStream in = new MemoryCacheImageInputStream(bytes)) {
            reader.setInput(in, true, true);
            int width = reader.getWidth(0);
            int height = reader.getHeight(0);
            checkSides(width, height);
            reader.read(0);
            return new int[] {width, height};
        } catch (JpegScanLimit.TooManyScans e) {
            throw new ImageRefused(e.getMessage() + "; at most " + MAX_JPEG_SCANS + " are accepted");
        } catch (IOException | RuntimeException e) {
            throw new ImageRefused("the image cannot be decoded: " + e.getMessage());
        } finally {
            reader.dispose();
        }
    }

    private static int be32(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    private static int le16(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }

    private static int le24(byte[] b, int at) {
        return le16(b, at) | (b[at + 2] & 0xff) << 16;
    }

    private static int le32(byte[] b, int at) {
        return le24(b, at) | (b[at + 3] & 0xff) << 24;
    }
}
