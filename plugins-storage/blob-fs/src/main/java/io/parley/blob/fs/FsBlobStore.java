package io.parley.blob.fs;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

import static java.nio.charset.StandardCharsets.UTF_8;

/**
 * A {@link BlobStore} in a local directory. Layout under the root:
 * <pre>
 * objects/f/alice/photo.png@   the blob "f/alice/photo.png": a header (size, content type, SHA-256, created, CRC32
 *                              of the header), then the bytes
 * tmp/put-*                    puts in progress; deleted when a store opens the directory
 * lock                         locked while a store has the directory open: one store per directory
 * </pre>
 * Directories under {@code objects/} are named after key segments; a blob's file is its last segment followed by
 * {@code @}, a character keys cannot contain, so a key may be a blob and the prefix of others ({@code a} and
 * {@code a/b}) and no name of the store's own is ever taken for a blob. Empty directories are removed by
 * {@link #delete}.
 *
 * <p>Crash safety: {@link #put} writes header and bytes to a temp file, forces it to disk, then publishes it with a
 * hard link, which fails if the key exists (a put never replaces), and forces every directory from the blob's up to
 * {@code objects/}. A file under {@code objects/} is therefore always complete and its metadata is in it: a crash
 * before the link leaves a temp file, removed at the next start, and after it a whole blob. A file whose header fails
 * its checks (bad magic, CRC or length: damage from outside) is not served: {@link #stat} and {@link #open} throw an
 * {@link IOException} naming it, {@link #list} skips it and logs, {@link #delete} removes it.
 *
 * <p>Threading: thread-safe; every step is atomic in the filesystem, no lock is taken in memory. Every method blocks
 * on disk I/O. Needs a filesystem with hard links (any Linux filesystem; not FAT) and, for distinct keys, case
 * sensitivity. Not usable after {@link #close}.
 */
public final class FsBlobStore implements BlobStore, Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(FsBlobStore.class);

    /** Ends every blob file's name; keys cannot contain it. */
    static final String SUFFIX = "@";

    private static final Pattern KEY_CHARS = Pattern.compile("[A-Za-z0-9._/-]*");
    private static final int MAGIC = 0x50424c31; // "PBL1"
    /** magic, header length, size, created seconds and nanos, SHA-256, content type length, CRC32 */
    private static final int FIXED_HEADER = 4 + 4 + 8 + 8 + 4 + 32 + 2 + 4;
    private static final int BUFFER = 64 * 1024;
    private static final HexFormat HEX = HexFormat.of();

    private final Path objects;
    private final Path tmp;
    /** Holds the lock on {@code lock}: closing it releases the directory. */
    private final FileChannel lockFile;

    /**
     * Opens (creating it if needed) the store in {@code root} and deletes the temp files of puts a crash interrupted.
     *
     * @throws IOException if the directory cannot be prepared, or another store (in this or another process) has it
     */
    public FsBlobStore(Path root) throws IOException {
        Path dir = Files.createDirectories(root.toAbsolutePath().normalize());
        lockFile = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            FileLock lock = lockFile.tryLock();
            if (lock == null) {
                throw new IOException(dir + " is in use by another blob store");
            }
            objects = Files.createDirectories(dir.resolve("objects"));
            tmp = Files.createDirectories(dir.resolve("tmp"));
            sync(dir);
            removeUnfinishedPuts();
        } catch (OverlappingFileLockException e) {
            lockFile.close();
            throw new IOException(dir + " is in use by another blob store in this JVM", e);
        } catch (IOException | RuntimeException e) {
            lockFile.close();
            throw e;
        }
    }

    @Override
    public Info put(String key, InputStream content, long length, String contentType) throws IOException {
        Path target = file(key);
        Objects.requireNonNull(content, "content");
        byte[] type = Objects.requireNonNull(contentType, "contentType").getBytes(UTF_8);
        if (type.length > 0xffff) {
            throw new IllegalArgumentException("content type too long: " + type.length + " bytes");
        }
        if (length < 0) {
            throw new IllegalArgumentException("length must not be negative: " + length);
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(key);
        }
        Path temp = Files.createTempFile(tmp, "put-", "");
        try {
            Info info;
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                int headerLength = FIXED_HEADER + type.length;
                out.position(headerLength);
                byte[] sha = copy(content, length, out);
                info = new Info(key, length, contentType, HEX.formatHex(sha), Instant.now());
                ByteBuffer header = header(info, sha, type);
                while (header.hasRemaining()) {
                    out.write(header, header.position());
                }
                out.force(true);
            }
            publish(temp, target, key);
            return info;
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    @Override
    public Optional<Info> stat(String key) throws IOException {
        Path file = file(key);
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            return Optional.of(readHeader(key, file, in).info());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /**
     * @param offset 0 to the blob's size
     * @throws IllegalArgumentException if {@code offset} is negative or past the end of the blob
     */
    @Override
    public Optional<InputStream> open(String key, long offset) throws IOException {
        Path file = file(key);
        if (offset < 0) {
            throw new IllegalArgumentException("offset must not be negative: " + offset);
        }
        FileChannel in;
        try {
            in = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        try {
            Header header = readHeader(key, file, in);
            if (offset > header.info().size()) {
                throw new IllegalArgumentException("offset " + offset + " is past the end of " + key + " ("
                        + header.info().size() + " bytes)");
            }
            in.position(header.length() + offset);
            return Optional.of(Channels.newInputStream(in));
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    @Override
    public boolean delete(String key) throws IOException {
        Path file = file(key);
        if (!Files.deleteIfExists(file)) {
            return false;
        }
        Path dir = file.getParent();
        try {
            sync(dir);
        } catch (NoSuchFileException e) {
            // emptied and removed by a concurrent delete, which synced its parent
        }
        removeEmpty(dir);
        return true;
    }

    /**
     * Walks only the directories that can hold keys starting with {@code prefix}, each in key order, and skips the
     * subtrees that sort entirely before {@code after}.
     *
     * @param after null or empty for the first page
     * @throws IllegalArgumentException if {@code limit} is not positive
     */
    @Override
    public List<Info> list(String prefix, String after, int limit) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        List<Info> page = new ArrayList<>();
        int slash = prefix.lastIndexOf('/');
        if (prefix.length() > 200 || !KEY_CHARS.matcher(prefix).matches()
                || (slash >= 0 && !BlobTicket.validKey(prefix.substring(0, slash)))) {
            return page; // no key starts with it
        }
        String dirKey = prefix.substring(0, slash + 1);
        walk(objects.resolve(dirKey), dirKey, prefix.substring(slash + 1), after == null ? "" : after, limit, page);
        return page;
    }

    /** Releases the directory; calls still running on other threads may fail. Idempotent. */
    @Override
    public void close() throws IOException {
        if (lockFile.isOpen()) {
            lockFile.close(); // releases the lock
        }
    }

    // ---------------------------------------------------------------- writing

    private Path file(String key) {
        if (!BlobTicket.validKey(key)) {
            throw new IllegalArgumentException("invalid blob key: " + key);
        }
        return objects.resolve(key + SUFFIX);
    }

    /** Copies exactly {@code length} bytes and checks that {@code in} ends there; returns their SHA-256. */
    private static byte[] copy(InputStream in, long length, FileChannel out) throws IOException {
        MessageDigest sha = sha256();
        byte[] buffer = new byte[(int) Math.max(1, Math.min(BUFFER, length))];
        long left = length;
        while (left > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
            if (n < 0) {
                throw new EOFException("content ended after " + (length - left) + " of " + length + " bytes");
            }
            sha.update(buffer, 0, n);
            ByteBuffer bytes = ByteBuffer.wrap(buffer, 0, n);
            while (bytes.hasRemaining()) {
                out.write(bytes);
            }
            left -= n;
        }
        if (in.read() != -1) {
            throw new IOException("content is longer than " + length + " bytes");
        }
        return sha.digest();
    }

    private static ByteBuffer header(Info info, byte[] sha, byte[] type) {
        ByteBuffer header = ByteBuffer.allocate(FIXED_HEADER + type.length);
        header.putInt(MAGIC).putInt(header.capacity()).putLong(info.size())
                .putLong(info.created().getEpochSecond()).putInt(info.created().getNano())
                .put(sha).putShort((short) type.length).put(type);
        CRC32 crc = new CRC32();
        crc.update(header.array(), 0, header.position());
        return header.putInt((int) crc.getValue()).flip();
    }

    /**
     * Links the complete temp file at {@code target} (never replacing) and forces the directory entries leading to
     * it; if forcing fails, the blob is removed again so a failed put leaves nothing.
     */
    private void publish(Path temp, Path target, String key) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                try {
                    Files.createDirectories(target.getParent());
                } catch (FileAlreadyExistsException e) {
                    throw new IOException("cannot store " + key + ": " + e.getFile() + " is not a directory", e);
                }
                try {
                    Files.createLink(target, temp);
                    break;
                } catch (FileAlreadyExistsException e) {
                    throw new FileAlreadyExistsException(key);
                }
            } catch (NoSuchFileException e) {
                // a concurrent delete removed a directory as it became empty: create it again
                if (attempt == 10) {
                    throw e;
                }
            }
        }
        try {
            for (Path dir = target.getParent(); dir.startsWith(objects); dir = dir.getParent()) {
                sync(dir);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(target);
            throw e;
        }
    }

    private static void sync(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** Removes {@code dir} and its parents up to {@code objects/} while they are empty; best effort. */
    private void removeEmpty(Path dir) {
        for (Path d = dir; !d.equals(objects) && d.startsWith(objects); d = d.getParent()) {
            try {
                Files.delete(d);
            } catch (DirectoryNotEmptyException | NoSuchFileException e) {
                return;
            } catch (IOException e) {
                LOG.warn("cannot remove empty blob directory {}", d, e);
                return;
            }
        }
    }

    private void removeUnfinishedPuts() throws IOException {
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(tmp)) {
            for (Path file : files) {
                Files.delete(file);
                removed++;
            }
        }
        if (removed > 0) {
            LOG.info("removed {} unfinished blob upload(s) from {}", removed, tmp);
        }
    }

    // ---------------------------------------------------------------- reading

    /** A blob's description and where its bytes start in its file. */
    private record Header(Info info, int length) {
    }

    /** @throws IOException naming the file if its header fails a check */
    private static Header readHeader(String key, Path file, FileChannel in) throws IOException {
        long fileSize = in.size();
        ByteBuffer start = ByteBuffer.allocate(8);
        if (fileSize < FIXED_HEADER) {
            throw corrupt(key, file, "shorter than a header");
        }
        readFully(in, start);
        int length = start.getInt(4);
        if (start.getInt(0) != MAGIC || length < FIXED_HEADER || length > FIXED_HEADER + 0xffff
                || length > fileSize) {
            throw corrupt(key, file, "no valid header");
        }
        ByteBuffer header = ByteBuffer.allocate(length);
        readFully(in, header);
        CRC32 crc = new CRC32();
        crc.update(header.array(), 0, length - 4);
        if ((int) crc.getValue() != header.getInt(length - 4)) {
            throw corrupt(key, file, "header checksum mismatch");
        }
        header.position(8);
        long size = header.getLong();
        long seconds = header.getLong();
        int nanos = header.getInt();
        byte[] sha = new byte[32];
        header.get(sha);
        int typeLength = Short.toUnsignedInt(header.getShort());
        if (FIXED_HEADER + typeLength != length || size != fileSize - length) {
            throw corrupt(key, file, "file length does not match its header");
        }
        try {
            return new Header(new Info(key, size, new String(header.array(), header.position(), typeLength, UTF_8),
                    HEX.formatHex(sha), Instant.ofEpochSecond(seconds, nanos)), length);
        } catch (RuntimeException e) {
            throw corrupt(key, file, e.toString());
        }
    }

    /** Fills {@code buffer} with the file's first bytes. */
    private static void readFully(FileChannel in, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (in.read(buffer, buffer.position()) < 0) {
                throw new EOFException("unexpected end of file");
            }
        }
    }

    private static IOException corrupt(String key, Path file, String reason) {
        return new IOException("corrupt blob " + key + " (" + reason + "): " + file);
    }

    /**
     * Adds to {@code page}, in key order, the blobs below {@code dir} (whose keys start with {@code dirKey}) whose
     * next segment starts with {@code namePrefix} and whose keys sort after {@code after}, until it holds
     * {@code limit}.
     */
    private void walk(Path dir, String dirKey, String namePrefix, String after, int limit, List<Info> page)
            throws IOException {
        // files sort as their key, directories as their key and "/": the order of every key below them
        List<String> entries = new ArrayList<>();
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                String name = child.getFileName().toString();
                if (!name.startsWith(namePrefix)) {
                    continue;
                }
                if (name.endsWith(SUFFIX)) {
                    String key = dirKey + name.substring(0, name.length() - SUFFIX.length());
                    if (BlobTicket.validKey(key)) {
                        entries.add(key);
                    }
                } else if (BlobTicket.validKey(dirKey + name)) {
                    entries.add(dirKey + name + "/");
                }
            }
        } catch (NoSuchFileException | NotDirectoryException e) {
            return;
        }
        Collections.sort(entries);
        for (String entry : entries) {
            if (page.size() >= limit) {
                return;
            }
            if (entry.endsWith("/")) {
                if (entry.compareTo(after) > 0 || after.startsWith(entry)) {
                    walk(objects.resolve(entry), entry, "", after, limit, page);
                }
            } else if (entry.compareTo(after) > 0) {
                listed(entry).ifPresent(page::add);
            }
        }
    }

    /** stat for list: a blob deleted meanwhile or corrupt is left out. */
    private Optional<Info> listed(String key) {
        try {
            return stat(key);
        } catch (IOException e) {
            LOG.error("blob {} left out of the listing: {}", key, e.toString());
            return Optional.empty();
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
