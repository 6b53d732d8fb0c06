package io.parley.type.support;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.blob.BlobStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlobWorkersTest {
    static final Logger LOG = LoggerFactory.getLogger(BlobWorkersTest.class);

    final AtomicReference<BlobStore> store = new AtomicReference<>(new MemoryBlobs(null));
    final ThreadPoolExecutor pool = BlobWorkers.newPool("parley-test", 1, 1);
    final ScheduledExecutorService scheduler = BlobWorkers.newScheduler("parley-test-timer");
    final BlobWorkers workers = new BlobWorkers(() -> Optional.ofNullable(store.get()), pool, LOG,
            "too many test operations in progress");

    @AfterEach
    void stop() {
        BlobWorkers.stop(pool, scheduler, "stopping");
    }

    @Test
    void aCallRunsOnANamedDaemonWorkerAgainstTheCurrentStore() throws Exception {
        BlobStore current = store.get();
        CompletableFuture<String> ran = workers.onStore(blobs -> {
            assertSame(current, blobs);
            assertTrue(Thread.currentThread().isDaemon());
            return Thread.currentThread().getName();
        }).toCompletableFuture();
        assertEquals("parley-test-1", ran.get(5, TimeUnit.SECONDS));
        assertEquals("parley-test-timer",
                scheduler.submit(() -> Thread.currentThread().getName()).get(5, TimeUnit.SECONDS));
    }

    @Test
    void withoutAStoreACallIsRetryableUnavailableAndNeverRuns() {
        store.set(null);
        ParleyException e = failure(workers.onStore(blobs -> {
            throw new AssertionError("ran without a store");
        }));
        assertUnavailable(e, "no blob store is running");
    }

    @Test
    void theStoresIoFailuresAreRetryableUnavailableAndOtherFailuresArePassedOn() {
        assertUnavailable(failure(workers.onStore(blobs -> {
            throw new IOException("disk full");
        })), "the blob store failed: disk full");
        assertUnavailable(failure(workers.onStore(blobs -> {
            throw new UncheckedIOException(new IOException("gone"));
        })), "the blob store failed: java.io.IOException: gone");
        ParleyException own = new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such thing");
        assertSame(own, failure(workers.onStore(blobs -> {
            throw own;
        })));
        IllegalStateException bug = new IllegalStateException("bug");
        ExecutionException wrapped = assertThrows(ExecutionException.class, () -> workers.onStore(blobs -> {
            throw bug;
        }).toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertSame(bug, wrapped.getCause());
    }

    @Test
    void aFullQueueIsRetryableUnavailableAndStoppingFailsWhatIsStillQueued() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1); // never counted down: only an interrupt ends the call
        CompletionStage<String> busy = workers.onStore(blobs -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new InterruptedIOException("interrupted");
            }
            return "done";
        });
        assertTrue(running.await(5, TimeUnit.SECONDS));
        CompletionStage<String> queued = workers.onStore(blobs -> "never");
        assertUnavailable(failure(workers.onStore(blobs -> "no room")), "too many test operations in progress");

        BlobWorkers.stop(pool, scheduler, "the test type is stopping");
        assertUnavailable(failure(queued), "the test type is stopping");
        assertTrue(pool.isTerminated() && scheduler.isTerminated());
        assertUnavailable(failure(busy), "the blob store failed: interrupted"); // the running call is interrupted
    }

    static ParleyException failure(CompletionStage<?> stage) {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> stage.toCompletableFuture().get(5, TimeUnit.SECONDS));
        return assertInstanceOf(ParleyException.class, e.getCause());
    }

    static void assertUnavailable(ParleyException e, String message) {
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, e.code());
        assertTrue(e.retryable(), "retryable");
        assertEquals(message, e.getMessage());
    }
}
