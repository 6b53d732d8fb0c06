package io.parley.core.spi.testing;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobStore.Info;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The behaviour every {@link BlobStore} promises, as JUnit 5 tests. A store module extends this class in a concrete
 * test class:
 * <pre>
 * class FsBlobStoreTest extends BlobStoreContract {
 *     &#64;Override
 *     protected BlobStore openStore(Path dir) throws IOException {
 *         return new FsBlobStore(dir);
 *     }
 * }
 * </pre>
 * Each test gets a fresh, empty store in its own temporary directory; {@link #store} is open for the whole test.
 * Stores that can list are expected to; a store whose {@link BlobStore#list} throws
 * {@link UnsupportedOperationException} overrides {@link #canList()}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class BlobStoreContract {

    /** How long a test waits for one concurrent put before failing. */
    protected static final long WAIT_SECONDS = 60;

    /** An empty directory owned by this test; the same for every {@link #openStore} call of a test. */
    @TempDir
    protected Path dir;

    /** The store under test, opened before each test and closed after it. */
    protected BlobStore store;

    /**
     * @param dir an existing, empty directory owned by this test; a store that keeps files keeps them there
     * @return an open, empty store
     */
    protected abstract BlobStore openStore(Path dir) throws Exception;

    /** Closes a store opened by {@link #openStore}. The default closes {@link AutoCloseable} stores. */
    protected void closeStore(BlobStore store) throws Exception {
        if (store instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }

    /** @return false for a store whose {@link BlobStore#list} is the unsupported default: list tests are skipped */
    protected boolean canList() {
        return true;
    }

    @BeforeEach
    void openStoreUnderTest() throws Exception {
        store = openStore(dir);
    }

    @AfterEach
    void closeStoreUnderTest() throws Exception {
        if (store != null) {
            closeStore(store);
            store = null;
        }
    }

    // ---------------------------------------------------------------- helpers for subclasses

    protected static byte[] randomBytes(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    protected static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    protected static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    protected static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    protected Info put(String key, byte[] bytes, String contentType) throws IOException {
        return store.put(key, new ByteArrayInputStream(bytes), bytes.length, contentType);
    }

    /** @return the blob's bytes from {@code offset}, or null if {@link BlobStore#open} found none */
    protected byte[] read(String key, long offset) throws IOException {
        Optional<InputStream> in = store.open(key, offset);
        if (in.isEmpty()) {
            return null;
        }
        try (InputStream stream = in.get()) {
            return stream.readAllBytes();
        }
    }

    protected List<String> listKeys(String prefix, String after, int limit) throws IOException {
        return store.list(prefix, after, limit).stream().map(Info::key).collect(Collectors.toList());
    }

    /** Every key under {@code prefix}, fetched {@code pageSize} at a time. */
    protected List<String> listAll(String prefix, int pageSize) throws IOException {
        List<String> keys = new ArrayList<>();
        String after = "";
        while (true) {
            List<String> page = listKeys(prefix, after, pageSize);
            assertTrue(page.size() <= pageSize, "a page holds at most limit keys: " + page);
            keys.addAll(page);
            if (page.size() < pageSize) {
                return keys;
            }
            after = page.get(page.size() - 1);
        }
    }

    /** Asserts that nothing is under {@code key}: stat and open empty, not listed. */
    protected void assertAbsent(String key) throws IOException {
        assertEquals(Optional.empty(), store.stat(key), "stat " + key);
        assertEquals(null, read(key, 0), "open " + key);
        if (canList()) {
            assertFalse(listKeys(key, "", 10).contains(key), "listed: " + key);
        }
    }

    /**
     * {@code length} deterministic pseudo-random bytes generated on the fly (never held in memory); the same
     * {@code seed} and {@code length} give the same bytes.
     */
    protected static InputStream generated(long length, long seed) {
        return new InputStream() {
            private long position;

            @Override
            public int read() {
                return position < length ? at(position++) : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (len == 0) {
                    return 0;
                }
                if (position >= length) {
                    return -1;
                }
                int n = (int) Math.min(len, length - position);
                for (int i = 0; i < n; i++) {
                    b[off + i] = (byte) at(position++);
                }
                return n;
            }

            private int at(long i) {
                long x = (i + seed) * 0x9E3779B97F4A7C15L;
                return (int) ((x ^ (x >>> 29)) >>> 56) & 0xff;
            }
        };
    }

    /** @return the hex SHA-256 of everything {@code in} yields; closes it */
    protected static String sha256(InputStream in) throws IOException {
        MessageDigest digest = digest();
        byte[] buffer = new byte[64 * 1024];
        try (in) {
            for (int n; (n = in.read(buffer)) != -1; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Runs the tasks at once (released together) on their own threads; returns their outcomes in task order. */
    protected static <T> List<Future<T>> runTogether(List<Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (Callable<T> task : tasks) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return task.call();
                }));
            }
            start.countDown();
            for (Future<T> future : futures) {
                try {
                    future.get(WAIT_SECONDS, TimeUnit.SECONDS);
                } catch (ExecutionException expected) {
                    // inspected by the caller
                }
            }
            return futures;
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }

    // ---------------------------------------------------------------- put, stat, open

    @Test
    void putThenStatAndOpenReturnTheBytesAndTheirDescription() throws Exception {
        byte[] bytes = randomBytes(10_000, 1);
        Instant before = Instant.now();
        Info info = put("f/alice/photo.png", bytes, "image/png");
        Instant after = Instant.now();

        assertEquals("f/alice/photo.png", info.key());
        assertEquals(bytes.length, info.size());
        assertEquals("image/png", info.contentType());
        assertEquals(sha256(bytes), info.sha256());
        assertFalse(info.created().isBefore(before.minusSeconds(1)), "created " + info.created() + " < " + before);
        assertFalse(info.created().isAfter(after.plusSeconds(1)), "created " + info.created() + " > " + after);

        assertEquals(Optional.of(info), store.stat("f/alice/photo.png"));
        assertArrayEquals(bytes, read("f/alice/photo.png", 0));
    }

    @Test
    void theSha256IsTheLowerCaseHexOfTheBytes() throws Exception {
        byte[] bytes = utf8("hello");
        Info info = put("k", bytes, "text/plain");
        assertEquals("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", info.sha256());
        assertEquals(sha256(bytes), info.sha256());
    }

    @Test
    void openFromAnOffsetReturnsTheRestOfTheBlob() throws Exception {
        byte[] bytes = randomBytes(100_000, 2);
        put("v/clip", bytes, "video/mp4");
        for (int offset : new int[] {0, 1, 4095, 4096, 65_537, bytes.length - 1, bytes.length}) {
            assertArrayEquals(Arrays.copyOfRange(bytes, offset, bytes.length), read("v/clip", offset),
                    "from offset " + offset);
        }
    }

    @Test
    void theContentTypeIsKeptAsGiven() throws Exception {
        List<String> types = List.of("image/png", "application/octet-stream", "application/vnd.parley.card+json",
                "audio/ogg");
        for (int i = 0; i < types.size(); i++) {
            put("t/" + i, utf8("x" + i), types.get(i));
        }
        for (int i = 0; i < types.size(); i++) {
            assertEquals(types.get(i), store.stat("t/" + i).orElseThrow().contentType());
        }
    }

    @Test
    void aZeroLengthBlobIsStoredLikeAnyOther() throws Exception {
        Info info = store.put("empty", InputStream.nullInputStream(), 0, "text/plain");
        assertEquals(0, info.size());
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", info.sha256());
        assertEquals(Optional.of(info), store.stat("empty"));
        assertArrayEquals(new byte[0], read("empty", 0));
        if (canList()) {
            assertEquals(List.of(info), store.list("", "", 10));
        }
    }

    @Test
    void aLargeStreamedBlobRoundTripsWithItsHash() throws Exception {
        long length = 20L * 1024 * 1024 + 3;
        String expected = sha256(generated(length, 7));
        Info info = store.put("big/one", generated(length, 7), length, "application/octet-stream");
        assertEquals(length, info.size());
        assertEquals(expected, info.sha256());
        assertEquals(Optional.of(info), store.stat("big/one"));
        assertEquals(expected, sha256(store.open("big/one", 0).orElseThrow()));

        long offset = 10L * 1024 * 1024 + 5;
        InputStream suffix = generated(length, 7);
        assertEquals(offset, suffix.skip(offset));
        assertEquals(sha256(suffix), sha256(store.open("big/one", offset).orElseThrow()), "from offset " + offset);
    }

    @Test
    void putOnAnExistingKeyIsRefusedAndKeepsTheOldBytes() throws Exception {
        byte[] first = utf8("first");
        Info info = put("f/alice/a", first, "text/plain");

        assertThrows(FileAlreadyExistsException.class, () -> put("f/alice/a", utf8("second!"), "image/png"));
        assertThrows(FileAlreadyExistsException.class, () -> put("f/alice/a", first, "text/plain"),
                "even with the same bytes");
        assertEquals(Optional.of(info), store.stat("f/alice/a"));
        assertArrayEquals(first, read("f/alice/a", 0));
    }

    @Test
    void contentEndingBeforeLengthFailsAndLeavesNothing() throws Exception {
        IOException e = assertThrows(IOException.class,
                () -> store.put("short", new ByteArrayInputStream(randomBytes(100, 3)), 200, "text/plain"));
        assertFalse(e instanceof FileAlreadyExistsException, e.toString());
        assertAbsent("short");

        byte[] bytes = randomBytes(200, 4);
        assertEquals(sha256(bytes), put("short", bytes, "text/plain").sha256(), "the key is still free");
        assertArrayEquals(bytes, read("short", 0));
    }

    @Test
    void contentLongerThanLengthFailsAndLeavesNothing() throws Exception {
        IOException e = assertThrows(IOException.class,
                () -> store.put("long", new ByteArrayInputStream(randomBytes(201, 5)), 200, "text/plain"));
        assertFalse(e instanceof FileAlreadyExistsException, e.toString());
        assertAbsent("long");

        byte[] bytes = randomBytes(200, 6);
        put("long", bytes, "text/plain");
        assertArrayEquals(bytes, read("long", 0));
    }

    @Test
    void contentThatFailsToReadFailsThePutAndLeavesNothing() throws Exception {
        InputStream failing = new SequenceInputStream(new ByteArrayInputStream(randomBytes(70_000, 8)),
                new InputStream() {
                    @Override
                    public int read() throws IOException {
                        throw new IOException("connection reset");
                    }
                });
        assertThrows(IOException.class, () -> store.put("broken", failing, 100_000, "image/jpeg"));
        assertAbsent("broken");
        put("broken", utf8("ok"), "text/plain");
        assertArrayEquals(utf8("ok"), read("broken", 0));
    }

    // ---------------------------------------------------------------- keys

    @Test
    void invalidKeysAreRefusedByEveryOperation() throws Exception {
        List<String> invalid = List.of("../x", "/a", "a//b", "a/./b", "a/..", "..", ".", "a/", "", "x".repeat(201),
                "a b", "a\\b", "a:b", "é", "a\nb");
        for (String key : invalid) {
            assertThrows(IllegalArgumentException.class, () -> put(key, utf8("x"), "text/plain"), "put " + key);
            assertThrows(IllegalArgumentException.class, () -> store.stat(key), "stat " + key);
            assertThrows(IllegalArgumentException.class, () -> store.open(key, 0), "open " + key);
            assertThrows(IllegalArgumentException.class, () -> store.delete(key), "delete " + key);
        }
        if (canList()) {
            assertEquals(List.of(), store.list("", "", 100), "nothing was stored");
        }
    }

    @Test
    void everyValidKeyShapeIsAccepted() throws Exception {
        List<String> valid = List.of("x".repeat(200), "a/.hidden/b", ".x", "a/.tmp", "A-Z_a.z-0.9", "a..b/c",
                "...", "x/..y", "tmp/1", "meta/1", "objects/1");
        for (String key : valid) {
            byte[] bytes = utf8("value of " + key);
            Info info = put(key, bytes, "text/plain");
            assertEquals(key, info.key());
            assertEquals(Optional.of(info), store.stat(key), key);
            assertArrayEquals(bytes, read(key, 0), key);
        }
        if (canList()) {
            assertEquals(new TreeSet<>(valid).stream().toList(), listKeys("", "", 100));
        }
    }

    @Test
    void aKeyMayBeABlobAndThePrefixOfOtherKeys() throws Exception {
        put("a", utf8("1"), "text/plain");
        put("a/b", utf8("2"), "text/plain");
        put("a/b/c", utf8("3"), "text/plain");
        assertArrayEquals(utf8("1"), read("a", 0));
        assertArrayEquals(utf8("2"), read("a/b", 0));
        assertArrayEquals(utf8("3"), read("a/b/c", 0));

        assertTrue(store.delete("a/b"));
        assertTrue(store.delete("a/b/c"));
        put("a/b/c/d", utf8("4"), "text/plain");
        assertTrue(store.delete("a/b/c/d"));
        put("a/b/c", utf8("5"), "text/plain");
        assertArrayEquals(utf8("1"), read("a", 0));
        assertArrayEquals(utf8("5"), read("a/b/c", 0));
        assertAbsent("a/b");
        if (canList()) {
            assertEquals(List.of("a", "a/b/c"), listKeys("", "", 10));
        }
    }

    // ---------------------------------------------------------------- delete, missing keys

    @Test
    void deleteRemovesTheBlobAndSaysWhetherThereWasOne() throws Exception {
        put("f/bob/x", utf8("x"), "text/plain");
        put("f/bob/y", utf8("y"), "text/plain");

        assertTrue(store.delete("f/bob/x"));
        assertAbsent("f/bob/x");
        assertFalse(store.delete("f/bob/x"));
        assertArrayEquals(utf8("y"), read("f/bob/y", 0), "the neighbour stays");

        byte[] again = utf8("x again");
        put("f/bob/x", again, "text/plain");
        assertArrayEquals(again, read("f/bob/x", 0), "a deleted key can be used again");
    }

    @Test
    void aMissingKeyHasNoStatNoStreamAndNothingToDelete() throws Exception {
        put("f/carol/1", utf8("1"), "text/plain");
        for (String key : List.of("nothing", "f/carol", "f/carol/2", "f/carol/1/x", "f")) {
            assertEquals(Optional.empty(), store.stat(key), key);
            assertEquals(Optional.empty(), store.open(key, 0), key);
            assertFalse(store.delete(key), key);
        }
        assertArrayEquals(utf8("1"), read("f/carol/1", 0));
    }

    // ---------------------------------------------------------------- list

    @Test
    void listReturnsKeysInStringOrderPageByPage() throws Exception {
        if (!canList()) {
            return;
        }
        List<String> keys = new ArrayList<>(List.of("a", "a-b", "a.b", "a/b", "a/b/c", "a/b-c", "a0", "A", "b/x/y/z",
                "b/x-", "b/x.y", "_", "-", "0", "z", "a/b/c/d/e", "a/.b"));
        Collections.shuffle(keys, new Random(9));
        for (String key : keys) {
            put(key, utf8(key), "text/plain");
        }
        List<String> sorted = new ArrayList<>(keys);
        sorted.sort(String::compareTo);

        assertEquals(sorted, listKeys("", "", 100));
        for (int pageSize : new int[] {1, 2, 3, 5, keys.size(), keys.size() + 1}) {
            assertEquals(sorted, listAll("", pageSize), "pages of " + pageSize);
        }
        assertEquals(sorted.subList(0, 4), listKeys("", "", 4));
    }

    @Test
    void listReturnsTheSameDescriptionAsStat() throws Exception {
        if (!canList()) {
            return;
        }
        List<Info> infos = List.of(put("f/dan/1", randomBytes(10, 1), "image/png"),
                put("f/dan/2", randomBytes(0, 1), "text/plain"), put("f/dan/3", randomBytes(5000, 1), "audio/ogg"));
        assertEquals(infos, store.list("f/dan/", "", 10));
        for (Info info : infos) {
            assertEquals(Optional.of(info), store.stat(info.key()));
        }
    }

    @Test
    void listKeepsOnlyKeysStartingWithThePrefix() throws Exception {
        if (!canList()) {
            return;
        }
        for (String key : List.of("f/alice/1", "f/alice/2", "f/alice/sub/3", "f/alice2/1", "f/alicex", "f/alic",
                "f/ali/ce", "g/alice/1", "f/alice")) {
            put(key, utf8(key), "text/plain");
        }
        assertEquals(List.of("f/alice/1", "f/alice/2", "f/alice/sub/3"), listKeys("f/alice/", "", 10));
        assertEquals(List.of("f/alice", "f/alice/1", "f/alice/2", "f/alice/sub/3", "f/alice2/1", "f/alicex"),
                listKeys("f/alice", "", 10));
        assertEquals(List.of("f/ali/ce", "f/alic", "f/alice", "f/alice/1", "f/alice/2", "f/alice/sub/3",
                "f/alice2/1", "f/alicex"), listKeys("f/ali", "", 10));
        assertEquals(List.of("f/alice/sub/3"), listKeys("f/alice/s", "", 10));
        assertEquals(List.of("f/alice/1"), listKeys("f/alice/1", "", 10), "a prefix equal to a key");
        assertEquals(List.of(), listKeys("f/bob/", "", 10));
        assertEquals(List.of(), listKeys("h", "", 10));
        assertEquals(List.of("g/alice/1"), listKeys("g", "", 10));
        assertEquals(List.of("f/alice/2", "f/alice/sub/3"), listAll("f/alice/", 1).subList(1, 3));
    }

    @Test
    void listAfterIsExclusiveAndNeedNotBeAKey() throws Exception {
        if (!canList()) {
            return;
        }
        for (String key : List.of("m/1", "m/3", "m/5", "m/5/6", "m/7")) {
            put(key, utf8(key), "text/plain");
        }
        assertEquals(List.of("m/5", "m/5/6", "m/7"), listKeys("m/", "m/3", 10));
        assertEquals(List.of("m/3", "m/5"), listKeys("m/", "m/2", 2));
        assertEquals(List.of("m/5/6", "m/7"), listKeys("m/", "m/5", 10));
        assertEquals(List.of("m/5/6", "m/7"), listKeys("m/", "m/5/", 10));
        assertEquals(List.of("m/1", "m/3"), listKeys("m/", "a", 2), "after before every key");
        assertEquals(List.of(), listKeys("m/", "m/7", 10));
        assertEquals(List.of(), listKeys("m/", "n", 10));
    }

    @Test
    void listNeverShowsABlobWhilePutIsStillWritingIt() throws Exception {
        CountDownLatch halfRead = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        byte[] bytes = randomBytes(200_000, 10);
        InputStream content = new SequenceInputStream(new ByteArrayInputStream(bytes, 0, 100_000),
                new InputStream() {
                    private final InputStream rest = new ByteArrayInputStream(bytes, 100_000, 100_000);

                    @Override
                    public int read() throws IOException {
                        byte[] one = new byte[1];
                        return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        halfRead.countDown();
                        try {
                            if (!release.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                                throw new IOException("never released");
                            }
                        } catch (InterruptedException e) {
                            throw new IOException(e);
                        }
                        return rest.read(b, off, len);
                    }
                });
        put("w/done", utf8("done"), "text/plain");
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try {
            Future<Info> putting = writer.submit(() -> store.put("w/pending", content, bytes.length, "image/png"));
            assertTrue(halfRead.await(WAIT_SECONDS, TimeUnit.SECONDS));

            assertAbsent("w/pending");
            if (canList()) {
                assertEquals(List.of("w/done"), listKeys("", "", 10));
                assertEquals(List.of("w/done"), listKeys("w/", "", 10));
            }

            release.countDown();
            Info info = putting.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertEquals(Optional.of(info), store.stat("w/pending"));
            assertArrayEquals(bytes, read("w/pending", 0));
            if (canList()) {
                assertEquals(List.of("w/done", "w/pending"), listKeys("w/", "", 10));
            }
        } finally {
            release.countDown();
            writer.shutdownNow();
            assertTrue(writer.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }

    // ---------------------------------------------------------------- concurrency

    @Test
    void concurrentPutsOfDistinctKeysAllSucceedAndAreAllListed() throws Exception {
        int threads = 8;
        int perThread = 25;
        List<Callable<List<Info>>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            tasks.add(() -> {
                List<Info> stored = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    // threads share directories: f/u0 … f/u3, interleaved
                    String key = "f/u" + (i % 4) + "/t" + thread + "-" + i;
                    stored.add(put(key, utf8(key), "text/plain"));
                }
                return stored;
            });
        }
        List<Info> all = new ArrayList<>();
        for (Future<List<Info>> future : runTogether(tasks)) {
            all.addAll(future.get());
        }
        assertEquals(threads * perThread, all.size());
        for (Info info : all) {
            assertArrayEquals(utf8(info.key()), read(info.key(), 0));
        }
        if (canList()) {
            all.sort((a, b) -> a.key().compareTo(b.key()));
            assertEquals(all, store.list("f/", "", 1000));
            assertEquals(all.stream().map(Info::key).toList(), listAll("", 7));
        }
    }

    @Test
    void concurrentPutsOfTheSameKeyLetExactlyOneWin() throws Exception {
        for (int round = 0; round < 5; round++) {
            String key = "race/" + round + "/k";
            List<Callable<Info>> tasks = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                byte[] bytes = randomBytes(50_000, 100 * round + t);
                tasks.add(() -> put(key, bytes, "application/octet-stream"));
            }
            Info winner = null;
            int refused = 0;
            for (Future<Info> future : runTogether(tasks)) {
                try {
                    Info info = future.get();
                    assertEquals(null, winner, "two puts of " + key + " succeeded");
                    winner = info;
                } catch (ExecutionException e) {
                    assertInstanceOf(FileAlreadyExistsException.class, e.getCause());
                    refused++;
                }
            }
            if (winner == null) {
                fail("no put of " + key + " succeeded");
            }
            assertEquals(7, refused);
            assertEquals(Optional.of(winner), store.stat(key));
            assertEquals(winner.sha256(), sha256(read(key, 0)), "the winner's bytes are stored");
        }
    }
}
