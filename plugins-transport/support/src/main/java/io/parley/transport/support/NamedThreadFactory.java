package io.parley.transport.support;

import io.netty.util.concurrent.FastThreadLocalThread;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Creates daemon {@link FastThreadLocalThread}s named {@code prefix-1}, {@code prefix-2}, ... and remembers them so
 * their owner can wait for every one to end. One instance per event loop group; nothing is static.
 */
public final class NamedThreadFactory implements ThreadFactory {

    private final String prefix;
    private final AtomicInteger counter = new AtomicInteger();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();

    public NamedThreadFactory(String prefix) {
        this.prefix = prefix;
    }

    @Override
    public Thread newThread(Runnable task) {
        Thread thread = new FastThreadLocalThread(null, task, prefix + "-" + counter.incrementAndGet());
        thread.setDaemon(true);
        threads.add(thread);
        return thread;
    }

    /**
     * Waits, up to {@code timeoutMillis} in total, for every thread created so far to end.
     *
     * @return true if none is alive any more
     */
    public boolean joinAll(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (Thread thread : threads) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left > 0) {
                thread.join(left);
            }
            if (thread.isAlive()) {
                return false;
            }
        }
        return true;
    }
}
