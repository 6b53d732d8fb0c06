package io.parley.store.rocksdb;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore.Appended;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.store.MessageStore.ConversationHead;
import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A real full disk (the same checks as the mvstore's disk-full test): the store lives on a 16 MiB tmpfs mounted for
 * each test (this needs root, as on this project's
 * build machines and CI; a failed mount fails the test), which a filler file fills up.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RocksStoreDiskFullTest {

    private static final String[] CONVERSATIONS = {"g:a", "g:b", "d:alice:bob"};
    private static final AtomicLong IDS = new AtomicLong();

    @TempDir
    Path tmp;

    private Path mountPoint;
    private boolean mounted;

    @BeforeEach
    void mountSmallFilesystem() throws Exception {
        mountPoint = Files.createDirectories(tmp.resolve("small"));
        Result mount = run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint.toString());
        if (mount.exit != 0) {
            fail("cannot mount a 16 MiB tmpfs at " + mountPoint + " (exit " + mount.exit + "): " + mount.output
                    + " This test needs root (mount -t tmpfs); the build machines and CI run as root.");
        }
        mounted = true;
    }

    @AfterEach
    void unmount() throws Exception {
        if (mounted) {
            Result umount = run("umount", mountPoint.toString());
            if (umount.exit != 0) {
                Result lazy = run("umount", "-l", mountPoint.toString());
                assertEquals(0, lazy.exit, "cannot unmount " + mountPoint + ": " + umount.output + lazy.output);
            }
        }
    }

    @Test
    void aFullDiskRefusesWritesKeepsReadsAndRecoversByItself() throws Exception {
        Path dir = mountPoint.resolve("store");
        Acked acked = new Acked();
        RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir));
        try {
            assertTrue(RocksStoreOptions.defaults(dir).fsync());
            for (int i = 0; i < 30; i++) {
                String conversation = CONVERSATIONS[i % CONVERSATIONS.length];
                acked.add(await(store.append(draft("alice", "before" + i, conversation, 200), List.of("alice", "bob"))));
            }
            acked.add(await(store.appendGroupEvent(draft("alice", "ev1", "g:a", 10), "a", bytes("record 1"),
                    List.of("carol"), List.of())));
            store.advanceWatermark("bob", "phone", "g:a", 5);
            store.advanceReadCursor("bob", "g:b", 3);
            await(store.flush());
            assertEquals(Optional.empty(), store.writeFailure());

            // reads from another thread all along: through the failure, the reopens and the recovery
            AtomicBoolean reading = new AtomicBoolean(true);
            CompletableFuture<Long> reader = CompletableFuture.supplyAsync(() -> {
                long reads = 0;
                while (reading.get()) {
                    for (String conversation : CONVERSATIONS) {
                        long head = store.head(conversation);
                        assertTrue(head >= 10, conversation + " head " + head);
                        List<Message> page = store.range(conversation, 1, Long.MAX_VALUE, Integer.MAX_VALUE);
                        for (int i = 0; i < page.size(); i++) {
                            assertEquals(i + 1, page.get(i).getSeq());
                        }
                        reads++;
                    }
                    assertEquals(5L, store.watermarks("bob", "phone").get("g:a"));
                }
                return reads;
            }, runnable -> new Thread(runnable, "disk-full-test-reader").start());

            Path filler = mountPoint.resolve("filler");
            fill(filler);
            // the WAL may have space allocated ahead: append until a write needs more than there is
            ParleyException refusal = null;
            for (int i = 0; i < 200 && refusal == null; i++) {
                String conversation = CONVERSATIONS[i % CONVERSATIONS.length];
                CompletionStage<Appended> append =
                        store.append(draft("alice", "full" + i, conversation, 16 << 10), List.of("alice", "bob"));
                try {
                    acked.add(await(append));
                } catch (ExecutionException e) {
                    refusal = assertInstanceOf(ParleyException.class, e.getCause());
                }
            }
            assertRetryableUnavailable(refusal);
            String failure = store.writeFailure().orElseThrow(() -> new AssertionError("no write failure reported"));
            assertTrue(failure.startsWith("disk full: ") && failure.contains("No space left on device")
                    && failure.contains(dir.toString()), failure);
            assertTrue(refusal.getMessage().contains("No space left on device"), refusal.getMessage());
            // entering the failed state reopened the database, which replayed its WAL into a (compressed) table file
            // and may so have freed some space: fill that too, so that the retries below keep failing
            Path filler2 = mountPoint.resolve("filler2");
            fill(filler2);

            // refused at once with the reason, not queued
            long start = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> await(store.append(draft("alice", "refused", "g:a", 10), List.of("alice"))));
                ParleyException p = assertInstanceOf(ParleyException.class, e.getCause());
                assertRetryableUnavailable(p);
                assertTrue(p.getMessage().contains(failure), p.getMessage());
            }
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "refusals were not fast");
            assertRetryableUnavailable(cause(assertThrows(ExecutionException.class, () -> await(store.appendGroupEvent(
                    draft("alice", "ev2", "g:a", 10), "a", bytes("record 2"), List.of("dave"), List.of())))));
            assertRetryableUnavailable(cause(assertThrows(ExecutionException.class, () -> await(store.flush()))));

            // updates while failing: watermarks visible at once, both written after recovery
            store.advanceWatermark("bob", "phone", "g:b", 7);
            store.advanceReadCursor("bob", "g:a", 4);

            acked.assertReadable(store);
            assertEquals(Map.of("g:a", 5L, "g:b", 7L), store.watermarks("bob", "phone"));
            assertEquals(Map.of("g:b", 3L), store.readCursors("bob"));
            assertEquals(Map.of("bob", 3L), store.readCursorsIn("g:b", List.of("bob", "alice")));
            assertArrayEquals(bytes("record 1"), store.groupRecord("a").orElseThrow());
            assertEquals(Set.of("g:a"), conversationsOf(store, "carol"));
            assertEquals(Set.of(), conversationsOf(store, "dave"));

            // a retry or two fail (the disk is still full); reads go on, writes are still refused
            Thread.sleep(2500);
            // still failing (the reason names the WAL file of the last retry's reopen)
            assertTrue(store.writeFailure().orElseThrow().startsWith("disk full: "), store.writeFailure().toString());
            acked.assertReadable(store);
            assertRetryableUnavailable(cause(assertThrows(ExecutionException.class,
                    () -> await(store.append(draft("alice", "still", "g:a", 10), List.of("alice"))))));

            Files.delete(filler);
            Files.delete(filler2);
            awaitRecovery(store);
            acked.assertReadable(store);
            for (String conversation : CONVERSATIONS) {
                long head = store.head(conversation);
                Appended next = await(store.append(draft("alice", "after-" + conversation, conversation, 100),
                        List.of("alice", "bob")));
                assertFalse(next.duplicate());
                assertEquals(head + 1, next.message().getSeq(), conversation + ": seq gap or reuse");
                acked.add(next);
            }
            await(store.flush());
            assertEquals(Map.of("g:a", 4L, "g:b", 3L), store.readCursors("bob"));
            acked.assertReadable(store);
            reading.set(false);
            assertTrue(reader.get(30, TimeUnit.SECONDS) > 0, "no reads");
        } finally {
            store.close();
        }
        try (RocksMessageStore reopened = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            acked.assertReadable(reopened);
            assertEquals(Map.of("g:a", 5L, "g:b", 7L), reopened.watermarks("bob", "phone"));
            assertEquals(Map.of("g:a", 4L, "g:b", 3L), reopened.readCursors("bob"));
            assertArrayEquals(bytes("record 1"), reopened.groupRecord("a").orElseThrow());
            assertEquals(Optional.empty(), reopened.findByClientId("alice", "refused"));
            assertEquals(Optional.empty(), reopened.findByClientId("alice", "ev2"));
        }
    }

    /**
     * One batch (the writer waits 300 ms to gather it) of group events and appends whose WAL write runs out of space
     * part way: the whole batch fails, nothing of it is visible, after recovery or after
     * reopening the file; its read cursor update is kept and written after recovery.
     */
    @Test
    void aBatchWhoseCommitFailsPartWayLeavesNothingBehind() throws Exception {
        Path dir = mountPoint.resolve("store");
        RocksStoreOptions options = RocksStoreOptions.defaults(dir).withBatching(4096, 300_000);
        Acked acked = new Acked();
        RocksMessageStore store = RocksMessageStore.open(options);
        List<String> failedIds = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                acked.add(await(store.append(draft("alice", "ok" + i, "g:a", 100), List.of("alice"))));
            }
            acked.add(await(store.appendGroupEvent(draft("alice", "ev1", "g:a", 10), "a", bytes("record 1"),
                    List.of("carol"), List.of())));
            await(store.flush());

            // about 1 MiB left: the batch below needs about 2 MiB
            Path reserve = mountPoint.resolve("reserve");
            Files.write(reserve, new byte[1 << 20]);
            Path filler = mountPoint.resolve("filler");
            fill(filler);
            Files.delete(reserve);

            List<CompletableFuture<Appended>> batch = new ArrayList<>();
            batch.add(store.appendGroupEvent(draft("alice", "ev2", "g:a", 10), "a", bytes("record 2"),
                    List.of("dave"), List.of("carol")).toCompletableFuture());
            store.advanceReadCursor("bob", "g:a", 11);
            for (int i = 0; i < 20; i++) {
                Message m = draft("alice", "big" + i, i % 2 == 0 ? "g:a" : "g:new", 100 << 10);
                failedIds.add(m.getId());
                batch.add(store.append(m, List.of("alice", "erin")).toCompletableFuture());
            }
            batch.add(store.appendGroupEvent(draft("alice", "ev3", "g:a", 10), "a", bytes("record 3"),
                    List.of("frank"), List.of()).toCompletableFuture());
            for (CompletableFuture<Appended> f : batch) {
                assertRetryableUnavailable(cause(assertThrows(ExecutionException.class, () -> await(f))));
            }
            assertTrue(store.writeFailure().isPresent());
            assertNothingOfTheFailedBatch(store, acked, failedIds, 11);

            Files.delete(filler);
            awaitRecovery(store);
            assertNothingOfTheFailedBatch(store, acked, failedIds, 11);
            Appended next = await(store.append(draft("alice", "next", "g:a", 10), List.of("alice")));
            assertEquals(12, next.message().getSeq());
            acked.add(next);
            await(store.flush());
            assertEquals(Map.of("g:a", 11L), store.readCursors("bob"));
        } finally {
            store.close();
        }
        try (RocksMessageStore reopened = RocksMessageStore.open(options)) {
            assertNothingOfTheFailedBatch(reopened, acked, failedIds, 12);
            assertEquals(Map.of("g:a", 11L), reopened.readCursors("bob"));
            assertEquals(13, await(reopened.append(draft("alice", "after", "g:a", 10), List.of("alice")))
                    .message().getSeq());
        }
    }

    /** Through the DS component, which must forward {@code writeFailure()}; deactivation closes the store. */
    @Test
    void closeWhileWritesFailDoesNotHangAndKeepsEverythingAcknowledged() throws Exception {
        Path dir = mountPoint.resolve("store");
        Acked acked = new Acked();
        RocksStoreComponent store = new RocksStoreComponent(
                ComponentConfigs.of(RocksStoreConfig.class, Map.of("dir", dir.toString())));
        Path filler = mountPoint.resolve("filler");
        try {
            for (int i = 0; i < 10; i++) {
                acked.add(await(store.append(draft("alice", "ok" + i, "g:a", 100), List.of("alice"))));
            }
            fill(filler);
            ParleyException refusal = null;
            for (int i = 0; i < 200 && refusal == null; i++) {
                try {
                    acked.add(await(store.append(draft("alice", "full" + i, "g:a", 16 << 10), List.of("alice"))));
                } catch (ExecutionException e) {
                    refusal = assertInstanceOf(ParleyException.class, e.getCause());
                }
            }
            assertRetryableUnavailable(refusal);
            assertTrue(store.writeFailure().isPresent());
        } finally {
            long start = System.nanoTime();
            store.deactivate();
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "close took too long");
        }
        assertEquals(0, Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals(RocksMessageStore.WRITER_THREAD) && t.isAlive()).count());
        assertRetryableUnavailable(cause(assertThrows(ExecutionException.class,
                () -> await(store.append(draft("alice", "late", "g:a", 10), List.of("alice"))))));
        Files.delete(filler);
        try (RocksMessageStore reopened = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            acked.assertReadable(reopened);
            assertEquals(Optional.empty(), reopened.writeFailure());
            long head = reopened.head("g:a");
            assertEquals(head + 1, await(reopened.append(draft("alice", "after", "g:a", 10), List.of("alice")))
                    .message().getSeq());
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void assertNothingOfTheFailedBatch(RocksMessageStore store, Acked acked, List<String> failedIds,
                                                      long head) {
        acked.assertReadable(store);
        assertEquals(head, store.head("g:a"));
        assertEquals(0, store.head("g:new"));
        assertArrayEquals(bytes("record 1"), store.groupRecord("a").orElseThrow());
        assertEquals(Set.of("g:a"), conversationsOf(store, "carol"));
        assertEquals(Set.of(), conversationsOf(store, "dave"));
        assertEquals(Set.of(), conversationsOf(store, "erin"));
        assertEquals(Set.of(), conversationsOf(store, "frank"));
        for (int i = 0; i < 20; i++) {
            assertEquals(Optional.empty(), store.findByClientId("alice", "big" + i));
        }
        assertEquals(Optional.empty(), store.findByClientId("alice", "ev2"));
        assertEquals(Optional.empty(), store.findByClientId("alice", "ev3"));
        for (Message m : store.range("g:a", 1, Long.MAX_VALUE, Integer.MAX_VALUE)) {
            assertFalse(failedIds.contains(m.getId()), "message of the failed batch stored: " + m.getId());
        }
    }

    private static void awaitRecovery(MessageStore store) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (store.writeFailure().isPresent()) {
            assertTrue(System.nanoTime() < deadline, "no recovery within 15 s: " + store.writeFailure());
            Thread.sleep(50);
        }
    }

    /** Writes {@code filler} until the filesystem is full. */
    private static void fill(Path filler) throws IOException {
        try (FileChannel channel = FileChannel.open(filler, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int size : new int[] {64 << 10, 4 << 10, 1}) {
                ByteBuffer chunk = ByteBuffer.allocate(size);
                try {
                    while (true) {
                        chunk.clear();
                        channel.write(chunk);
                    }
                } catch (IOException e) {
                    assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());
                }
            }
        }
        assertTrue(Files.size(filler) > 0);
    }

    private static void assertRetryableUnavailable(ParleyException e) {
        assertTrue(e != null, "no append failed");
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, e.code(), e.getMessage());
        assertTrue(e.retryable(), e.getMessage());
    }

    private static ParleyException cause(ExecutionException e) {
        return assertInstanceOf(ParleyException.class, e.getCause());
    }

    private static Set<String> conversationsOf(MessageStore store, String user) {
        return store.conversations(user).stream().map(ConversationHead::conversation).collect(Collectors.toSet());
    }

    private static Message draft(String sender, String clientMsgId, String conversation, int bodyBytes) {
        long n = IDS.incrementAndGet();
        byte[] body = new byte[bodyBytes];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) (n * 31 + i * 7); // the WAL is not compressed
        }
        return Message.newBuilder().setId("d" + n).setClientMsgId(clientMsgId).setSender(sender)
                .setSenderDevice("phone").setConversation(conversation).setServerTime(n).setType("text")
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.test.Blob")
                        .setValue(ByteString.copyFrom(body)))
                .build();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    /** Every acknowledged message by conversation and seq, with what must be readable of it. */
    private static final class Acked {
        private final Map<String, TreeMap<Long, Message>> byConversation = new HashMap<>();

        void add(Appended appended) {
            assertFalse(appended.duplicate());
            Message m = appended.message();
            Message previous = byConversation.computeIfAbsent(m.getConversation(), c -> new TreeMap<>())
                    .put(m.getSeq(), m);
            assertEquals(null, previous, "seq acknowledged twice: " + m.getConversation() + "#" + m.getSeq());
        }

        /** range, head, conversations and findByClientId return every acknowledged message, gapless. */
        void assertReadable(MessageStore store) {
            for (Map.Entry<String, TreeMap<Long, Message>> entry : byConversation.entrySet()) {
                String conversation = entry.getKey();
                TreeMap<Long, Message> messages = entry.getValue();
                assertEquals(messages.lastKey(), store.head(conversation), conversation + " head");
                List<Message> all = store.range(conversation, 1, Long.MAX_VALUE, Integer.MAX_VALUE);
                assertEquals(List.copyOf(messages.values()), all, conversation + " range");
                for (int i = 0; i < all.size(); i++) {
                    assertEquals(i + 1, all.get(i).getSeq(), conversation + " has a gap");
                }
                for (Message m : messages.values()) {
                    assertEquals(Optional.of(m), store.findByClientId(m.getSender(), m.getClientMsgId()));
                }
            }
            Set<String> listed = conversationsOf(store, "alice");
            assertTrue(listed.containsAll(byConversation.keySet()), "alice lists " + listed);
            for (ConversationHead head : store.conversations("alice")) {
                TreeMap<Long, Message> messages = byConversation.get(head.conversation());
                if (messages != null) {
                    assertEquals(messages.lastKey(), head.head(), head.conversation());
                }
            }
        }
    }

    private record Result(int exit, String output) {
    }

    private static Result run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            return new Result(-1, String.join(" ", command) + " timed out");
        }
        return new Result(process.exitValue(), output);
    }
}
