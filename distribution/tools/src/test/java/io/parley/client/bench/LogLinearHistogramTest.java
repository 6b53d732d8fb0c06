package io.parley.client.bench;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogLinearHistogramTest {
    @Test
    void emptyHistogramReportsZeros() {
        LogLinearHistogram h = new LogLinearHistogram();
        assertEquals(0, h.count());
        assertEquals(0, h.percentile(99));
        assertEquals(0, h.max());
    }

    @Test
    void smallValuesAreExact() {
        LogLinearHistogram h = new LogLinearHistogram();
        for (int i = 1; i <= 10; i++) {
            h.record(i);
        }
        assertEquals(5, h.percentile(50));
        assertEquals(10, h.percentile(100));
        assertEquals(1, h.min());
        assertEquals(5.5, h.mean(), 1e-9);
    }

    @Test
    void percentilesAreWithinTheRelativeErrorBound() {
        Random r = new Random(42);
        long[] values = new long[100_000];
        LogLinearHistogram h = new LogLinearHistogram(5);
        for (int i = 0; i < values.length; i++) {
            values[i] = (long) Math.exp(r.nextDouble() * 25);   // 1 .. ~7e10, log-uniform
            h.record(values[i]);
        }
        Arrays.sort(values);
        for (double p : new double[] {50, 90, 99, 99.9, 100}) {
            long exact = values[(int) Math.ceil(p / 100 * values.length) - 1];
            long got = h.percentile(p);
            assertTrue(got >= exact && got <= exact + exact / 32 + 1, p + ": exact " + exact + " got " + got);
        }
        assertEquals(values[values.length - 1], h.max());
    }

    @Test
    void bucketBoundsAreContiguous() {
        LogLinearHistogram h = new LogLinearHistogram(3);
        long previousUpper = -1;
        for (int i = 0; i < 200; i++) {
            long upper = h.upperBound(i);
            assertEquals(i, h.indexOf(upper));
            assertEquals(i, h.indexOf(previousUpper + 1));
            previousUpper = upper;
        }
    }

    @Test
    void mergeAddsCounts() {
        LogLinearHistogram a = new LogLinearHistogram();
        LogLinearHistogram b = new LogLinearHistogram();
        a.record(10);
        b.record(1_000_000);
        a.add(b);
        assertEquals(2, a.count());
        assertEquals(1_000_000, a.max());
        assertEquals(10, a.min());
    }
}
