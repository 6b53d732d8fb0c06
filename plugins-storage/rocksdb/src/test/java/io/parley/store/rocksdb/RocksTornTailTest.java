package io.parley.store.rocksdb;

import io.parley.core.proto.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A torn or partly written WAL tail — what a power loss leaves of a write that was never synced, hence never
 * acknowledged — is detected by the WAL's checksums and cut at recovery: the store opens at the last complete batch,
 * every earlier batch intact, and the next append takes the cut batch's seq (nothing acknowledged was cut, so no
 * acknowledged seq is reused). Each test writes ten batches of one message, closes the store (RocksDB keeps them in
 * the WAL; nothing is flushed to a table file), damages the last batch's WAL record, and reopens.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RocksTornTailTest {

    private static final String CONVERSATION = "d:alice:bob";

    @TempDir
    Path dir;

    @Test
    void aRecordCutShortIsDropped() throws Exception {
        Written written = writeTenBatches();
        try (RandomAccessFile wal = new RandomAccessFile(written.wal.toFile(), "rw")) {
            wal.setLength(written.sizeBeforeLast + (written.sizeAfterLast - written.sizeBeforeLast) / 2);
        }
        assertCutAfterNine(written);
    }

    @Test
    void aRecordWithAFlippedByteFailsItsChecksumAndIsDropped() throws Exception {
        Written written = writeTenBatches();
        try (RandomAccessFile wal = new RandomAccessFile(written.wal.toFile(), "rw")) {
            long at = written.sizeAfterLast - 20; // inside the last record's payload
            wal.seek(at);
            int b = wal.read();
            wal.seek(at);
            wal.write(b ^ 0x5a);
        }
        assertCutAfterNine(written);
    }

    @Test
    void garbageAfterTheLastRecordIsIgnored() throws Exception {
        Written written = writeTenBatches();
        byte[] garbage = new byte[3000];
        new Random(7).nextBytes(garbage);
        try (RandomAccessFile wal = new RandomAccessFile(written.wal.toFile(), "rw")) {
            wal.seek(written.sizeAfterLast);
            wal.write(garbage);
        }
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            assertEquals(written.acked, store.range(CONVERSATION, 1, Long.MAX_VALUE, 100));
            assertEquals(11, append(store, "after").getSeq());
        }
    }

    private void assertCutAfterNine(Written written) throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            assertEquals(9, store.head(CONVERSATION), "the damaged last batch is cut, the nine before it kept");
            assertEquals(written.acked.subList(0, 9), store.range(CONVERSATION, 1, Long.MAX_VALUE, 100));
            assertEquals(Optional.empty(), store.findByClientId("alice", "c9"), "its idempotency key went with it");
            Message again = append(store, "c9");
            assertEquals(10, again.getSeq(), "the next append continues without a gap");
        }
        // and the repaired log is a normal one again
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            assertEquals(10, store.head(CONVERSATION));
            assertEquals(11, append(store, "c10").getSeq());
        }
    }

    private record Written(List<Message> acked, Path wal, long sizeBeforeLast, long sizeAfterLast) {
    }

    private Written writeTenBatches() throws Exception {
        List<Message> acked = new ArrayList<>();
        long before = 0;
        long after = 0;
        Path wal;
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            for (int i = 0; i < 10; i++) {
                if (i == 9) {
                    before = Files.size(newestWal());
                }
                acked.add(append(store, "c" + i));
            }
            wal = newestWal();
            after = Files.size(wal);
        }
        assertEquals(wal, newestWal(), "closing the store started no new WAL");
        assertEquals(after, Files.size(wal), "closing the store wrote nothing more to the WAL");
        assertTrue(after - before > 30, "the last batch is one record of " + (after - before) + " bytes");
        return new Written(acked, wal, before, after);
    }

    private static Message append(RocksMessageStore store, String clientMsgId) throws Exception {
        return store.append(Drafts.draft("alice", clientMsgId, CONVERSATION), List.of("alice", "bob"))
                .toCompletableFuture().get(30, TimeUnit.SECONDS).message();
    }

    private Path newestWal() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".log"))
                    .max(Path::compareTo).orElseThrow(() -> new AssertionError("no WAL in " + dir));
        }
    }
}
