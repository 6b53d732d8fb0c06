package io.parley.core.internal;

import io.parley.core.proto.Message;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.delivery.NotificationDispatcher;
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

    final String name;
    final boolean allRecipients;
    private final NotificationDispatcher dispatcher;
    private final Executor executor;
    private final int concurrency;
    private final AtomicInteger running = new AtomicInteger();
    private final ArrayBlockingQueue<Notification> queue;
    private final AtomicLong dropped = new AtomicLong();
    /** Dispatches that completed normally, and that threw or completed exceptionally (metrics). */
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

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

    /** The channel's name (the dispatcher's {@code parley.channel} property). */
    String name() {
        return name;
    }

    /** Notifications waiting in the queue now. */
    int queued() {
        return queue.size();
    }

    long delivered() {
        return delivered.get();
    }

    long failed() {
        return failed.get();
    }

    /** Queues one message's notification; never blocks (a full queue drops it, logged and counted). */
    void submit(Notification notification) {
        if (!queue.offer(notification)) {
            long n = dropped.incrementAndGet();
            if (Long.bitCount(n) == 1) { // log at 1, 2, 4, 8, ... drops
                LOG.warn("Dispatch channel '{}' is saturated: {} notification(s) dropped so far (message {} to {} "
                        + "recipients)", name, n, notification.message().getId(), notification.recipients().size());
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
            Notification job = queue.poll();
            if (job == null) {
                running.decrementAndGet();
                continue;
            }
            executor.execute(() -> run(job));
        }
    }

    private void run(Notification job) {
        CompletionStage<Void> stage;
        try {
            stage = dispatcher.dispatch(job);
        } catch (RuntimeException e) {
            LOG.warn("Dispatch channel '{}' failed for message {}", name, job.message().getId(), e);
            failed.incrementAndGet();
            done();
            return;
        }
        stage.whenComplete((v, e) -> {
            if (e != null) {
                LOG.warn("Dispatch channel '{}' failed for message {}: {}", name, job.message().getId(), e.toString());
                failed.incrementAndGet();
            } else {
                delivered.incrementAndGet();
            }
            done();
        });
    }

    private void done() {
        running.decrementAndGet();
        pump();
    }
}
