package io.parley.itest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/parley status} after the server ended without {@code bin/parley stop}: it names the cause the JVM left in
 * {@code logs/console.log} (an OutOfMemoryError, which the shipped options turn into an exit), and the shipped
 * {@code conf/jvm.options} makes the JVM exit on one instead of running on half-broken.
 */
class ControlScriptIT {

    private static BinParley.Result parley(Path home, String... args) throws Exception {
        return BinParley.run(home, Map.of(), 30, args);
    }

    /** A pid that belonged to a process which has ended. */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        return p.pid();
    }

    private static void console(Path home, String... lines) throws IOException {
        Files.createDirectories(home.resolve("logs"));
        Files.write(home.resolve("logs/console.log"), List.of(lines));
    }

    @Test
    void statusTellsWhyTheServerEnded(@TempDir Path dir) throws Exception {
        ServerProcess server = new ServerProcess(dir);
        Path home = server.home;

        assertTrue(Files.readAllLines(home.resolve("conf/jvm.options")).contains("-XX:+ExitOnOutOfMemoryError"),
                "the shipped JVM options exit on OutOfMemoryError");

        BinParley.Result never = parley(home, "status");
        assertEquals(3, never.exit());
        assertTrue(never.output().startsWith("parley: not running, home "), never.output());

        Files.createDirectories(home.resolve("data"));
        Files.writeString(home.resolve("data/parley.pid"), deadPid() + "\n");
        console(home,
                "02:00:00.100 INFO  io.parley.launcher - started in 1800 ms",
                "Terminating due to java.lang.OutOfMemoryError: Java heap space");
        BinParley.Result oom = parley(home, "status");
        assertEquals(3, oom.exit());
        assertTrue(oom.output().contains("exited without `bin/parley stop`: it ran out of memory (Java heap space;"),
                oom.output());

        // an OutOfMemoryError of an earlier run, before the last start, is not this run's cause
        console(home,
                "Terminating due to java.lang.OutOfMemoryError: Java heap space",
                "02:10:00.100 INFO  io.parley.launcher - started in 1700 ms");
        BinParley.Result killed = parley(home, "status");
        assertEquals(3, killed.exit());
        assertTrue(killed.output().contains("exited without `bin/parley stop`; see logs/console.log"), killed.output());
    }
}
