package io.parley.core.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An executor that runs its tasks on at most {@code width} tasks of the engine's worker pool, each of which runs
 * queued tasks until none is left. A task submitted while a drainer is running costs a queue insert, not a thread
 * wake-up: the network threads hand many sessions' frames to the engine at the price of one wake-up per burst
 * instead of one per frame, which is what spreads the cost when traffic comes from many connections at once.
 *
 * <p>Tasks run in submission order per drainer, concurrently across drainers; a task that throws is logged and the
 * rest still run. Thread-safe; {@link #execute} never blocks.
 */
final class Coalescing implements Executor {
    private static final Logger LOG = LoggerFactory.getLogger(Coalescing.class);

    private final Executor workers;
    private final int width;
    private final ConcurrentLinkedQueue<Runnable> ready = new ConcurrentLinkedQueue<>();
    /** Drainers started and not yet finished; at most {@link #width}. */
    private final AtomicInteger drainers = new AtomicInteger();
    private final Runnable drain = this::drain;

    /** @param width most tasks of {@code workers} used at once; at least 1 */
    Coalescing(Executor workers, int width) {
        this.workers = workers;
        this.width = Math.max(1, width);
    }

    @Override
    public void execute(Runnable task) {
        ready.add(task);
        startDrainerIfRoom();
    }

    /** @return true if a drainer was started (or the caller became one, see {@link #drain}) */
    private boolean claimDrainer() {
        for (int d = drainers.get(); d < width; d = drainers.get()) {
            if (drainers.compareAndSet(d, d + 1)) {
                return true;
            }
        }
        return false;
    }

    private void startDrainerIfRoom() {
        if (claimDrainer()) {
            try {
                workers.execute(drain);
            } catch (RuntimeException e) { // rejected: the pool is shutting down
                drainers.decrementAndGet();
                throw e;
            }
        }
    }

    private void drain() {
        do {
            Runnable task;
            while ((task = ready.poll()) != null) {
                try {
                    task.run();
                } catch (Throwable t) {
                    LOG.error("Engine task failed", t);
                }
            }
            drainers.decrementAndGet();
            // a task added after the last poll by a thread that saw every drainer busy: pick it up
        } while (!ready.isEmpty() && claimDrainer());
    }
}
