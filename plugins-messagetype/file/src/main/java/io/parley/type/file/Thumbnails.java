package io.parley.type.file;

import io.parley.type.support.ImageHeaders;
import io.parley.type.support.ImageHeaders.ImageRefused;
import io.parley.type.support.JpegScanLimit;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Makes JPEG thumbnails with the JDK's Image I/O. The header is read and checked first ({@link ImageHeaders}: the
 * pixel limit on the header's dimensions <b>before</b> any pixel is decoded, the format against the declared type),
 * and decoding is subsampled so that at most about four times the thumbnail's pixels are ever held: a decompression
 * bomb costs a header read. What the header
 * does not show is bounded too: a JPEG may have at most {@value #MAX_JPEG_SCANS} scans (the decoder works through
 * the whole frame for each; thousands of empty ones are a CPU bomb), and a BMP must hold its own pixels (one that
 * wraps a JPEG or PNG, whose size its header does not give, is refused). Stateless, thread-safe; blocks on the stream
 * and on the CPU (call it from the file types' workers).
 */
final class Thumbnails {

    /** The result: the source's dimensions and the thumbnail. */
    record Thumbnail(int width, int height, byte[] jpeg, int thumbWidth, int thumbHeight) {
    }

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
        try (ImageHeaders.Opened opened = ImageHeaders.open(source, contentType, maxPixels)) {
            ImageReader reader = opened.reader();
            int width = opened.width();
            int height = opened.height();
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
        }
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
