package io.parley.type.support;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;

/**
 * Reads an image's dimensions from its header with the JDK's Image I/O and checks them against a pixel limit
 * <b>before</b> any pixel is decoded, so a decompression bomb costs a header read. The format the reader finds must be
 * the declared content type, and a BMP must hold its own pixels (one wrapping a JPEG or PNG, whose size its header does
 * not give, is refused). Used for image messages (then decoded for a thumbnail) and video posters (header only).
 * Stateless, thread-safe; blocks on the stream (call it from a bundle's workers).
 */
public final class ImageHeaders {

    /**
     * Thrown for an image that is refused: unreadable, not of its declared type, or over the limits. The message is
     * for the client.
     */
    public static final class ImageRefused extends Exception {
        public ImageRefused(String message) {
            super(message);
        }
    }

    /** The longest side accepted, whatever the pixel limit. */
    public static final int MAX_SIDE = 65_535;

    /**
     * An image whose header was read and accepted: its reader is set on its stream, ready to decode image 0. The
     * holder closes it (disposes the reader, closes the image stream but not the source stream).
     */
    public static final class Opened implements AutoCloseable {
        private final ImageReader reader;
        private final ImageInputStream in;
        private final int width;
        private final int height;

        private Opened(ImageReader reader, ImageInputStream in, int width, int height) {
            this.reader = reader;
            this.in = in;
            this.width = width;
            this.height = height;
        }

        public ImageReader reader() {
            return reader;
        }

        public int width() {
            return width;
        }

        public int height() {
            return height;
        }

        @Override
        public void close() throws IOException {
            reader.dispose();
            in.close();
        }
    }

    private ImageHeaders() {
    }

    /**
     * @param image       the image's bytes, read up to the end of the header (and buffered in memory as far as read);
     *                    not closed
     * @param contentType what the uploader declared; the reader's format must agree with it
     * @param maxPixels   the most pixels (width × height) accepted
     * @return the reader on the image, for decoding; close it
     * @throws ImageRefused with the reason, for the client
     */
    public static Opened open(InputStream image, String contentType, long maxPixels) throws IOException, ImageRefused {
        ImageInputStream in = new MemoryCacheImageInputStream(image);
        ImageReader reader = null;
        boolean handedOut = false;
        try {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new ImageRefused("the object is not an image this server can read");
            }
            reader = readers.next();
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
            Opened opened = new Opened(reader, in, width, height);
            handedOut = true;
            return opened;
        } finally {
            if (!handedOut) {
                if (reader != null) {
                    reader.dispose();
                }
                in.close();
            }
        }
    }

    /**
     * @return the dimensions of the image in {@code image}, read from its header alone (nothing is decoded)
     * @throws ImageRefused as {@link #open} does
     */
    public static int[] dimensions(InputStream image, String contentType, long maxPixels)
            throws IOException, ImageRefused {
        try (Opened opened = open(image, contentType, maxPixels)) {
            return new int[] {opened.width(), opened.height()};
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
}
