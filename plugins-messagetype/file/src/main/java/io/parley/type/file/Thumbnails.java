package io.parley.type.file;

import io.parley.type.support.JpegScanLimit;

import javax.imageio.IIOException;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;

/**
 * Reads image dimensions from the header and makes JPEG thumbnails with the JDK's Image I/O. The pixel limit is
 * checked on the header's dimensions <b>before</b> any pixel is decoded, and decoding is subsampled so that at most
 * about four times the thumbnail's pixels are ever held: a decompression bomb costs a header read. What the header
 * does not show is bounded too: a JPEG may have at most {@value #MAX_JPEG_SCANS} scans (the decoder works through
 * the whole frame for each; thousands of empty ones are a CPU bomb), and a BMP must hold its own pixels (one that
 * wraps a JPEG or PNG, whose size its header does not give, is refused). Stateless, thread-safe; blocks on the stream
 * and on the CPU (call it from the file types' workers).
 */
final class Thumbnails {

    /** Thrown for an image that is refused: unreadable, or over the limits. The message is for the client. */
    static final class ImageRefused extends Exception {
        ImageRefused(String message) {
            super(message);
        }
    }

    /** The result: the source's dimensions and the thumbnail. */
    record Thumbnail(int width, int height, byte[] jpeg, int thumbWidth, int thumbHeight) {
    }

    private static final int MAX_SIDE = 65_535;
    /** The most scans a JPEG may have: baseline has one, progressive encoders write about ten. */
    static final int MAX_JPEG_SCANS = 64;

    private final long maxPixels;
    private final int maxSide;

    Thumbnails(long maxPixels, int thumbnailMaxSide) {
        this.maxPixels = maxPixels;
        this.maxSide = thumbnailMaxSide;
    }

    /**
     * @param image       the image's bytes; read, not closed
     * @param contentType what the uploader declared; the decoder must agree with it
     */
    Thumbnail make(InputStream image, String contentType) throws IOException, ImageRefused {
        InputStream source = contentType.equals("image/jpeg") ? new JpegScanLimit(image, MAX_JPEG_SCANS) : image;
        try (ImageInputStream in = new MemoryCacheImageInputStream(source)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new ImageRefused("the object is not an image this server can read");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                String format = reader.getOriginatingProvider() == null ? ""
                        : String.join(",", reader.getOriginatingProvider().getMIMETypes());
                if (!format.contains(contentType) && !(contentType.equals("image/bmp") && format.contains("bmp"))) {
                    throw new ImageRefused("the object is not " + contentType + " (it reads as " + format + ")");
                }
                if (contentType.equals("image/bmp")) {
                    checkBmp(in);
                }
                int width;
                int height;
                try {
                    width = reader.getWidth(0);
                    height = reader.getHeight(0);
                } catch (IIOException | EOFException | RuntimeException e) {
                    throw new ImageRefused("the image header cannot be read: " + e.getMessage());
                }
                if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE
                        || (long) width * height > maxPixels) {
                    throw new ImageRefused("the image is " + width + "x" + height + " pixels; this server takes at most "
                            + maxPixels + " pixels and " + MAX_SIDE + " on a side");
                }
                int longer = Math.max(width, height);
                int step = Math.max(1, longer / (maxSide * 2));
                ImageReadParam param = reader.getDefaultReadParam();
                param.setSourceSubsampling(step, step, 0, 0);
                BufferedImage decoded;
                try {
                    decoded = reader.read(0, param);
                } catch (JpegScanLimit.TooManyScans e) {
                    throw new ImageRefused(e.getMessage() + "; this server takes at most " + MAX_JPEG_SCANS);
                } catch (IOException | RuntimeException e) {
                    throw new ImageRefused("the image cannot be decoded: " + e.getMessage());
                }
                double scale = Math.min(1.0, (double) maxSide / Math.max(decoded.getWidth(), decoded.getHeight()));
                int tw = Math.max(1, (int) Math.round(decoded.getWidth() * scale));
                int th = Math.max(1, (int) Math.round(decoded.getHeight() * scale));
                BufferedImage thumb = new BufferedImage(tw, th, BufferedImage.TYPE_INT_RGB);
                Graphics2D g = thumb.createGraphics();
                try {
                    g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
                    g.setColor(java.awt.Color.WHITE);
                    g.fillRect(0, 0, tw, th);
                    g.drawImage(decoded, 0, 0, tw, th, null);
                } finally {
                    g.dispose();
                }
                return new Thumbnail(width, height, jpeg(thumb), tw, th);
            } finally {
                reader.dispose();
            }
        }
    }

    /**
     * Refuses a BMP whose pixels are not its own: compression {@code BI_JPEG} (4) or {@code BI_PNG} (5) wraps a whole
     * JPEG or PNG, which the JDK decodes at its own size, whatever the BMP header says (and so past the pixel limit).
     * Only uncompressed, RLE and bit-field BMPs (0-3) are read. Peeks at the header and leaves the stream where it was.
     */
    private static void checkBmp(ImageInputStream in) throws IOException, ImageRefused {
        byte[] header = new byte[34];
        in.mark();
        int n = 0;
        try {
            for (int r; n < header.length && (r = in.read(header, n, header.length - n)) > 0; ) {
                n += r;
            }
        } finally {
            in.reset();
        }
        if (n < header.length || le32(header, 14) < 40) {
            return; // too short for the reader anyway, or an OS/2 header (no compression field, or one it refuses)
        }
        long compression = le32(header, 30) & 0xffff_ffffL;
        if (compression > 3) {
            throw new ImageRefused("the BMP image wraps another format (compression " + compression + "); only "
                    + "uncompressed, RLE and bit-field BMP images are accepted");
        }
    }

    private static int le32(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }

    private static byte[] jpeg(BufferedImage image) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(0.8f);
            writer.write(null, new IIOImage(image, null, null), param);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }
}
