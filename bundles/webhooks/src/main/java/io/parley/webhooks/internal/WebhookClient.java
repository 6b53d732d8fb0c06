package io.parley.webhooks.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends signed webhook requests with the JDK's {@link HttpClient}, asynchronously, on an executor this object owns
 * (also the timer of retries). Every request is a POST of JSON carrying {@value #EVENT_HEADER},
 * {@value #TIMESTAMP_HEADER} (epoch seconds), {@value #SIGNATURE_HEADER} ({@link Signer}),
 * {@value #DELIVERY_HEADER} (the same for every attempt of one delivery) and {@value #ATTEMPT_HEADER}.
 *
 * <p>Threading: {@link #post} never blocks (the HTTP client resolves, connects and writes on the executor); the
 * returned future completes on the executor, never on a caller's thread or a JDK-internal pool.
 *
 * <p>{@link #close()} cancels the requests in flight, stops the executor and shuts the HTTP client down: on Java 21+
 * with {@code HttpClient.shutdownNow()}; on Java 17-20, which have no such API, by interrupting the client's selector
 * thread ({@code HttpClient-<id>-SelectorManager}, the id read from the client's {@code toString()}), on which the
 * JDK's selector loop stops and closes the client's connections. Were that thread not found, the JDK would still end
 * it a few seconds after the client is garbage collected.
 */
public final class WebhookClient implements AutoCloseable {

    public static final String EVENT_HEADER = "X-Parley-Event";
    public static final String TIMESTAMP_HEADER = "X-Parley-Timestamp";
    public static final String SIGNATURE_HEADER = "X-Parley-Signature";
    public static final String DELIVERY_HEADER = "X-Parley-Delivery";
    public static final String ATTEMPT_HEADER = "X-Parley-Attempt";
    /** Prefix of the executor's thread names. */
    public static final String THREAD_PREFIX = "parley-webhooks-";

    private static final Logger LOG = LoggerFactory.getLogger(WebhookClient.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final Signer signer;
    private final Clock clock;
    private final ScheduledThreadPoolExecutor executor;
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
    /** The futures handed to callers and not yet completed; {@link #close()} fails whatever is left of them. */
    private final Set<CompletableFuture<?>> promised = ConcurrentHashMap.newKeySet();
    private volatile HttpClient http;
    private volatile boolean closed;

    public WebhookClient(String secret, int threads, Clock clock) {
        this.signer = new Signer(secret);
        this.clock = clock;
        int instance = INSTANCES.incrementAndGet();
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = task -> {
            Thread t = new Thread(task, THREAD_PREFIX + instance + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.executor = new ScheduledThreadPoolExecutor(threads, factory);
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        // the client's selector thread inherits the context class loader: give it none rather than whatever loader
        // the activating thread carries
        Thread current = Thread.currentThread();
        ClassLoader tccl = current.getContextClassLoader();
        current.setContextClassLoader(null);
        try {
            this.http = HttpClient.newBuilder()
                    .executor(executor)
                    .version(HttpClient.Version.HTTP_1_1)
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .build();
        } finally {
            current.setContextClassLoader(tccl);
        }
    }

    /**
     * POSTs {@code body}, signed with the current time.
     *
     * @param timeout the whole exchange's time-out (connecting included); beyond it the future fails with
     *                {@link java.net.http.HttpTimeoutException}
     * @return the response, completed on this client's executor; failed on transport errors, time-outs and after
     * {@link #close()}
     */
    public <T> CompletableFuture<HttpResponse<T>> post(URI url, String event, String deliveryId, int attempt,
                                                       byte[] body, Duration timeout,
                                                       HttpResponse.BodyHandler<T> handler) {
        HttpClient client = http;
        if (closed || client == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("webhooks stopped"));
        }
        long timestamp = clock.instant().getEpochSecond();
        HttpRequest request = HttpRequest.newBuilder(url)
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("User-Agent", "parley-webhooks")
                .header(EVENT_HEADER, event)
                .header(TIMESTAMP_HEADER, Long.toString(timestamp))
                .header(SIGNATURE_HEADER, signer.sign(timestamp, body))
                .header(DELIVERY_HEADER, deliveryId)
                .header(ATTEMPT_HEADER, Integer.toString(attempt))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        CompletableFuture<HttpResponse<T>> result = new CompletableFuture<>();
        promised.add(result);
        result.whenComplete((r, e) -> promised.remove(result));
        CompletableFuture<HttpResponse<T>> sent;
        try {
            sent = client.sendAsync(request, handler);
        } catch (RuntimeException e) { // e.g. the executor stopped under us
            result.completeExceptionally(e);
            return result;
        }
        inFlight.add(sent);
        sent.whenComplete((response, error) -> {
            inFlight.remove(sent);
            try {
                executor.execute(() -> complete(result, response, error));
            } catch (RejectedExecutionException stopped) {
                complete(result, response, error);
            }
        });
        if (closed) { // close() ran between the check above and inFlight.add
            sent.cancel(true);
        }
        return result;
    }

    /** Runs {@code task} on the executor after {@code delayMillis}; null once closed. */
    public ScheduledFuture<?> schedule(Runnable task, long delayMillis) {
        try {
            return executor.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException stopped) {
            return null;
        }
    }

    /** Runs {@code task} on the executor; false once closed. */
    public boolean execute(Runnable task) {
        try {
            executor.execute(task);
            return true;
        } catch (RejectedExecutionException stopped) {
            return false;
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Cancels what is in flight, completes every caller's future (the cancelled ones exceptionally), stops the
     * executor (waiting up to 5 s for running callbacks) and drops the client.
     */
    @Override
    public void close() {
        closed = true;
        for (CompletableFuture<?> request : inFlight) {
            request.cancel(true);
        }
        // a completion queued but not started (a cancellation above, or a response that came just before) must still
        // complete its caller's future, or a before-send call would hang past the stop: run what shutdownNow drops
        // here (delayed retries are cancelled by then, and running a cancelled task does nothing)
        for (Runnable dropped : executor.shutdownNow()) {
            try {
                dropped.run();
            } catch (RuntimeException e) {
                LOG.debug("Webhook completion failed while stopping", e);
            }
        }
        // whatever the JDK client does with a cancelled exchange (on Java 17 its future may complete later, or never
        // once its selector stops), every caller's future ends now
        IllegalStateException stopped = new IllegalStateException("webhooks stopped");
        for (CompletableFuture<?> caller : promised) {
            caller.completeExceptionally(stopped);
        }
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("Webhook executor threads still running 5 s after stop");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        HttpClient client = http;
        http = null;
        if (client != null) {
            shutdownNow(client);
        }
    }

    /** Java 21+ has {@code HttpClient.shutdownNow()}; this bundle is built for 17, so it is called reflectively. */
    private static void shutdownNow(HttpClient client) {
        try {
            HttpClient.class.getMethod("shutdownNow").invoke(client);
            return;
        } catch (NoSuchMethodException java17) {
            // below
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("HttpClient.shutdownNow failed", e);
        }
        stopSelectorThread(client);
    }

    /** Java 17-20: interrupts the client's selector thread, which ends its loop (see the class comment). */
    static void stopSelectorThread(HttpClient client) {
        String description = client.toString(); // jdk.internal.net.http.HttpClientImpl@1b2c3d(7)
        int open = description.lastIndexOf('(');
        int close = description.lastIndexOf(')');
        if (open < 0 || close <= open + 1) {
            return;
        }
        String name = "HttpClient-" + description.substring(open + 1, close) + "-SelectorManager";
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (thread.getName().equals(name)) {
                thread.interrupt();
                try {
                    thread.join(1_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** @return the URL without user info, query or fragment, for logs (those parts may carry credentials) */
    public static String redact(URI url) {
        return url.getScheme() + "://" + url.getHost() + (url.getPort() < 0 ? "" : ":" + url.getPort())
                + (url.getRawPath() == null ? "" : url.getRawPath());
    }

    private static <T> void complete(CompletableFuture<T> result, T value, Throwable error) {
        if (error != null) {
            result.completeExceptionally(error);
        } else {
            result.complete(value);
        }
    }
}
