package io.parley.core.internal;

import io.parley.core.proto.Message;
import io.parley.core.spi.NotificationDispatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One registered {@link NotificationDispatcher} behind a concurrency limit and a bounded queue, so a slow channel
 * never holds up online delivery or other channels. Thread-safe.
 */
final class DispatchChannel {
    private static final Logger LOG = LoggerFactory.getLogger(DispatchChannel.class);

    private record Job(String recipient, Message message, String preview) {
    }

    final String name;
    final boolean allRecipients;
    private final NotificationDispatcher dispatcher;
    private final Executor executor;
    private final int concurrency;
    private final AtomicInteger running = new AtomicInteger();
    private final ArrayBlockingQueue<Job> queue;
    private final AtomicLong dropped = new AtomicLong();

    DispatchChannel(String name, boolean allRecipients, NotificationDispatcher dispatcher, int concurrency,
                    int queueCapacity, Executor executor) {
        this.name = name;
        this.allRecipients = allRecipients;
        this.dispatcher = dispatcher;
        this.concurrency = Math.max(1, concurrency);
        this.queue = new ArrayBlockingQueue<>(Math.max(1, queueCapacity));
        this.executor = executor;
    }

    NotificationDispatcher dispatcher() {
        return dispatcher;
    }

    void submit(String recipient, Message message, String preview) {
        Job job = new Job(recipient, message, preview);
        if (!queue.offer(job)) {
            long n = dropped.incrementAndGet();
            if (Long.bitCount(n) == 1) { // log at 1, 2, 4, 8, ... drops
                LOG.warn("Dispatch channel '{}' is saturated: {} notification(s) dropped so far (message {} to {})",
                        name, n, message.getId(), recipient);
            }
            return;
        }
        pump();
    }

    long dropped() {
        return dropped.get();
    }

    private void pump() {
        while (true) {
            int r = running.get();
            if (r >= concurrency || queue.isEmpty()) {
                return;
            }
            if (!running.compareAndSet(r, r + 1)) {
                continue;
            }
            Job job = queue.poll();
            if (job == null) {
                running.decrementAndGet();
                continue;
            }
            executor.execute(() -> run(job));
        }
    }

    private void run(Job job) {
        CompletionStage<Void> stage;
        try {
            stage = dispatcher.dispatch(job.recipient, job.message, job.preview);
        } catch (RuntimeException e) {
            LOG.warn("Dispatch channel '{}' failed for message {} to {}", name, job.message.getId(), job.recipient, e);
            done();
            return;
        }
        stage.whenComplete((v, e) -> {
            if (e != null) {
                LOG.warn("Dispatch channel '{}' failed for message {} to {}: {}", name, job.message.getId(), job.recipient, e.toString());
            }
            done();
        });
    }

    private void done() {
        running.decrementAndGet();
        pump();
    }
}
