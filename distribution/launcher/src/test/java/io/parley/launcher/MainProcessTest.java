package io.parley.launcher;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs {@link Main} as its own process and stops it with SIGTERM, as {@code bin/parley stop} does. */
class MainProcessTest {

    @Test
    void sigtermStopsTheFrameworkInOrder(@TempDir Path home) throws Exception {
        Path system = Files.createDirectories(home.resolve("system"));
        for (Path jar : Launcher.jars(Paths.get(System.getProperty("parley.test.system", "target/test-system")))) {
            Files.copy(jar, system.resolve(jar.getFileName()));
        }
        Path conf = Files.createDirectories(home.resolve("conf"));
        for (String f : List.of("parley.properties", "logging.properties")) {
            Files.copy(LauncherTest.SHIPPED_CONF.resolve(f), conf.resolve(f));
        }
        String cp = Paths.get(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()) + java.io.File.pathSeparator
                + Paths.get(org.apache.felix.framework.FrameworkFactory.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Process p = new ProcessBuilder(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", cp, "-Dparley.home=" + home, Main.class.getName())
                .redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        CompletableFuture<Void> started = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (lines) {
                        lines.add(line);
                    }
                    if (line.contains("Parley ") && line.contains(BootLog.STARTED_MARKER)) {
                        started.complete(null);
                    }
                }
            } catch (Exception ignored) {
                // process gone
            }
            started.complete(null);
        });
        reader.start();
        try {
            started.get(30, TimeUnit.SECONDS);
            assertTrue(p.isAlive(), () -> "launcher exited: " + lines);
            p.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its stdout
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "launcher did not exit after SIGTERM");
            reader.join(5_000);
            synchronized (lines) {
                String all = String.join("\n", lines);
                System.out.println("exit=" + p.exitValue() + "\n" + all);
                assertTrue(all.contains(BootLog.STARTED_MARKER), all);
                assertTrue(all.contains("Parley stopping") && all.contains("Parley stopped in"), all);
                assertTrue(p.exitValue() == 143 || p.exitValue() == 0, "exit " + p.exitValue());
            }
        } finally {
            p.destroyForcibly();
        }
    }
}
