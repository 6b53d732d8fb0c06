package io.parley.client.bench;

import java.util.Locale;

/**
 * Outcome of one {@code idle} run. Immutable.
 *
 * @param clients clients started
 * @param connected clients whose first {@code connect()} succeeded (hello accepted and resume sync done)
 * @param failed clients whose first {@code connect()} failed; they were closed and not retried
 * @param connectSeconds wall time from the first connection attempt until every attempt had settled
 * @param heldSeconds how long the connected clients were held idle
 * @param minConnected fewest clients connected at any check (every 200 ms) while holding
 * @param connectedAtEnd clients connected when the hold ended
 * @param disconnects connections that ended while holding
 * @param reconnects reconnect attempts the clients scheduled (during connecting or holding)
 * @param connect per-client connect latency (connect() call to resume sync done), in microseconds
 * @param transport {@code tcp} or {@code ws}
 */
public record IdleResult(
        int clients,
        int connected,
        int failed,
        double connectSeconds,
        double heldSeconds,
        int minConnected,
        int connectedAtEnd,
        long disconnects,
        long reconnects,
        BenchResult.LatencySummary connect,
        String transport) {

    /** @return successful connections per second of the connecting phase */
    public double connectsPerSecond() {
        return connectSeconds <= 0 ? 0 : connected / connectSeconds;
    }

    /** @return a human-readable table, several lines */
    public String toTable() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "scenario idle: %d clients, held %.1f s, transport %s%n", clients,
                heldSeconds, transport));
        sb.append(String.format(Locale.ROOT, "  connected %d, failed %d, in %.2f s (%.1f connects/s)%n", connected,
                failed, connectSeconds, connectsPerSecond()));
        sb.append(String.format(Locale.ROOT, "  while holding: min connected %d, at end %d, disconnects %d, "
                + "reconnect attempts %d%n", minConnected, connectedAtEnd, disconnects, reconnects));
        sb.append(String.format(Locale.ROOT, "  %-22s %10s %10s %10s %10s %10s%n", "latency (ms)", "p50", "p90",
                "p99", "p99.9", "max"));
        sb.append(String.format(Locale.ROOT, "  %-22s %10.3f %10.3f %10.3f %10.3f %10.3f%n", "connect + resume",
                connect.p50() / 1e3, connect.p90() / 1e3, connect.p99() / 1e3, connect.p999() / 1e3,
                connect.max() / 1e3));
        return sb.toString();
    }

    /** @return the result as one line of JSON */
    public String toJson() {
        return String.format(Locale.ROOT, "{\"scenario\":\"idle\",\"clients\":%d,\"connected\":%d,\"failed\":%d,"
                        + "\"connect_seconds\":%.3f,\"connects_per_second\":%.1f,\"held_seconds\":%.3f,"
                        + "\"min_connected\":%d,\"connected_at_end\":%d,\"disconnects\":%d,\"reconnects\":%d,"
                        + "\"connect_latency_us\":{\"count\":%d,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                        + "\"p99_9\":%.1f,\"max\":%.1f},\"transport\":\"%s\"}",
                clients, connected, failed, connectSeconds, connectsPerSecond(), heldSeconds, minConnected,
                connectedAtEnd, disconnects, reconnects, connect.count(), connect.p50(), connect.p90(), connect.p99(),
                connect.p999(), connect.max(), transport);
    }
}
