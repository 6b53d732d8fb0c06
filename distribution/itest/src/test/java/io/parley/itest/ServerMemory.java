package io.parley.itest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Memory of another JVM on this machine (the server process), read the way an operator would: {@code VmRSS} from
 * {@code /proc/<pid>/status} (cheap, any time) and {@code jcmd} (attaches a tool JVM: about a second of CPU, and
 * {@code GC.class_histogram} runs a full GC first, so it counts live objects only).
 */
final class ServerMemory {
    private static final Pattern HEAP_USED = Pattern.compile("heap\\s+total\\s+(\\d+)K,\\s+used\\s+(\\d+)K");
    private static final Pattern HISTOGRAM_ROW = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+).*$");
    private static final Pattern HISTOGRAM_TOTAL = Pattern.compile("^Total\\s+(\\d+)\\s+(\\d+)\\s*$");

    private ServerMemory() {
    }

    /** @return the process's resident set size in KiB, or -1 if it is gone */
    static long rssKib(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            return -1;
        } catch (IOException e) {
            return -1;
        }
    }

    /** @return the used heap in KiB as {@code GC.heap_info} reports it (live data plus garbage not yet collected) */
    static long heapUsedKib(long pid) {
        String out = jcmd(pid, "GC.heap_info");
        Matcher m = HEAP_USED.matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("unexpected GC.heap_info output: " + out);
        }
        return Long.parseLong(m.group(2));
    }

    /** Live objects after a full GC ({@code jcmd GC.class_histogram}). */
    record Histogram(long totalBytes, Map<String, long[]> byClass) {
        /** @return live instances of {@code className} over every class loader that defines it */
        long instances(String className) {
            long[] v = byClass.get(className);
            return v == null ? 0 : v[0];
        }

        long bytes(String className) {
            long[] v = byClass.get(className);
            return v == null ? 0 : v[1];
        }
    }

    static Histogram liveHistogram(long pid) {
        String out = jcmd(pid, "GC.class_histogram");
        Map<String, long[]> byClass = new HashMap<>();
        long total = -1;
        for (String line : out.split("\n")) {
            Matcher row = HISTOGRAM_ROW.matcher(line);
            if (row.matches()) {
                long[] v = byClass.computeIfAbsent(row.group(3), k -> new long[2]);
                v[0] += Long.parseLong(row.group(1));
                v[1] += Long.parseLong(row.group(2));
                continue;
            }
            Matcher t = HISTOGRAM_TOTAL.matcher(line.trim());
            if (t.matches()) {
                total = Long.parseLong(t.group(2));
            }
        }
        if (total < 0) {
            throw new IllegalStateException("unexpected GC.class_histogram output: "
                    + out.substring(0, Math.min(500, out.length())));
        }
        return new Histogram(total, byClass);
    }

    /** Runs {@code jcmd <pid> <command...>} and returns its output; fails after 30 s or on a non-zero exit. */
    static String jcmd(long pid, String... command) {
        String[] cmd = new String[command.length + 2];
        cmd[0] = "jcmd";
        cmd[1] = Long.toString(pid);
        System.arraycopy(command, 0, cmd, 2, command.length);
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException("jcmd " + String.join(" ", command) + " failed: "
                        + new String(out, StandardCharsets.UTF_8));
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Samples {@link #rssKib} on a daemon thread every {@code periodMillis} until closed, keeping the largest value.
     * Thread-safe.
     */
    static final class RssSampler implements AutoCloseable {
        private final long pid;
        private final Thread thread;
        private volatile boolean running = true;
        private volatile long maxKib;
        private volatile long samples;

        RssSampler(long pid, long periodMillis) {
            this.pid = pid;
            this.maxKib = rssKib(pid);
            this.thread = new Thread(() -> {
                while (running) {
                    long v = rssKib(pid);
                    if (v > maxKib) {
                        maxKib = v;
                    }
                    samples++;
                    try {
                        Thread.sleep(periodMillis);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "rss-sampler-" + pid);
            thread.setDaemon(true);
            thread.start();
        }

        /** @return the largest RSS seen so far, in KiB */
        long maxKib() {
            return maxKib;
        }

        long samples() {
            return samples;
        }

        /** Clears the maximum to the current value (e.g. after a warm-up). */
        void reset() {
            maxKib = rssKib(pid);
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.interrupt();
            thread.join(2000);
        }
    }
}
