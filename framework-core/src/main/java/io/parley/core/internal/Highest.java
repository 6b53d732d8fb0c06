package io.parley.core.internal;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The highest seq seen per (conversation, user), to tell whether a new one moves past it. A raise for a pair seen
 * before allocates nothing (it runs once per delivery ack). Bounded: when it holds {@code max} conversations it
 * forgets them all and starts again, so after that (as after a restart, or on another node of a cluster) a seq lower
 * than one seen before can pass once. Thread-safe; {@link #raise} never blocks.
 */
final class Highest {
    /** Conversations held before the map is cleared. */
    static final int DEFAULT_MAX = 50_000;

    /** conversation → user → highest seq */
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, AtomicLong>> seqs = new ConcurrentHashMap<>();
    private final int max;

    /** @param max conversations held before everything is forgotten */
    Highest(int max) {
        this.max = max;
    }

    /** @return true if {@code seq} is higher than every seq raised for the pair before (and is now its highest) */
    boolean raise(String conversation, String user, long seq) {
        ConcurrentHashMap<String, AtomicLong> users = seqs.get(conversation);
        if (users == null) {
            if (seqs.size() >= max) {
                seqs.clear();
            }
            users = seqs.computeIfAbsent(conversation, c -> new ConcurrentHashMap<>(4));
        }
        AtomicLong highest = users.get(user);
        if (highest == null) {
            highest = users.putIfAbsent(user, new AtomicLong(seq));
            if (highest == null) {
                return true;
            }
        }
        for (long before = highest.get(); before < seq; before = highest.get()) {
            if (highest.compareAndSet(before, seq)) {
                return true;
            }
        }
        return false;
    }
}
