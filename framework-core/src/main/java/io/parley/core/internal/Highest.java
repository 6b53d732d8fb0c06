package io.parley.core.internal;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The highest seq seen per (conversation, user), to tell whether a new one moves past it. Bounded: when it holds
 * {@code max} pairs it forgets them all and starts again, so after that (as after a restart, or on another node of a
 * cluster) a seq lower than one seen before can pass once. Thread-safe; {@link #raise} never blocks.
 */
final class Highest {
    /** Pairs held before the map is cleared: ~100 bytes each. */
    static final int DEFAULT_MAX = 100_000;

    private record Pair(String conversation, String user) {
    }

    private final ConcurrentHashMap<Pair, Long> seqs = new ConcurrentHashMap<>();
    private final int max;

    Highest(int max) {
        this.max = max;
    }

    /** @return true if {@code seq} is higher than every seq raised for the pair before (and is now its highest) */
    boolean raise(String conversation, String user, long seq) {
        if (seqs.size() >= max) {
            seqs.clear();
        }
        Pair pair = new Pair(conversation, user);
        Long now = seq;
        while (true) {
            Long before = seqs.putIfAbsent(pair, now);
            if (before == null) {
                return true;
            }
            if (before >= seq) {
                return false;
            }
            if (seqs.replace(pair, before, now)) {
                return true;
            }
        }
    }
}
