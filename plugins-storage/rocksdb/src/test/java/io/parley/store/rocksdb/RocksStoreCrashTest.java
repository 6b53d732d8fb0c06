package io.parley.store.rocksdb;

import io.parley.core.proto.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 in the middle of traffic: a forked JVM ({@link CrashAppender}) appends and reports acknowledgements;
 * it is killed with SIGKILL; the reopened store must hold every acknowledged message with identical bytes, stay
 * gapless, hand out seqs above everything acknowledged, and show every group event's record and list change
 * together with its message. Three rounds on the same directory (the second and third open a database whose WAL
 * was replayed after a kill). {@code -Dparley.crashtest.acks=50000} makes a longer soak (memtable flushes and
 * compactions happen before the kill).
 */
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class RocksStoreCrashTest {

    private static final int ACKS_BEFORE_KILL = Integer.getInteger("parley.crashtest.acks", 1500);

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedAppendSurvivesKillDashNine() throws Exception {
        Map<String, Map<Long, byte[]>> acked = new HashMap<>();
        for (int run = 0; run < 3; run++) {
            crashRun("r" + run, acked);
            verify(acked);
        }
    }

    private void crashRun(String run, Map<String, Map<Long, byte[]>> acked) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // RocksJava extracts its native library to java.io.tmpdir (outside OSGi) and a SIGKILLed JVM cannot delete
        // it: keep those copies in the test's directory
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        ProcessBuilder pb = new ProcessBuilder(java, "-Djava.io.tmpdir=" + tmp, "-cp",
                System.getProperty("java.class.path"), CrashAppender.class.getName(), dir.resolve("db").toString(),
                "8", run)
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("child-" + run + ".err").toFile()));
        Process child = pb.start();
        int count = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertEquals("READY", line, "child did not start; see child-" + run + ".err");
            while (count < ACKS_BEFORE_KILL && (line = out.readLine()) != null) {
                String[] parts = line.split(" ");
                assertEquals("ACK", parts[0], line);
                byte[] bytes = Base64.getDecoder().decode(parts[3]);
                byte[] previous = acked.computeIfAbsent(parts[1], c -> new HashMap<>())
                        .put(Long.parseLong(parts[2]), bytes);
                assertTrue(previous == null, "seq acknowledged twice: " + line);
                count++;
            }
            assertEquals(ACKS_BEFORE_KILL, count, "child stopped early; see child-" + run + ".err");
            assertTrue(child.isAlive());
            child.destroyForcibly(); // SIGKILL on Unix
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        } finally {
            child.destroyForcibly();
        }
        assertEquals(137, child.exitValue(), "expected death by SIGKILL");
    }

    private void verify(Map<String, Map<Long, byte[]>> acked) throws Exception {
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir.resolve("db")))) {
            Set<String> ids = new HashSet<>();
            for (Map.Entry<String, Map<Long, byte[]>> conversation : acked.entrySet()) {
                String id = conversation.getKey();
                long head = store.head(id);
                long maxAcked = conversation.getValue().keySet().stream().mapToLong(Long::longValue).max()
                        .orElseThrow();
                assertTrue(head >= maxAcked, id + ": head " + head + " below acknowledged " + maxAcked);

                List<Message> all = store.range(id, 1, Long.MAX_VALUE, Integer.MAX_VALUE);
                assertEquals(head, all.size(), id + " has gaps");
                for (int i = 0; i < all.size(); i++) {
                    Message m = all.get(i);
                    assertEquals(i + 1, m.getSeq());
                    assertTrue(ids.add(m.getId()), "message stored twice: " + m.getId());
                    byte[] ackedBytes = conversation.getValue().get(m.getSeq());
                    if (ackedBytes != null) {
                        assertArrayEquals(ackedBytes, m.toByteArray(), id + "#" + m.getSeq() + " differs");
                    }
                    // the idempotency key of every stored message survived with it
                    assertEquals(m, store.findByClientId(m.getSender(), m.getClientMsgId()).orElseThrow());
                }
                // group events are atomic: the record is the last event's and every event's user is listed
                Message lastEvent = null;
                for (Message m : all) {
                    if (m.getType().equals("group.event")) {
                        lastEvent = m;
                        String joined = "j" + m.getId();
                        assertTrue(store.conversations(joined).stream().anyMatch(h -> h.conversation().equals(id)),
                                joined + " not listed in " + id);
                    }
                }
                if (lastEvent != null) {
                    assertEquals(lastEvent.getId(), new String(store.groupRecord(id.substring(2)).orElseThrow(),
                            StandardCharsets.UTF_8), id + ": record is not the last event's");
                }
                // the next seq is above everything acknowledged: none is handed out twice
                Message next = Drafts.draft("checker", "after-" + id + "-" + head, id);
                long seq = store.append(next, List.of("checker")).toCompletableFuture().get(30, TimeUnit.SECONDS)
                        .message().getSeq();
                assertEquals(head + 1, seq);
                acked.get(id).put(seq, store.range(id, seq, seq, 1).get(0).toByteArray());
            }
            assertTrue(acked.values().stream().mapToInt(Map::size).sum() >= ACKS_BEFORE_KILL);
        }
    }
}
