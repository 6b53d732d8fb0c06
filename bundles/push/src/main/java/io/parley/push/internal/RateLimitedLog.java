package io.parley.push.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Warnings that may repeat for every push (an endpoint down, a platform nobody serves): at most one line per key per
 * interval, the next one saying how many were suppressed. At most {@value #MAX_KEYS} keys; further keys share one.
 * Thread-safe.
 */
public final class RateLimitedLog {

    /** Where lines go: the bundle's logger in production, a list in tests. */
    @FunctionalInterface
    public interface Sink {
        void warn(String line);
    }

    static final int MAX_KEYS = 256;

    private static final class Window {
        final AtomicLong next;
        final AtomicLong suppressed = new AtomicLong();

        Window(long now) {
            next = new AtomicLong(now);
        }
    }

    private final Sink sink;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    public RateLimitedLog(Sink sink, long intervalNanos, LongSupplier nanoClock) {
        this.sink = sink;
        this.intervalNanos = intervalNanos;
        this.nanoClock = nanoClock;
    }

    /** Writes {@code line} unless a line with {@code key} was written less than the interval ago. */
    public void warn(String key, Supplier<String> line) {
        long now = nanoClock.getAsLong();
        String k = windows.size() >= MAX_KEYS && !windows.containsKey(key) ? "(other)" : key;
        Window window = windows.computeIfAbsent(k, x -> new Window(now));
        long next = window.next.get();
        if (now - next >= 0 && window.next.compareAndSet(next, now + intervalNanos)) {
            long suppressed = window.suppressed.getAndSet(0);
            sink.warn(suppressed == 0 ? line.get() : line.get() + " (and " + suppressed + " more like it)");
        } else {
            window.suppressed.incrementAndGet();
        }
    }
}
