package io.parley.webhooks.internal;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RateLimitedLogTest {

    @Test
    void logsAtMostOneLinePerInterval() {
        AtomicLong now = new AtomicLong(1_000);
        RateLimitedLog log = new RateLimitedLog(LoggerFactory.getLogger(RateLimitedLogTest.class),
                TimeUnit.SECONDS.toNanos(10), now::get);
        assertTrue(log.warn("first {}", 1));
        assertFalse(log.warn("second {}", 2));
        now.addAndGet(TimeUnit.SECONDS.toNanos(9));
        assertFalse(log.warn("third {}", 3));
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        assertTrue(log.warn("fourth {}", 4), "the interval passed; this line says two were left out");
        assertFalse(log.warn("fifth {}", 5));
    }
}
