package io.parley.core.internal;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CoalescingTest {

    /** Counts the tasks the pool is given. */
    private static final class CountingPool implements java.util.concurrent.Executor {
        final ExecutorService pool;
        final AtomicInteger submitted = new AtomicInteger();

        CountingPool(int threads) {
            pool = Executors.newFixedThreadPool(threads);
        }

        @Override
        public void execute(Runnable command) {
            submitted.incrementAndGet();
            pool.execute(command);
        }
    }

    @Test
    void tasksSubmittedWhileADrainerRunsCostNoPoolTask() throws Exception {
        CountingPool pool = new CountingPool(1);
        Coalescing executor = new Coalescing(pool, 1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        executor.execute(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        for (int i = 0; i < 100; i++) {
            int n = i;
            executor.execute(() -> order.add(n));
        }
        CountDownLatch done = new CountDownLatch(1);
        executor.execute(done::countDown);
        release.countDown();
        assertTrue(done.await(5, TimeUnit.SECONDS));
        assertEquals(1, pool.submitted.get(), "one drainer ran the burst");
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            expected.add(i);
        }
        assertEquals(expected, order, "in submission order");
        pool.pool.shutdown();
    }

    @Test
    void aThrowingTaskDoesNotStopTheOthers() throws Exception {
        CountingPool pool = new CountingPool(1);
        Coalescing executor = new Coalescing(pool, 1);
        CountDownLatch done = new CountDownLatch(1);
        executor.execute(() -> {
            throw new IllegalStateException("expected by the test");
        });
        executor.execute(done::countDown);
        assertTrue(done.await(5, TimeUnit.SECONDS));
        pool.pool.shutdown();
    }

    /** Many producers, several drainers: every task runs exactly once and none is stranded in the queue. */
    @Test
    void noTaskIsLostOrRunTwiceUnderContention() throws Exception {
        CountingPool pool = new CountingPool(3);
        Coalescing executor = new Coalescing(pool, 3);
        int producers = 4;
        int perProducer = 50_000;
        AtomicInteger ran = new AtomicInteger();
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger maxConcurrent = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(producers * perProducer);
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            Thread t = new Thread(() -> {
                for (int i = 0; i < perProducer; i++) {
                    executor.execute(() -> {
                        maxConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                        ran.incrementAndGet();
                        concurrent.decrementAndGet();
                        all.countDown();
                    });
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        assertTrue(all.await(30, TimeUnit.SECONDS), "stranded: " + all.getCount());
        assertEquals(producers * perProducer, ran.get());
        assertTrue(maxConcurrent.get() <= 3, "at most width drainers: " + maxConcurrent.get());
        assertTrue(pool.submitted.get() < producers * perProducer / 10,
                "wake-ups coalesced: " + pool.submitted.get() + " pool tasks for " + ran.get());
        pool.pool.shutdown();
    }
}
