package io.parley.core.internal;

import io.parley.core.proto.ReadCount;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The read cursors of one conversation's members, kept sorted so that "how many members have read at least up to
 * seq" is answered for a window of seqs without looking at every member. Plain logic.
 *
 * <p>Memory: one map entry per member with a cursor plus one per distinct cursor value, so O(members).
 * Updates are O(log distinct cursors); {@link #counts} is O(window · log distinct cursors).
 *
 * <p>Thread-safety: none; the owner ({@link ReadCounter}) guards each index with its own lock.
 */
final class ReadCursorIndex {
    private final Map<String, Long> byUser = new HashMap<>();
    /** cursor value → number of users whose cursor is exactly that value; values are at least 1 */
    private final TreeMap<Long, Integer> histogram = new TreeMap<>();

    /**
     * Raises {@code user}'s cursor to {@code seq} if that is higher (cursors never move back).
     *
     * @return true if the cursor moved
     */
    boolean advance(String user, long seq) {
        if (seq <= 0) {
            return false;
        }
        Long old = byUser.get(user);
        if (old != null && old >= seq) {
            return false;
        }
        if (old != null) {
            decrement(old);
        }
        byUser.put(user, seq);
        histogram.merge(seq, 1, Integer::sum);
        return true;
    }

    /** @return true if {@code user} had a cursor, which is now forgotten */
    boolean remove(String user) {
        Long old = byUser.remove(user);
        if (old == null) {
            return false;
        }
        decrement(old);
        return true;
    }

    /** @return the user's cursor, 0 if none */
    long cursor(String user) {
        return byUser.getOrDefault(user, 0L);
    }

    /** @return the users that have a cursor (a live view; do not modify) */
    Iterable<String> users() {
        return Collections.unmodifiableSet(byUser.keySet());
    }

    /** @return how many users have a cursor */
    int size() {
        return byUser.size();
    }

    /** @return how many users' cursors are at or past {@code seq} */
    int readersAt(long seq) {
        int n = 0;
        for (int c : histogram.tailMap(seq, true).values()) {
            n += c;
        }
        return n;
    }

    /**
     * The step function of readers over {@code from..head}, as the protocol's {@code ReadCounts.counts}: ascending seq,
     * strictly decreasing readers; entry {@code (s, r)} means r users' cursors are at or past s. Cursors beyond
     * {@code head} count as {@code head}; cursors below {@code from} are left out.
     *
     * @return empty if no cursor is at or past {@code from}, or {@code head < from}
     */
    List<ReadCount> counts(long from, long head) {
        if (head < from || from < 1) {
            return List.of();
        }
        NavigableMap<Long, Integer> window = histogram.tailMap(from, true).descendingMap();
        List<ReadCount> steps = new ArrayList<>();
        int readers = 0;
        long pendingSeq = -1;
        for (Map.Entry<Long, Integer> e : window.entrySet()) {
            long seq = Math.min(e.getKey(), head);
            if (pendingSeq != -1 && seq != pendingSeq) {
                steps.add(ReadCount.newBuilder().setSeq(pendingSeq).setReaders(readers).build());
            }
            readers += e.getValue();
            pendingSeq = seq;
        }
        if (pendingSeq != -1) {
            steps.add(ReadCount.newBuilder().setSeq(pendingSeq).setReaders(readers).build());
        }
        Collections.reverse(steps);
        return steps;
    }

    private void decrement(long seq) {
        histogram.computeIfPresent(seq, (k, n) -> n == 1 ? null : n - 1);
    }
}
