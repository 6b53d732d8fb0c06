package io.parley.blob.fs;

import io.parley.core.spi.blob.BlobStore.Info;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 in the middle of puts: a forked JVM ({@link CrashPutter}) puts blobs from several threads and reports each
 * one that returned; one put is stuck half-written. After SIGKILL the reopened store holds every reported blob with
 * its bytes, every blob it lists or serves is whole (its bytes hash to its SHA-256), the stuck put left nothing,
 * and the temp files are gone. Two rounds on the same directory.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class FsBlobStoreCrashTest {

    private static final int PUTS_BEFORE_KILL = 200;

    @TempDir
    Path dir;

    @Test
    void everyReturnedPutSurvivesKillDashNineAndNothingHalfWrittenIsVisible() throws Exception {
        Map<String, String> reported = new HashMap<>();
        for (int run = 0; run < 2; run++) {
            crashRun("r" + run, reported);
            try (Stream<Path> leftovers = Files.list(dir.resolve("tmp"))) {
                assertFalse(leftovers.toList().isEmpty(), "the stuck put's temp file is there before the restart");
            }
            try (FsBlobStore store = new FsBlobStore(dir)) {
                try (Stream<Path> leftovers = Files.list(dir.resolve("tmp"))) {
                    assertEquals(List.of(), leftovers.toList(), "temp files are removed at start");
                }
                verify(store, "r" + run, reported);
            }
        }
    }

    private void crashRun(String run, Map<String, String> reported) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                CrashPutter.class.getName(), dir.toString(), run)
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("child-" + run + ".err").toFile()))
                .start();
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            boolean stuck = false;
            int puts = 0;
            String line;
            while ((!stuck || puts < PUTS_BEFORE_KILL) && (line = out.readLine()) != null) {
                if (line.equals("STUCK")) {
                    stuck = true;
                    continue;
                }
                String[] parts = line.split(" ");
                assertEquals("OK", parts[0], line);
                assertEquals(null, reported.put(parts[1], parts[2]), "reported twice: " + line);
                puts++;
            }
            assertTrue(stuck && puts >= PUTS_BEFORE_KILL, "child stopped early; see child-" + run + ".err");
            assertTrue(child.isAlive());
            child.destroyForcibly(); // SIGKILL on Unix
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        } finally {
            child.destroyForcibly();
        }
        assertEquals(137, child.exitValue(), "expected death by SIGKILL");
    }

    private static void verify(FsBlobStore store, String run, Map<String, String> reported) throws Exception {
        assertEquals(Optional.empty(), store.stat(run + "/stuck"));
        Map<String, String> listed = new HashMap<>();
        String after = "";
        for (List<Info> page; !(page = store.list("", after, 100)).isEmpty(); after = page.get(page.size() - 1).key()) {
            for (Info info : page) {
                listed.put(info.key(), info.sha256());
                String sha = sha256Of(store, info.key());
                assertEquals(info.sha256(), sha, "whole bytes of " + info.key());
            }
        }
        for (Map.Entry<String, String> e : reported.entrySet()) {
            assertEquals(e.getValue(), listed.get(e.getKey()), "reported put of " + e.getKey());
        }
        // puts the kill interrupted after their link but before their report are listed too, and whole (above)
    }

    private static String sha256Of(FsBlobStore store, String key) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (var in = store.open(key, 0).orElseThrow()) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) != -1; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
