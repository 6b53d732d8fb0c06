package io.parley.core.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Server message ids: {@code <node>-<base36 of (epoch ms << 16 | counter)>}, unique per node while the clock
 * does not move backwards by more than the counter can absorb, and roughly time-ordered. Thread-safe, lock-free.
 */
final class MessageIds {
    private final String prefix;
    private final AtomicLong last = new AtomicLong();

    MessageIds(String node) {
        this.prefix = node + '-';
    }

    String next() {
        long candidate = System.currentTimeMillis() << 16;
        long id;
        while (true) {
            long prev = last.get();
            id = Math.max(candidate, prev + 1);
            if (last.compareAndSet(prev, id)) {
                break;
            }
        }
        return prefix + Long.toString(id, 36);
    }
}
