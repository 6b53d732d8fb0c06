package io.parley.transport.http.internal;

import io.parley.core.spi.blob.BlobTicket;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Partial uploads on local disk, one pair of files per blob key under one directory: {@code <h>.part} holds the
 * bytes received so far and {@code <h>.meta} (the sidecar) the upload's key, size, content type, ticket expiry and
 * <em>committed</em> length, where {@code <h>} is the lower-case hex SHA-256 of the key.
 *
 * <p>The committed length only grows by whole chunks: a chunk is written at its offset and fsynced, and only then is
 * the sidecar replaced (written, fsynced, atomically renamed) with the new length. Bytes past the committed length (a
 * write cut short by a crash) are ignored and truncated by the next write, so the offset reported to clients is
 * always the length of whole, durable chunks. A sidecar naming another size or content type than the ticket (a
 * different upload under the same key) makes the staged bytes worthless: they are discarded.
 *
 * <p>Threading: blocking file I/O, for the blob workers only. Not synchronized: the caller runs every operation on one
 * key one at a time ({@link BlobService}'s per-key order); different keys touch different files.
 */
final class UploadStaging {

    private static final String DATA = ".part";
    private static final String META = ".meta";
    private static final String TEMP = ".tmp";
    private static final String FORMAT = "parley-upload-1";

    /**
     * What is staged for a key.
     *
     * @param staged    true if there is a sidecar for this upload
     * @param committed bytes received in whole chunks (0 if nothing is staged)
     */
    record State(boolean staged, long committed) {
        static final State NONE = new State(false, 0);
    }

    private record Meta(String key, long size, String contentType, long expires, long committed) {
        String format() {
            return String.join("\n", FORMAT, key, Long.toString(size), contentType, Long.toString(expires),
                    Long.toString(committed)) + "\n";
        }

        static Meta parse(String text) {
            String[] f = text.split("\n");
            if (f.length < 6 || !f[0].equals(FORMAT)) {
                throw new IllegalArgumentException("not an upload sidecar");
            }
            return new Meta(f[1], Long.parseLong(f[2]), f[3], Long.parseLong(f[4]), Long.parseLong(f[5]));
        }
    }

    private final Path dir;

    /** @param dir where the files live; created on the first write */
    UploadStaging(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    /** @return the lower-case hex SHA-256 of the key's UTF-8 bytes: the staged files' base name */
    static String fileName(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    Path data(String key) {
        return dir.resolve(fileName(key) + DATA);
    }

    private Path meta(String key) {
        return dir.resolve(fileName(key) + META);
    }

    /**
     * @return what is staged for the ticket's upload; anything staged that cannot be a prefix of it (another size or
     *         content type, bytes lost, no sidecar) is deleted first
     */
    State state(BlobTicket ticket) throws IOException {
        Meta m = readMeta(ticket.key());
        if (m == null) {
            Files.deleteIfExists(data(ticket.key()));
            return State.NONE;
        }
        if (!m.key().equals(ticket.key()) || m.size() != ticket.size() || !m.contentType().equals(ticket.contentType())
                || m.committed() > m.size()) {
            discard(ticket.key());
            return State.NONE;
        }
        long present;
        try {
            present = Files.size(data(ticket.key()));
        } catch (NoSuchFileException e) {
            present = -1;
        }
        if (present < m.committed()) {
            discard(ticket.key());
            return State.NONE;
        }
        return new State(true, m.committed());
    }

    /**
     * Writes a chunk at {@code offset} (the committed length; bytes past it are dropped), fsyncs it, then records
     * the new committed length. A failure leaves the committed length as it was.
     */
    void append(BlobTicket ticket, long offset, ByteBuffer chunk) throws IOException {
        Files.createDirectories(dir);
        Meta before = readMeta(ticket.key());
        long length = chunk.remaining();
        try (FileChannel ch = FileChannel.open(data(ticket.key()), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.truncate(offset);
            long position = offset;
            while (chunk.hasRemaining()) {
                position += ch.write(chunk, position);
            }
            ch.force(true);
        }
        long expires = ticket.expires().getEpochSecond();
        if (before != null) {
            expires = Math.max(expires, before.expires());
        }
        writeMeta(new Meta(ticket.key(), ticket.size(), ticket.contentType(), expires, offset + length));
    }

    /** Sets the committed length back to {@code offset} (a completion the store refused), dropping later bytes. */
    void rollBack(BlobTicket ticket, long offset) throws IOException {
        Meta m = readMeta(ticket.key());
        if (m == null || m.committed() <= offset) {
            return;
        }
        writeMeta(new Meta(m.key(), m.size(), m.contentType(), m.expires(), offset));
        try (FileChannel ch = FileChannel.open(data(ticket.key()), StandardOpenOption.WRITE)) {
            ch.truncate(offset);
            ch.force(true);
        }
    }

    /** Opens the staged bytes for reading from the start; the caller reads the committed length and closes it. */
    InputStream open(String key) throws IOException {
        return new BufferedInputStream(Files.newInputStream(data(key)), 65_536);
    }

    /** Deletes what is staged for the key, if anything. */
    void discard(String key) throws IOException {
        Files.deleteIfExists(meta(key));
        Files.deleteIfExists(data(key));
    }

    /**
     * Deletes what is staged for the key if its ticket expired before {@code cutoff} (a later ticket for the same key
     * may have extended it since it was listed).
     *
     * @return true if something was deleted
     */
    boolean discardIfExpired(String key, Instant cutoff) throws IOException {
        Meta m = readMeta(key);
        if (m == null || m.expires() >= cutoff.getEpochSecond()) {
            return false;
        }
        discard(key);
        return true;
    }

    /**
     * Looks through the directory: deletes files no live upload owns (data without a sidecar, unreadable sidecars
     * and leftover temporary files, last written more than {@code orphanAge} ago) and lists the keys whose ticket
     * expired before {@code cutoff}, for {@link #discardIfExpired} in the key's order.
     */
    List<String> sweep(Instant now, Instant cutoff, Duration orphanAge) throws IOException {
        List<String> expired = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return expired;
        }
        Instant orphanBefore = now.minus(orphanAge);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                try {
                    if (name.endsWith(META)) {
                        Meta m = readMeta(file);
                        if (m == null) {
                            deleteIfOlder(file, orphanBefore);
                            deleteIfOlder(dir.resolve(name.substring(0, name.length() - META.length()) + DATA),
                                    orphanBefore);
                        } else if (m.expires() < cutoff.getEpochSecond()) {
                            expired.add(m.key());
                        }
                    } else if (name.endsWith(DATA)) {
                        if (!Files.exists(dir.resolve(name.substring(0, name.length() - DATA.length()) + META))) {
                            deleteIfOlder(file, orphanBefore);
                        }
                    } else if (name.endsWith(TEMP)) {
                        deleteIfOlder(file, orphanBefore);
                    }
                } catch (NoSuchFileException e) {
                    // deleted meanwhile by the upload itself
                }
            }
        }
        return expired;
    }

    private static void deleteIfOlder(Path file, Instant before) throws IOException {
        try {
            if (Files.getLastModifiedTime(file).toInstant().isBefore(before)) {
                Files.deleteIfExists(file);
            }
        } catch (NoSuchFileException e) {
            // gone already
        }
    }

    private Meta readMeta(String key) throws IOException {
        return readMeta(meta(key));
    }

    /** @return the sidecar, or null if there is none or it is unreadable */
    private static Meta readMeta(Path file) throws IOException {
        try {
            return Meta.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private void writeMeta(Meta m) throws IOException {
        Path target = meta(m.key());
        Path temp = dir.resolve(target.getFileName() + TEMP);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer bytes = ByteBuffer.wrap(m.format().getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                ch.write(bytes);
            }
            ch.force(true);
        }
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
