package io.parley.blob.fs;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobStore.Info;
import io.parley.core.spi.testing.BlobStoreContract;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The contract, plus what is particular to the filesystem: layout, restart, leftovers, damaged files, the lock. */
class FsBlobStoreTest extends BlobStoreContract {

    @Override
    protected BlobStore openStore(Path dir) throws IOException {
        return new FsBlobStore(dir);
    }

    private void reopen() throws Exception {
        closeStore(store);
        store = null;
        store = openStore(dir);
    }

    private Path objectFile(String key) {
        return dir.resolve("objects").resolve(key + FsBlobStore.SUFFIX);
    }

    private List<Path> tmpFiles() throws IOException {
        try (var files = Files.list(dir.resolve("tmp"))) {
            return files.toList();
        }
    }

    @Test
    void aBlobIsOneFileAtItsKeyPathAndDeleteRemovesEmptyDirectories() throws Exception {
        byte[] bytes = randomBytes(1000, 1);
        put("f/alice/photo.png", bytes, "image/png");
        Path file = objectFile("f/alice/photo.png");
        assertTrue(Files.isRegularFile(file));
        byte[] stored = Files.readAllBytes(file);
        assertArrayEquals(bytes, Arrays.copyOfRange(stored, stored.length - bytes.length, stored.length),
                "the bytes follow the header");
        assertEquals(List.of(), tmpFiles(), "no temp file is left behind");

        put("f/bob/x", bytes, "image/png");
        assertTrue(store.delete("f/alice/photo.png"));
        assertFalse(Files.exists(dir.resolve("objects/f/alice")));
        assertTrue(Files.isDirectory(dir.resolve("objects/f/bob")));
        assertTrue(store.delete("f/bob/x"));
        assertFalse(Files.exists(dir.resolve("objects/f")));
        assertTrue(Files.isDirectory(dir.resolve("objects")));
    }

    @Test
    void blobsReadBackAfterTheStoreIsReopened() throws Exception {
        List<Info> infos = List.of(put("f/a/1", randomBytes(70_000, 1), "image/png"),
                put("f/a/2", randomBytes(0, 2), "text/plain"), put("g", randomBytes(3, 3), "audio/ogg"));
        reopen();
        for (Info info : infos) {
            assertEquals(Optional.of(info), store.stat(info.key()));
        }
        assertArrayEquals(randomBytes(70_000, 1), read("f/a/1", 0));
        assertEquals(infos, store.list("", "", 10));
        assertThrows(FileAlreadyExistsException.class, () -> put("g", randomBytes(3, 3), "audio/ogg"));
    }

    @Test
    void leftoversOfInterruptedPutsAreNeverVisibleAndRemovedAtStart() throws Exception {
        Info done = put("f/done", utf8("done"), "text/plain");
        // a put killed before its link, one killed after it (the temp file is a second link to the blob), and a
        // temp file named like a key
        Files.write(dir.resolve("tmp/put-123"), Files.readAllBytes(objectFile("f/done")));
        Files.createLink(dir.resolve("tmp/put-456"), objectFile("f/done"));
        Files.write(dir.resolve("tmp/f"), utf8("x"));
        assertEquals(Optional.empty(), store.stat("tmp/put-123"));
        assertEquals(List.of(done), store.list("", "", 10));

        reopen();
        assertEquals(List.of(), tmpFiles());
        assertEquals(List.of(done), store.list("", "", 10));
        assertArrayEquals(utf8("done"), read("f/done", 0));
    }

    @Test
    void aFailedPutLeavesNoTempFile() throws Exception {
        assertThrows(IOException.class,
                () -> store.put("k", new ByteArrayInputStream(new byte[10]), 11, "text/plain"));
        assertThrows(IOException.class,
                () -> store.put("k", new ByteArrayInputStream(new byte[12]), 11, "text/plain"));
        assertEquals(List.of(), tmpFiles());
        assertFalse(Files.exists(objectFile("k")));
    }

    @Test
    void filesThatAreNotBlobsAreNeverListedOrServed() throws Exception {
        put("a/b", utf8("b"), "text/plain");
        Files.write(dir.resolve("objects/README"), utf8("x"));
        Files.write(dir.resolve("objects/a/c"), utf8("x"));
        Files.write(dir.resolve("objects/a/bad key@"), utf8("x"));
        Files.createDirectories(dir.resolve("objects/a/d"));
        assertEquals(List.of("a/b"), listKeys("", "", 10));
        assertEquals(Optional.empty(), store.stat("README"));
        assertEquals(Optional.empty(), store.stat("a/c"));
        assertEquals(Optional.empty(), store.stat("a/d"));
        assertEquals(Optional.empty(), store.stat("lock"));
    }

    @Test
    void aDamagedBlobIsNotServedButCanBeDeleted() throws Exception {
        byte[] bytes = randomBytes(5000, 4);
        put("d/truncated", bytes, "image/png");
        put("d/header", bytes, "image/png");
        put("d/empty", bytes, "image/png");
        Info good = put("d/good", bytes, "image/png");
        try (RandomAccessFile file = new RandomAccessFile(objectFile("d/truncated").toFile(), "rw")) {
            file.setLength(file.length() - 1);
        }
        try (RandomAccessFile file = new RandomAccessFile(objectFile("d/header").toFile(), "rw")) {
            file.seek(62);
            int first = file.read();
            file.seek(62);
            file.write(first ^ 1); // the content type's first byte: only the header's CRC tells
        }
        Files.write(objectFile("d/empty"), new byte[0]);

        for (String key : List.of("d/truncated", "d/header", "d/empty")) {
            IOException stat = assertThrows(IOException.class, () -> store.stat(key), key);
            assertTrue(stat.getMessage().contains("corrupt blob " + key), stat.getMessage());
            assertFalse(stat instanceof NoSuchFileException);
            assertThrows(IOException.class, () -> store.open(key, 0), key);
            assertThrows(FileAlreadyExistsException.class, () -> put(key, bytes, "image/png"), key);
        }
        assertEquals(List.of(good), store.list("d/", "", 10), "damaged blobs are left out of the listing");

        assertTrue(store.delete("d/truncated"));
        put("d/truncated", bytes, "image/png");
        assertArrayEquals(bytes, read("d/truncated", 0));
    }

    @Test
    void aSecondStoreCannotOpenTheSameDirectory() throws Exception {
        IOException e = assertThrows(IOException.class, () -> new FsBlobStore(dir));
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
        reopen();
        put("still", utf8("works"), "text/plain");
    }

    @Test
    void outOfRangeArgumentsAreRefused() throws Exception {
        put("k", utf8("abc"), "text/plain");
        assertThrows(IllegalArgumentException.class, () -> store.open("k", 4));
        assertThrows(IllegalArgumentException.class, () -> store.open("k", -1));
        assertThrows(IllegalArgumentException.class, () -> store.list("", "", 0));
        assertThrows(IllegalArgumentException.class,
                () -> store.put("n", new ByteArrayInputStream(new byte[0]), -1, "text/plain"));
        assertEquals(List.of(), listKeys("../", "", 10));
        assertEquals(List.of(), listKeys("a//", "", 10));
        assertEquals(List.of(), listKeys("/", "", 10));
        assertEquals(List.of(), listKeys("a b", "", 10));
        assertEquals(List.of("k"), listKeys("k", null, 10));
    }
}
