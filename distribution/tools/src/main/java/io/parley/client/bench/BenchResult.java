package io.parley.client.bench;

import java.util.List;
import java.util.Locale;

/**
 * Outcome of one load-tool run. Rates are per second of the measured window; latencies in microseconds.
 * Immutable.
 *
 * @param clients clients connected (in {@code group-fanout}: the group's members)
 * @param senders how many of them sent (every client in {@code one-to-one})
 * @param targetRate total sends per second asked for, 0 = as fast as the window allows
 * @param acked sends acknowledged in the measured window
 * @param delivered text messages received by clients in the measured window (in {@code group-fanout} one message
 *     counts once per receiving member)
 * @param transport {@code tcp} or {@code ws}
 * @param timeline the measured window in slices of {@code --timeline}, in order; empty without that option
 */
public record BenchResult(
        String scenario,
        int clients,
        int senders,
        int targetRate,
        int window,
        int messageBytes,
        double measuredSeconds,
        long acked,
        long delivered,
        long errors,
        long skipped,
        long reconnects,
        LatencySummary endToEnd,
        LatencySummary ack,
        String transport,
        List<Slice> timeline) {

    public BenchResult {
        timeline = List.copyOf(timeline);
    }

    /** Percentiles of a latency distribution, in microseconds. */
    public record LatencySummary(long count, double p50, double p90, double p99, double p999, double max) {
        static LatencySummary ofNanos(LogLinearHistogram h) {
            return new LatencySummary(h.count(), h.percentile(50) / 1e3, h.percentile(90) / 1e3,
                    h.percentile(99) / 1e3, h.percentile(99.9) / 1e3, h.max() / 1e3);
        }

        /** @return {@code {"count":…,"p50":…,"p90":…,"p99":…,"p99_9":…,"max":…}}, microseconds */
        String toJson() {
            return String.format(Locale.ROOT, "{\"count\":%d,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                    + "\"p99_9\":%.1f,\"max\":%.1f}", count, p50, p90, p99, p999, max);
        }
    }

    /**
     * One slice of the measured window: the deliveries whose send → delivery latency was taken in it (by arrival
     * time), and their percentiles in microseconds.
     *
     * @param startSeconds where the slice starts, in seconds from the start of the measured window
     */
    public record Slice(double startSeconds, long delivered, double p50, double p99, double max) {
        static Slice ofNanos(double startSeconds, LogLinearHistogram h) {
            return new Slice(startSeconds, h.count(), h.percentile(50) / 1e3, h.percentile(99) / 1e3, h.max() / 1e3);
        }

        String toJson() {
            return String.format(Locale.ROOT, "{\"start_s\":%.3f,\"delivered\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                    + "\"max_us\":%.1f}", startSeconds, delivered, p50, p99, max);
        }
    }

    public double ackedPerSecond() {
        return measuredSeconds <= 0 ? 0 : acked / measuredSeconds;
    }

    public double deliveredPerSecond() {
        return measuredSeconds <= 0 ? 0 : delivered / measuredSeconds;
    }

    /** @return a human-readable table, several lines */
    public String toTable() {
        StringBuilder sb = new StringBuilder();
        String sending = senders == clients ? "" : " (" + senders + " sending)";
        sb.append(String.format(Locale.ROOT, "scenario %s: %d clients%s, target rate %s, window %d, %d-byte text, "
                        + "%.1f s measured, transport %s%n", scenario, clients, sending,
                targetRate == 0 ? "max" : targetRate + "/s", window, messageBytes, measuredSeconds, transport));
        sb.append(String.format(Locale.ROOT, "  %-22s %14s %14s%n", "", "count", "per second"));
        sb.append(String.format(Locale.ROOT, "  %-22s %14d %14.1f%n", "acked sends", acked, ackedPerSecond()));
        sb.append(String.format(Locale.ROOT, "  %-22s %14d %14.1f%n", "delivered messages", delivered,
                deliveredPerSecond()));
        sb.append(String.format(Locale.ROOT, "  errors %d, sends skipped (window full) %d, reconnects %d%n", errors,
                skipped, reconnects));
        sb.append(String.format(Locale.ROOT, "  %-22s %10s %10s %10s %10s %10s%n", "latency (ms)", "p50", "p90",
                "p99", "p99.9", "max"));
        row(sb, "send -> delivery", endToEnd);
        row(sb, "send -> ack", ack);
        if (!timeline.isEmpty()) {
            sb.append(String.format(Locale.ROOT, "  %-22s %10s %10s %10s %10s%n", "send -> delivery by", "delivered",
                    "p50", "p99", "max"));
            for (Slice s : timeline) {
                sb.append(String.format(Locale.ROOT, "  %-22s %10d %10.3f %10.3f %10.3f%n",
                        String.format(Locale.ROOT, "  %.3f s", s.startSeconds()), s.delivered(), s.p50() / 1e3,
                        s.p99() / 1e3, s.max() / 1e3));
            }
        }
        return sb.toString();
    }

    private static void row(StringBuilder sb, String name, LatencySummary l) {
        sb.append(String.format(Locale.ROOT, "  %-22s %10.3f %10.3f %10.3f %10.3f %10.3f%n", name, l.p50() / 1e3,
                l.p90() / 1e3, l.p99() / 1e3, l.p999() / 1e3, l.max() / 1e3));
    }

    /** @return the result as one line of JSON */
    public String toJson() {
        return String.format(Locale.ROOT, "{\"scenario\":\"%s\",\"clients\":%d,\"senders\":%d,\"target_rate\":%d,"
                        + "\"window\":%d,\"message_bytes\":%d,\"measured_seconds\":%.3f,\"acked\":%d,"
                        + "\"acked_per_second\":%.1f,\"delivered\":%d,\"delivered_per_second\":%.1f,\"errors\":%d,"
                        + "\"skipped\":%d,\"reconnects\":%d,\"e2e_latency_us\":%s,\"ack_latency_us\":%s,"
                        + "\"transport\":\"%s\",\"timeline\":[%s]}",
                scenario, clients, senders, targetRate, window, messageBytes, measuredSeconds, acked, ackedPerSecond(),
                delivered, deliveredPerSecond(), errors, skipped, reconnects, endToEnd.toJson(), ack.toJson(),
                transport, String.join(",", timeline.stream().map(Slice::toJson).toList()));
    }
}
