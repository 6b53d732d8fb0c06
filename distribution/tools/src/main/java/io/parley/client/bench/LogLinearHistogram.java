package io.parley.client.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A fixed-size histogram of non-negative longs with bounded relative error: values are grouped by power of two
 * and each power of two is split into {@code 2^subBucketBits} equal sub-buckets, so a reported percentile is at
 * most {@code 2^-subBucketBits} (about 3% with the default 5 bits) above the true value. Values up to
 * {@code 2^62} are recorded; larger ones are clamped.
 *
 * <p>Thread-safe: {@link #record} is lock-free and may be called from many threads; readers see a consistent
 * enough snapshot for reporting once writers have stopped.
 */
public final class LogLinearHistogram {
    private final int subBits;
    private final int subCount;
    private final AtomicLongArray counts;
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong sum = new AtomicLong();
    private final AtomicLong max = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong min = new AtomicLong(Long.MAX_VALUE);

    public LogLinearHistogram() {
        this(5);
    }

    public LogLinearHistogram(int subBucketBits) {
        if (subBucketBits < 1 || subBucketBits > 10) {
            throw new IllegalArgumentException("subBucketBits must be in 1..10");
        }
        this.subBits = subBucketBits;
        this.subCount = 1 << subBucketBits;
        // bucket 0 holds values < subCount exactly; each further power of two gets subCount/2.. sub-buckets
        this.counts = new AtomicLongArray(indexOf(Long.MAX_VALUE >>> 1) + 1);
    }

    /** Records one value; negative values count as 0. */
    public void record(long value) {
        long v = Math.max(0, Math.min(value, Long.MAX_VALUE >>> 1));
        counts.incrementAndGet(indexOf(v));
        total.incrementAndGet();
        sum.addAndGet(v);
        max.accumulateAndGet(v, Math::max);
        min.accumulateAndGet(v, Math::min);
    }

    /** @return the number of recorded values */
    public long count() {
        return total.get();
    }

    /** @return the largest recorded value, 0 if none */
    public long max() {
        return total.get() == 0 ? 0 : max.get();
    }

    /** @return the smallest recorded value, 0 if none */
    public long min() {
        return total.get() == 0 ? 0 : min.get();
    }

    /** @return the arithmetic mean, 0 if none */
    public double mean() {
        long n = total.get();
        return n == 0 ? 0 : (double) sum.get() / n;
    }

    /**
     * @param percentile in [0, 100]
     * @return the upper bound of the bucket holding that percentile (never above {@link #max()}), 0 if empty
     */
    public long percentile(double percentile) {
        long n = total.get();
        if (n == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(Math.min(100, Math.max(0, percentile)) / 100.0 * n);
        rank = Math.max(1, rank);
        long seen = 0;
        for (int i = 0; i < counts.length(); i++) {
            seen += counts.get(i);
            if (seen >= rank) {
                return Math.min(upperBound(i), max());
            }
        }
        return max();
    }

    /** Adds every value of {@code other} to this histogram (same sub-bucket bits required). */
    public void add(LogLinearHistogram other) {
        if (other.subBits != subBits) {
            throw new IllegalArgumentException("different resolutions");
        }
        for (int i = 0; i < counts.length(); i++) {
            long c = other.counts.get(i);
            if (c != 0) {
                counts.addAndGet(i, c);
            }
        }
        if (other.count() > 0) {
            total.addAndGet(other.total.get());
            sum.addAndGet(other.sum.get());
            max.accumulateAndGet(other.max.get(), Math::max);
            min.accumulateAndGet(other.min.get(), Math::min);
        }
    }

    int indexOf(long v) {
        if (v < subCount) {
            return (int) v;
        }
        int exp = 63 - Long.numberOfLeadingZeros(v);      // >= subBits
        int shift = exp - subBits;
        int sub = (int) (v >>> shift) - subCount;          // 0 .. subCount-1 (leading bit removed)
        return subCount + (exp - subBits) * subCount + sub;
    }

    long upperBound(int index) {
        if (index < subCount) {
            return index;
        }
        int k = index - subCount;
        int shift = k / subCount;
        int sub = k % subCount;
        long lower = ((long) (subCount + sub)) << shift;
        return lower + (1L << shift) - 1;
    }
}
