package io.parley.transport.support;

import javax.management.MBeanServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;

/**
 * The process's open-file limit ({@code ulimit -n}) and the connection cap a transport derives from it: every
 * connection is a file descriptor, so a {@code max.connections} above what the process may open is never reached —
 * the process runs out of files first, and then the store, jars and logs fail too. Each client-facing transport
 * takes at most {@value #SHARE_PERCENT}% of the limit (TCP and WebSocket together 80%, leaving the rest to the store,
 * the HTTP API, class loading and logs). Read from {@code /proc/self/limits} on Linux; elsewhere through the platform
 * MBean server ({@code javax.management}, which every OSGi framework exports; creating it costs ~0.1 s of start-up, so
 * it is only the fallback). Thread-safe; no state.
 */
public final class FileLimit {
    /** Share of the process's file limit one transport may hold as connections, in percent. */
    public static final int SHARE_PERCENT = 40;
    /** The cap never goes below this, however low the file limit. */
    static final int MIN_CAP = 16;
    private static final String OPEN_FILES = "Max open files";

    private FileLimit() {
    }

    /** @return the most files this process may have open, or -1 if the platform does not say (non-Unix) */
    public static long maxOpenFiles() {
        long fromProc = fromProcLimits(Path.of("/proc/self/limits"));
        if (fromProc != 0) {
            return fromProc;
        }
        try {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            Object value = server.getAttribute(new ObjectName("java.lang:type=OperatingSystem"),
                    "MaxFileDescriptorCount");
            return value instanceof Number n && n.longValue() > 0 ? n.longValue() : -1;
        } catch (Exception | LinkageError e) {
            return -1;
        }
    }

    /**
     * @return the soft "Max open files" of a Linux limits file, -1 if it says "unlimited", 0 if the file is missing
     *         or has no such line
     */
    static long fromProcLimits(Path limits) {
        try {
            for (String line : Files.readAllLines(limits, StandardCharsets.US_ASCII)) {
                if (line.startsWith(OPEN_FILES)) {
                    String soft = line.substring(OPEN_FILES.length()).trim().split("\\s+")[0];
                    return "unlimited".equals(soft) ? -1 : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or a format this does not know: the caller falls back
        }
        return 0;
    }

    /**
     * @param configured  {@code max.connections} as configured
     * @param maxOpenFiles the process's file limit, -1 if unknown
     * @return the connections the transport accepts at once: {@code configured}, lowered to
     *         {@value #SHARE_PERCENT}% of {@code maxOpenFiles} (at least {@value #MIN_CAP}) when that is less
     */
    public static int cap(int configured, long maxOpenFiles) {
        if (maxOpenFiles <= 0) {
            return configured;
        }
        long share = Math.max(MIN_CAP, maxOpenFiles * SHARE_PERCENT / 100);
        return (int) Math.min(configured, share);
    }
}
