package io.parley.transport.support;

import javax.management.MBeanServer;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;

/**
 * The process's open-file limit ({@code ulimit -n}) and the connection cap a transport derives from it: every
 * connection is a file descriptor, so a {@code max.connections} above what the process may open is never reached —
 * the process runs out of files first, and then the store, jars and logs fail too. Each client-facing transport
 * takes at most {@value #SHARE_PERCENT}% of the limit (TCP and WebSocket together 80%, leaving the rest to the store,
 * the HTTP API, class loading and logs). Read through the platform MBean server ({@code javax.management}, which
 * every OSGi framework exports), not {@code com.sun.management}. Thread-safe; no state.
 */
public final class FileLimit {
    /** Share of the process's file limit one transport may hold as connections, in percent. */
    public static final int SHARE_PERCENT = 40;
    /** The cap never goes below this, however low the file limit. */
    static final int MIN_CAP = 16;

    private FileLimit() {
    }

    /** @return the most files this process may have open, or -1 if the platform does not say (non-Unix) */
    public static long maxOpenFiles() {
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
