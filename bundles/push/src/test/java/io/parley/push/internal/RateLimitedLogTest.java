package io.parley.push.internal;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RateLimitedLogTest {

    @Test
    void oneLinePerKeyPerIntervalThenTheSuppressedCount() {
        List<String> lines = new ArrayList<>();
        AtomicLong nanos = new AtomicLong(1000);
        RateLimitedLog log = new RateLimitedLog(lines::add, 100, nanos::get);
        log.warn("a", () -> "a1");
        log.warn("a", () -> "a2");
        log.warn("b", () -> "b1");
        log.warn("a", () -> "a3");
        nanos.addAndGet(100);
        log.warn("a", () -> "a4");
        log.warn("a", () -> "a5");
        assertEquals(List.of("a1", "b1", "a4 (and 2 more like it)"), lines);
    }

    @Test
    void keysAreBounded() {
        List<String> lines = new ArrayList<>();
        RateLimitedLog log = new RateLimitedLog(lines::add, 1_000_000_000L, () -> 0);
        for (int i = 0; i < RateLimitedLog.MAX_KEYS + 50; i++) {
            int n = i;
            log.warn("k" + i, () -> "line " + n);
        }
        assertEquals(RateLimitedLog.MAX_KEYS + 1, lines.size(), "the keys past the bound share one window");
    }
}
