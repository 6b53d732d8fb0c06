package io.parley.itest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No store may take the server down (performance issue, point 5), on the assembled server started with
 * {@code bin/parley start} and flooded by {@code bin/parley bench} on a small heap: the in-memory store's default
 * bound refuses sends and turns health DOWN while the server keeps working; without a bound, the heap runs out
 * and the JVM exits (the shipped {@code -XX:+ExitOnOutOfMemoryError}) instead of wedging, and
 * {@code bin/parley status} says so.
 */
class MemoryBoundIT {

    private static ServerProcess memoryServer(Path dir) throws Exception {
        return new ServerProcess(dir).useStore("memory");
    }

    private static final Map<String, String> SMALL_HEAP = Map.of("JAVA_OPTS", "-Xms64m -Xmx128m", "PARLEY_CDS", "0");

    /** 100 clients in pairs for {@code seconds}, closed loop; the bench's output. */
    private static BinParley.Result flood(Path home, int seconds) throws Exception {
        return BinParley.run(home, Map.of(), seconds + 60L, "bench", "--clients", "100", "--duration", seconds + "s",
                "--warmup", "1s");
    }

    @Test
    void theBoundRefusesSendsAndHealthSaysWhyWhileTheServerKeepsRunning(@TempDir Path dir) throws Exception {
        ServerProcess server = memoryServer(dir);
        Path home = server.home;
        // a quarter of 128 MB: ~50,000 small messages, full within seconds
        assertEquals(0, BinParley.run(home, SMALL_HEAP, 90, "start").exit());
        try {
            BinParley.Result bench = flood(home, 12);
            assertTrue(bench.output().matches("(?s).*\"errors\":[1-9].*"), "sends were refused:\n" + bench.output());
            assertEquals(0, BinParley.run(home, Map.of(), 30, "status").exit(), "still running");
            HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.httpPort + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode(), health.body());
            assertTrue(health.body().contains("in-memory store is full"), health.body());
            assertTrue(server.log().contains("in-memory store is full"), "logged");
        } finally {
            BinParley.run(home, Map.of(), 90, "stop");
        }
    }

    @Test
    void withoutABoundTheJvmExitsOnOutOfMemoryAndStatusSaysSo(@TempDir Path dir) throws Exception {
        ServerProcess server = memoryServer(dir);
        Path home = server.home;
        ServerProcess.setKey(home.resolve("conf/parley.store.memory.cfg"), "max.bytes", "100000000000");
        ServerProcess.setKey(home.resolve("conf/parley.store.memory.cfg"), "max.messages", "100000000000");
        assertEquals(0, BinParley.run(home, SMALL_HEAP, 90, "start").exit());
        // flood until the JVM is gone (seconds, on 128 MB), not for a fixed time
        Process bench = BinParley.start(home, Map.of(), dir.resolve("bench.out"), "bench", "--clients", "100",
                "--duration", "60s", "--warmup", "1s");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            BinParley.Result status;
            do {
                status = BinParley.run(home, Map.of(), 30, "status");
            } while (status.exit() == 0 && System.nanoTime() < deadline && sleep());
            bench.destroy();
            assertEquals(3, status.exit(), "the JVM exited:\n" + status.output());
            assertTrue(status.output().contains("it ran out of memory (Java heap space"), status.output());
            String console = Files.readString(home.resolve("logs/console.log"));
            assertTrue(console.contains("Terminating due to java.lang.OutOfMemoryError"), console);
            assertFalse(Files.list(home.resolve("data")).noneMatch(p -> p.toString().endsWith(".hprof")),
                    "a heap dump for the post-mortem");
        } finally {
            bench.destroyForcibly();
            BinParley.run(home, Map.of(), 90, "stop");
        }
    }

    private static boolean sleep() throws InterruptedException {
        Thread.sleep(500);
        return true;
    }
}
