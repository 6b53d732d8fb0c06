package io.parley.type.support;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.blob.BlobStore;
import org.slf4j.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Runs a bundle's blob store calls on its workers and gives the caller a stage whose failure is what the client is
 * told: no store, a full queue, a store's {@link IOException} and a stopping bundle are retryable
 * {@code UNAVAILABLE}; a {@link ParleyException} the call throws is passed on as it is; any other exception is passed
 * on too (the core answers it as {@code INTERNAL}). Also makes the bundle's threads and stops them so that no caller
 * waits forever for a call that will never run.
 *
 * <p>Threading: thread-safe; {@link #onStore} returns at once. The workers and the store supplier belong to the
 * caller (the bundle's component creates them with {@link #newPool} and stops them with {@link #stop}).
 */
public final class BlobWorkers {

    /** A blob store call; runs on a worker and may block on the store. */
    @FunctionalInterface
    public interface StoreCall<T> {
        T call(BlobStore blobs) throws IOException;
    }

    private static final long STOP_SECONDS = 5;

    private final Supplier<Optional<BlobStore>> store;
    private final Executor io;
    private final Logger log;
    private final String busy;

    /**
     * @param store the store each call is made against: the one current when the call is made, empty if none runs
     * @param io    the workers; a rejected task is answered as retryable {@code UNAVAILABLE} with {@code busy}
     * @param log   where a store's failure is logged (the bundle's own logger)
     * @param busy  what the client is told when the workers' queue is full
     */
    public BlobWorkers(Supplier<Optional<BlobStore>> store, Executor io, Logger log, String busy) {
        this.store = store;
        this.io = io;
        this.log = log;
        this.busy = busy;
    }

    /**
     * Runs {@code call} on the workers against the current store.
     *
     * @return completed with the call's result or failure as the class comment says; never completed on the
     *         caller's thread unless it failed before reaching the workers
     */
    public <T> CompletionStage<T> onStore(StoreCall<T> call) {
        Optional<BlobStore> current = store.get();
        if (current.isEmpty()) {
            return CompletableFuture.failedFuture(new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE,
                    "no blob store is running", true));
        }
        StoreTask<T> task = new StoreTask<>(call, current.get(), log);
        try {
            io.execute(task);
        } catch (RejectedExecutionException e) {
            task.abandon(busy);
        }
        return task.done;
    }

    /**
     * @return workers for {@link #onStore}: {@code threads} daemon threads named {@code prefix-1},
     *         {@code prefix-2}, ..., with at most {@code queue} tasks waiting (more are rejected)
     */
    public static ThreadPoolExecutor newPool(String prefix, int threads, int queue) {
        AtomicInteger n = new AtomicInteger();
        return new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queue),
                r -> daemon(r, prefix + "-" + n.incrementAndGet()));
    }

    /** @return a scheduler on one daemon thread named {@code name} (a bundle's periodic blob store work) */
    public static ScheduledExecutorService newScheduler(String name) {
        return Executors.newSingleThreadScheduledExecutor(r -> daemon(r, name));
    }

    /**
     * Stops a bundle's threads: interrupts both, completes every {@link #onStore} task still queued on
     * {@code workers} as retryable {@code UNAVAILABLE} with {@code why}, then waits up to five seconds for each to
     * end. Call it once, on deactivation; keeps the calling thread's interrupt status.
     */
    public static void stop(ExecutorService workers, ExecutorService scheduler, String why) {
        scheduler.shutdownNow();
        abandon(workers.shutdownNow(), why);
        try {
            workers.awaitTermination(STOP_SECONDS, TimeUnit.SECONDS);
            scheduler.awaitTermination(STOP_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * {@link #stop(ExecutorService, ExecutorService, String)} for a bundle without a scheduler: interrupts the workers,
     * fails the tasks still queued as retryable {@code UNAVAILABLE} with {@code why}, and waits up to five seconds for
     * them to end.
     */
    public static void stop(ExecutorService workers, String why) {
        abandon(workers.shutdownNow(), why);
        try {
            workers.awaitTermination(STOP_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Completes, as retryable {@code UNAVAILABLE} with {@code why}, the {@link #onStore} tasks among
     * {@code neverRun} (what a shut-down executor's {@code shutdownNow} returned); other tasks are left alone.
     */
    static void abandon(List<Runnable> neverRun, String why) {
        for (Runnable r : neverRun) {
            if (r instanceof StoreTask<?> task) {
                task.abandon(why);
            }
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** One call on the workers, and the stage its caller holds. */
    private static final class StoreTask<T> implements Runnable {
        final CompletableFuture<T> done = new CompletableFuture<>();
        private final StoreCall<T> call;
        private final BlobStore blobs;
        private final Logger log;

        StoreTask(StoreCall<T> call, BlobStore blobs, Logger log) {
            this.call = call;
            this.blobs = blobs;
            this.log = log;
        }

        @Override
        public void run() {
            try {
                done.complete(call.call(blobs));
            } catch (ParleyException e) {
                done.completeExceptionally(e);
            } catch (IOException | UncheckedIOException e) {
                log.warn("Blob store failed", e);
                done.completeExceptionally(new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE,
                        "the blob store failed: " + e.getMessage(), true));
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
            }
        }

        void abandon(String why) {
            done.completeExceptionally(new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, why, true));
        }
    }
}
