package io.parley.client.bench;

import java.util.List;
import java.util.Locale;

/**
 * Outcome of one {@code catch-up} run: one {@link Round} per round. Immutable.
 *
 * @param clients senders and receivers together
 * @param backlog texts each sender sends per round while its receiver is offline
 * @param transport {@code tcp} or {@code ws}
 */
public record CatchUpResult(int clients, int backlog, int window, int messageBytes, List<Round> rounds,
                            String transport) {

    public CatchUpResult {
        rounds = List.copyOf(rounds);
    }

    /**
     * One round.
     *
     * @param owed texts acked for the receivers (what the resume syncs had to bring)
     * @param sendErrors sends of the backlog that failed (not owed)
     * @param sendSeconds time to send the backlog, until every send had settled
     * @param connected receivers whose {@code connect()} (hello, login, resume sync) completed
     * @param failed receivers whose {@code connect()} failed
     * @param catchUpSeconds from the first receiver's {@code connect()} call to the last completion
     * @param received new texts received (each counted once)
     * @param missing owed texts a receiver had not received when its round ended
     * @param duplicates texts received again: of an earlier round, or at a seq already received
     * @param catchUp per-receiver time from {@code connect()} to its completion, in microseconds
     */
    public record Round(int number, int receivers, long owed, long sendErrors, double sendSeconds, int connected,
                        int failed, double catchUpSeconds, long received, long missing, long duplicates,
                        BenchResult.LatencySummary catchUp) {

        /** @return texts received per second of the catch-up */
        public double receivedPerSecond() {
            return catchUpSeconds <= 0 ? 0 : received / catchUpSeconds;
        }

        /** @return one progress line */
        public String toLine() {
            return String.format(Locale.ROOT, "round %d: %d owed, %d receivers caught up in %.2f s (%.0f texts/s); "
                            + "missing %d, duplicates %d, failed %d", number, owed, connected, catchUpSeconds,
                    receivedPerSecond(), missing, duplicates, failed);
        }

        String toJson() {
            return String.format(Locale.ROOT, "{\"round\":%d,\"receivers\":%d,\"owed\":%d,\"send_errors\":%d,"
                            + "\"send_seconds\":%.3f,\"connected\":%d,\"failed\":%d,\"catch_up_seconds\":%.3f,"
                            + "\"received\":%d,\"received_per_second\":%.1f,\"missing\":%d,\"duplicates\":%d,"
                            + "\"catch_up_latency_us\":%s}",
                    number, receivers, owed, sendErrors, sendSeconds, connected, failed, catchUpSeconds, received,
                    receivedPerSecond(), missing, duplicates, catchUp.toJson());
        }
    }

    /** @return true if every round brought every owed text exactly once and every receiver connected */
    public boolean complete() {
        return rounds.stream().allMatch(r -> r.missing() == 0 && r.duplicates() == 0 && r.failed() == 0);
    }

    /** @return a human-readable table, several lines */
    public String toTable() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "scenario catch-up: %d clients (%d receivers), backlog %d texts each, "
                + "window %d, %d-byte text, transport %s%n", clients, clients / 2, backlog, window, messageBytes,
                transport));
        sb.append(String.format(Locale.ROOT, "  %5s %9s %8s %6s %6s %11s %10s   %-27s%n", "round", "owed",
                "missing", "dupes", "failed", "catch-up s", "texts/s", "per receiver p50/p99/max ms"));
        for (Round r : rounds) {
            sb.append(String.format(Locale.ROOT, "  %5d %9d %8d %6d %6d %11.2f %10.0f   %.1f / %.1f / %.1f%n",
                    r.number(), r.owed(), r.missing(), r.duplicates(), r.failed(), r.catchUpSeconds(),
                    r.receivedPerSecond(), r.catchUp().p50() / 1e3, r.catchUp().p99() / 1e3,
                    r.catchUp().max() / 1e3));
        }
        return sb.toString();
    }

    /** @return the result as one line of JSON */
    public String toJson() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "{\"scenario\":\"catch-up\",\"clients\":%d,\"backlog\":%d,\"window\":%d,"
                + "\"message_bytes\":%d,\"complete\":%s,\"rounds\":[", clients, backlog, window, messageBytes,
                complete()));
        for (int i = 0; i < rounds.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(rounds.get(i).toJson());
        }
        return sb.append("],\"transport\":\"").append(transport).append("\"}").toString();
    }
}
