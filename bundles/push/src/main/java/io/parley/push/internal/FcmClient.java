package io.parley.push.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.type.TypeFactory;
import io.parley.push.spi.Push;
import io.parley.push.spi.PushProvider;
import io.parley.push.spi.Result;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link PushProvider} for FCM's HTTP v1 API (and anything shaped like it): {@code POST
 * {endpoint}/v1/projects/{project}/messages:send} with {@code Authorization: Bearer <credential>} and
 * <pre>
 * {"message":{"token":"…","notification":{"title":"…","body":"…"},"data":{"conversation":"…","seq":"7"}}}
 * </pre>
 * Answers: 2xx is {@link Result#sent()}; 404, and 400 saying {@code UNREGISTERED} or {@code INVALID_ARGUMENT}, is
 * {@link Result#badToken}; 429, 5xx, a time-out or no connection is retried up to {@link Settings#retries()} times,
 * after {@link Settings#retryBase()} doubled each time (or a longer {@code Retry-After}, up to 60 s), then failed;
 * anything else (401, 403…) fails at once.
 *
 * <p>Bounded: at most {@link Settings#maxInFlight()} pushes are in flight or waiting to retry, at most
 * {@link Settings#queueMax()} wait for a slot; further pushes fail at once. {@link #send} never blocks.
 *
 * <p>Owns its threads (an executor for the HTTP client and the retry timers, daemon, named
 * {@code parley-push-fcm-N}) and stops them in {@link #close}, which fails every pending push. On Java 17 the JDK's
 * selector thread of the HTTP client ends when the client is garbage collected (on 21+ it is shut down at once).
 * Uses its own Jackson type cache, so nothing JVM-wide keeps this bundle's classes. Thread-safe.
 */
public final class FcmClient implements PushProvider, AutoCloseable {

    public static final String PLATFORM = "fcm";
    static final int MAX_RESPONSE_BYTES = 64 * 1024;
    static final long MAX_BACKOFF_MILLIS = 60_000;

    /**
     * @param endpoint    base URL, e.g. {@code https://fcm.googleapis.com}
     * @param project     the FCM project id
     * @param credential  the bearer token
     * @param timeout     to connect, and to get the answer, per request
     * @param retries     retries after a temporary failure
     * @param retryBase   the first back-off, doubled for each next retry
     * @param maxInFlight pushes in flight or waiting to retry
     * @param queueMax    pushes waiting for a slot
     */
    public record Settings(URI endpoint, String project, String credential, Duration timeout, int retries,
                           Duration retryBase, int maxInFlight, int queueMax) {
        public Settings {
            String scheme = endpoint.getScheme();
            if (!"https".equalsIgnoreCase(scheme) && !"http".equalsIgnoreCase(scheme) || endpoint.getHost() == null) {
                throw new IllegalArgumentException("fcm.endpoint must be an http(s) URL: " + endpoint);
            }
            if (project.isBlank()) {
                throw new IllegalArgumentException("fcm.project is empty");
            }
            retries = Math.max(0, retries);
            maxInFlight = Math.max(1, maxInFlight);
            queueMax = Math.max(0, queueMax);
        }

        /** The send URL: {@code {endpoint}/v1/projects/{project}/messages:send}. */
        public URI sendUri() {
            String base = endpoint.toString();
            while (base.endsWith("/")) {
                base = base.substring(0, base.length() - 1);
            }
            String project = URLEncoder.encode(project(), StandardCharsets.UTF_8).replace("+", "%20");
            return URI.create(base + "/v1/projects/" + project + "/messages:send");
        }

        @Override
        public String toString() {
            return "FCM " + sendUri() + " (credential hidden)";
        }
    }

    /** One push from {@link #send} to its result. */
    private static final class Job {
        final Push push;
        final byte[] body;
        final CompletableFuture<Result> result = new CompletableFuture<>();
        int attempt;
        volatile CompletableFuture<?> exchange;

        Job(Push push, byte[] body) {
            this.push = push;
            this.body = body;
        }
    }

    private final Settings settings;
    private final URI uri;
    private final String authorization;
    private final ObjectMapper json = JsonMapper.builder().typeFactory(TypeFactory.createDefaultInstance()).build();
    private final ScheduledThreadPoolExecutor executor;
    private final HttpClient http;

    private final Object lock = new Object();
    private final ArrayDeque<Job> waiting = new ArrayDeque<>(); // guarded by lock
    private int inFlight;                                      // guarded by lock
    private boolean closed;                                    // guarded by lock
    /** Jobs holding a slot (in flight or waiting to retry). */
    private final Set<Job> active = ConcurrentHashMap.newKeySet();

    public FcmClient(Settings settings) {
        this.settings = settings;
        this.uri = settings.sendUri();
        this.authorization = "Bearer " + settings.credential();
        AtomicInteger threads = new AtomicInteger();
        ThreadFactory factory = task -> {
            Thread thread = new Thread(task, "parley-push-fcm-" + threads.incrementAndGet());
            thread.setDaemon(true);
            thread.setContextClassLoader(null);
            return thread;
        };
        this.executor = new ScheduledThreadPoolExecutor(2, factory);
        this.executor.setRemoveOnCancelPolicy(true);
        Thread current = Thread.currentThread();
        ClassLoader tccl = current.getContextClassLoader();
        current.setContextClassLoader(null); // the client's selector thread inherits it: let it pin nothing
        try {
            this.http = HttpClient.newBuilder().executor(executor).connectTimeout(settings.timeout())
                    .followRedirects(HttpClient.Redirect.NEVER).build();
        } finally {
            current.setContextClassLoader(tccl);
        }
    }

    @Override
    public CompletionStage<Result> send(Push push) {
        Job job = new Job(push, body(push));
        synchronized (lock) {
            if (closed) {
                return CompletableFuture.completedFuture(Result.failed("the FCM provider is stopped"));
            }
            if (waiting.size() >= settings.queueMax() && inFlight >= settings.maxInFlight()) {
                return CompletableFuture.completedFuture(Result.failed("the FCM queue is full ("
                        + settings.queueMax() + ")"));
            }
            waiting.add(job);
        }
        pump();
        return job.result.minimalCompletionStage();
    }

    /** The request body for {@code push}. */
    byte[] body(Push push) {
        ObjectNode root = json.createObjectNode();
        ObjectNode message = root.putObject("message");
        message.put("token", push.token());
        ObjectNode notification = message.putObject("notification");
        notification.put("title", push.title());
        notification.put("body", push.body());
        ObjectNode data = message.putObject("data");
        data.put("conversation", push.conversation());
        data.put("seq", Long.toString(push.seq()));
        try {
            return json.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an FCM message", e);
        }
    }

    /** Starts waiting jobs while slots are free. */
    private void pump() {
        List<Job> start = new ArrayList<>();
        synchronized (lock) {
            while (!closed && inFlight < settings.maxInFlight() && !waiting.isEmpty()) {
                Job job = waiting.poll();
                inFlight++;
                active.add(job);
                start.add(job);
            }
        }
        start.forEach(this::attempt);
    }

    private void attempt(Job job) {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(settings.timeout())
                .header("Authorization", authorization)
                .header("Content-Type", "application/json; charset=UTF-8")
                .POST(HttpRequest.BodyPublishers.ofByteArray(job.body))
                .build();
        CompletableFuture<HttpResponse<byte[]>> exchange;
        try {
            exchange = http.sendAsync(request, info -> new BoundedBody());
        } catch (RuntimeException e) { // e.g. RejectedExecutionException while closing
            finish(job, Result.failed("cannot send: " + e));
            return;
        }
        job.exchange = exchange;
        exchange.whenComplete((response, error) -> {
            try {
                answered(job, response, error);
            } catch (RuntimeException e) {
                finish(job, Result.failed("unexpected: " + e));
            }
        });
    }

    private void answered(Job job, HttpResponse<byte[]> response, Throwable error) {
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            retryOrFail(job, describe(cause), 0);
            return;
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            finish(job, Result.sent());
            return;
        }
        Set<String> codes = errorCodes(response.body());
        String detail = "HTTP " + status + (codes.isEmpty() ? "" : " " + String.join(",", codes));
        if (status == 404 || status == 400 && (codes.contains("UNREGISTERED") || codes.contains("INVALID_ARGUMENT"))) {
            finish(job, Result.badToken(detail));
        } else if (status == 429 || status >= 500) {
            retryOrFail(job, detail, retryAfterMillis(response));
        } else {
            finish(job, Result.failed(detail));
        }
    }

    private void retryOrFail(Job job, String detail, long retryAfterMillis) {
        if (job.attempt >= settings.retries()) {
            finish(job, Result.failed(detail + (job.attempt == 0 ? "" : " after " + (job.attempt + 1) + " attempts")));
            return;
        }
        long backoff = settings.retryBase().toMillis() << Math.min(job.attempt, 20);
        long delay = Math.min(MAX_BACKOFF_MILLIS, Math.max(backoff, retryAfterMillis));
        job.attempt++;
        try {
            executor.schedule(() -> attempt(job), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            finish(job, Result.failed(detail + "; the FCM provider is stopped"));
        }
    }

    /** Completes a job that holds a slot (once) and hands its slot on. */
    private void finish(Job job, Result result) {
        if (!active.remove(job)) {
            return; // already failed by close()
        }
        synchronized (lock) {
            inFlight--;
        }
        job.result.complete(result);
        pump();
    }

    private static String describe(Throwable cause) {
        if (cause instanceof HttpTimeoutException) {
            return "timed out";
        }
        if (cause instanceof ConnectException) {
            return "cannot connect (" + (cause.getMessage() == null ? cause.getClass().getSimpleName()
                    : cause.getMessage()) + ")";
        }
        if (cause instanceof IOException) {
            return "I/O error: " + cause;
        }
        return cause.toString();
    }

    /** {@code error.status} and every {@code error.details[].errorCode} of a Google API error body. */
    private Set<String> errorCodes(byte[] body) {
        Set<String> codes = new LinkedHashSet<>();
        if (body == null || body.length == 0) {
            return codes;
        }
        try {
            JsonNode error = json.readTree(body).path("error");
            if (error.path("status").isTextual()) {
                codes.add(error.path("status").asText());
            }
            for (JsonNode detail : error.path("details")) {
                if (detail.path("errorCode").isTextual()) {
                    codes.add(detail.path("errorCode").asText());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not JSON (a proxy's page): the status alone decides
        }
        return codes;
    }

    private static long retryAfterMillis(HttpResponse<?> response) {
        return response.headers().firstValue("Retry-After").map(v -> {
            try {
                return Math.max(0, Long.parseLong(v.trim())) * 1000;
            } catch (NumberFormatException e) {
                return 0L; // the HTTP-date form: use our own back-off
            }
        }).orElse(0L);
    }

    /**
     * Fails every pending push ({@link Result#failed}), aborts the requests in flight and stops the threads. Pushes
     * sent afterwards fail at once. Idempotent.
     */
    @Override
    public void close() {
        List<Job> queued;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            queued = new ArrayList<>(waiting);
            waiting.clear();
        }
        Result stopped = Result.failed("the FCM provider is stopped");
        queued.forEach(job -> job.result.complete(stopped));
        for (Job job : List.copyOf(active)) {
            active.remove(job);
            CompletableFuture<?> exchange = job.exchange;
            if (exchange != null) {
                exchange.cancel(true);
            }
            job.result.complete(stopped);
        }
        executor.shutdownNow();
        try {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        shutdownHttpClient();
    }

    /** Java 21+ has {@code HttpClient.shutdownNow()}; on 17 the client's selector thread ends once it is collected. */
    private void shutdownHttpClient() {
        try {
            HttpClient.class.getMethod("shutdownNow").invoke(http);
        } catch (NoSuchMethodException e) {
            // Java 17-20
        } catch (ReflectiveOperationException | RuntimeException e) {
            // best effort
        }
    }

    /** Pushes in flight or waiting to retry, and waiting for a slot; for tests. */
    int[] load() {
        synchronized (lock) {
            return new int[] {inFlight, waiting.size()};
        }
    }

    /** Keeps at most {@value #MAX_RESPONSE_BYTES} bytes of a response body (FCM's answers are small). */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            for (ByteBuffer buffer : buffers) {
                int n = Math.min(buffer.remaining(), MAX_RESPONSE_BYTES - bytes.size());
                if (n > 0) {
                    byte[] chunk = new byte[n];
                    buffer.get(chunk);
                    bytes.write(chunk, 0, n);
                }
            }
        }

        @Override
        public void onError(Throwable throwable) {
            body.completeExceptionally(throwable);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toByteArray());
        }
    }
}
