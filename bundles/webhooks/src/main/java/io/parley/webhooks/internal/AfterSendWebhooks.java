package io.parley.webhooks.internal;

import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.delivery.NotificationDispatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The after-send webhooks: a notification channel (scope {@code all}) that POSTs {@code message.stored} for every
 * stored message to each configured URL, retrying failures with back-off.
 *
 * <p>{@link #dispatch} builds the event once, puts one delivery per URL in this channel's own queue and completes at
 * once: the core's concurrency slots are never held through back-off. The queue holds at most {@code queueMax}
 * deliveries (sending, waiting to be sent, or waiting for a retry); beyond it new deliveries are dropped, counted and
 * logged (rate-limited WARN). At most {@code maxInFlight} requests are in flight at once. A delivery that answers
 * non-2xx or fails in transport is retried after {@link Backoff#delayMillis}; after the last attempt it is given up
 * with a rate-limited WARN. Deliveries are at least once: a retry after a lost answer repeats the event, with the same
 * {@code X-Parley-Delivery} header.
 *
 * <p>Threading: dispatch runs on a core worker and does not block; requests, callbacks and retry timers run on the
 * {@link WebhookClient}'s executor. Thread-safe.
 */
public final class AfterSendWebhooks implements NotificationDispatcher {

    private static final Logger LOG = LoggerFactory.getLogger(AfterSendWebhooks.class);
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final WebhookClient client;
    private final EventJson json;
    private final List<URI> urls;
    private final Duration timeout;
    private final Backoff backoff;
    private final int queueMax;
    private final int maxInFlight;

    private final Queue<Delivery> ready = new ConcurrentLinkedQueue<>();
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failedAttempts = new AtomicLong();
    private final AtomicLong givenUp = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final RateLimitedLog givenUpLog = new RateLimitedLog(LOG, LOG_INTERVAL_NANOS, System::nanoTime);
    private final RateLimitedLog droppedLog = new RateLimitedLog(LOG, LOG_INTERVAL_NANOS, System::nanoTime);

    public AfterSendWebhooks(WebhookClient client, EventJson json, List<URI> urls, Duration timeout, Backoff backoff,
                             int queueMax, int maxInFlight) {
        this.client = client;
        this.json = json;
        this.urls = List.copyOf(urls);
        this.timeout = timeout;
        this.backoff = backoff;
        this.queueMax = queueMax;
        this.maxInFlight = maxInFlight;
    }

    @Override
    public CompletionStage<Void> dispatch(Notification notification) {
        byte[] body = json.stored(notification);
        String messageId = notification.message().getId();
        for (URI url : urls) {
            if (held.incrementAndGet() > queueMax) {
                held.decrementAndGet();
                long n = dropped.incrementAndGet();
                droppedLog.warn("After-send webhook queue full ({} deliveries held, after.queue.max): message {} not "
                        + "sent to {}; {} dropped so far", queueMax, messageId, WebhookClient.redact(url), n);
                continue;
            }
            ready.add(new Delivery(url, messageId, UUID.randomUUID().toString(), body));
        }
        if (!client.execute(this::pump)) {
            abandonReady();
        }
        return CompletableFuture.completedFuture(null);
    }

    /** Starts ready deliveries while fewer than maxInFlight are in flight. */
    private void pump() {
        while (true) {
            int n = inFlight.get();
            if (n >= maxInFlight || ready.isEmpty()) {
                return;
            }
            if (!inFlight.compareAndSet(n, n + 1)) {
                continue;
            }
            Delivery delivery = ready.poll();
            if (delivery == null) {
                inFlight.decrementAndGet();
                continue;
            }
            attempt(delivery);
        }
    }

    private void attempt(Delivery d) {
        d.attempt++;
        client.post(d.url, EventJson.STORED, d.deliveryId, d.attempt, d.body, timeout,
                HttpResponse.BodyHandlers.discarding()).whenComplete((response, error) -> {
                    inFlight.decrementAndGet();
                    if (error == null && response.statusCode() >= 200 && response.statusCode() <= 299) {
                        held.decrementAndGet();
                        delivered.incrementAndGet();
                    } else {
                        failed(d, error != null ? describe(error) : "HTTP " + response.statusCode());
                    }
                    // as a task, not a call: a request failing synchronously must not recurse through the queue
                    if (!client.execute(this::pump)) {
                        abandonReady();
                    }
                });
    }

    private void failed(Delivery d, String why) {
        failedAttempts.incrementAndGet();
        if (client.isClosed()) {
            held.decrementAndGet();
            return;
        }
        if (d.attempt >= backoff.maxAttempts()) {
            held.decrementAndGet();
            long n = givenUp.incrementAndGet();
            givenUpLog.warn("After-send webhook {} gave up on message {} after {} attempt(s), the last: {}; {} given "
                    + "up so far", WebhookClient.redact(d.url), d.messageId, d.attempt, why, n);
            return;
        }
        LOG.debug("After-send webhook {} attempt {} for message {} failed: {}", WebhookClient.redact(d.url), d.attempt,
                d.messageId, why);
        if (client.schedule(() -> {
            ready.add(d);
            pump();
        }, backoff.delayMillis(d.attempt)) == null) {
            held.decrementAndGet();
        }
    }

    private void abandonReady() {
        while (ready.poll() != null) {
            held.decrementAndGet();
        }
    }

    /** Deliveries held now: in flight, waiting to be sent or waiting for a retry. */
    public int held() {
        return held.get();
    }

    public long delivered() {
        return delivered.get();
    }

    public long failedAttempts() {
        return failedAttempts.get();
    }

    public long givenUp() {
        return givenUp.get();
    }

    public long dropped() {
        return dropped.get();
    }

    private static String describe(Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        String message = cause.getMessage();
        return cause.getClass().getSimpleName() + (message == null || message.isEmpty() ? "" : ": " + message);
    }

    /** One event for one URL, over its attempts. {@code attempt} is touched by one thread at a time. */
    private static final class Delivery {
        final URI url;
        final String messageId;
        final String deliveryId;
        final byte[] body;
        volatile int attempt;

        Delivery(URI url, String messageId, String deliveryId, byte[] body) {
            this.url = url;
            this.messageId = messageId;
            this.deliveryId = deliveryId;
            this.body = body;
        }
    }
}
