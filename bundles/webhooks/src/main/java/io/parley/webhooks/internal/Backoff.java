package io.parley.webhooks.internal;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Retry policy of after-send deliveries: at most {@code maxAttempts} attempts; before retry {@code n} (1 for the
 * second attempt) a delay of {@code d = min(max, initial * 2^(n-1))} with "equal jitter": uniformly random in
 * {@code [d/2, d]}, so retries of many failed deliveries spread out while each still waits at least half its step.
 * Immutable.
 */
public record Backoff(int maxAttempts, Duration initial, Duration max) {

    public Backoff {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1");
        }
        if (initial == null || initial.toMillis() < 1 || max == null || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("need 1 ms <= initial <= max");
        }
    }

    /** @return the delay without jitter before retry {@code retry} (1-based), in milliseconds */
    public long stepMillis(int retry) {
        long initialMillis = initial.toMillis();
        long maxMillis = max.toMillis();
        int shift = Math.min(Math.max(retry - 1, 0), 62);
        long step = initialMillis > (maxMillis >> shift) ? maxMillis : initialMillis << shift;
        return Math.min(step, maxMillis);
    }

    /** @return the jittered delay before retry {@code retry} (1-based), in milliseconds, in [step/2, step] */
    public long delayMillis(int retry) {
        long step = stepMillis(retry);
        long half = step / 2;
        return half + ThreadLocalRandom.current().nextLong(step - half + 1);
    }
}
