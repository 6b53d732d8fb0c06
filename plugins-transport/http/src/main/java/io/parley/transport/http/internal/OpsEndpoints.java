package io.parley.transport.http.internal;

import io.parley.core.spi.ops.ListeningTransport;
import io.parley.core.spi.ops.Liveness;
import io.parley.core.spi.ops.MetricsExposition;
import io.parley.transport.http.internal.Router.Endpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The operations endpoints: {@code GET /metrics} (the bound {@link MetricsExposition}; bearer token
 * {@code metrics.token}, else the admin token), {@code GET /health/live} and {@code GET /health/ready} (no token).
 * These are outside {@code /v1} and not admin-only in the route table: the token of {@code /metrics} is checked here,
 * after routing, with the same constant-time comparison as the admin token.
 *
 * <p>Liveness: the core's {@link Liveness} probe must complete within {@link #LIVENESS_DEADLINE}. Readiness: the core
 * reports no problem ({@code Receiver#problems}: running, store bound and writable, authenticator bound), is live,
 * and every transport named in {@code ready.transports} has a {@link ListeningTransport} registered; this HTTP
 * listener is up by construction (it answers).
 *
 * <p>Threading: {@link #handle} is called on an event loop and never blocks: the scrape runs in the common
 * fork-join pool, the probe on the core's workers, its deadline on {@code timer}. Thread-safe; services are bound
 * and unbound from any thread.
 */
public final class OpsEndpoints {

    /** How long the core's workers may take to run the liveness no-op. */
    static final Duration LIVENESS_DEADLINE = Duration.ofSeconds(2);

    private final AtomicReference<MetricsExposition> exposition = new AtomicReference<>();
    private final AtomicReference<Liveness> liveness = new AtomicReference<>();
    /** The transports listening now, by service object (their names as values). */
    private final Map<ListeningTransport, String> listening = new ConcurrentHashMap<>();
    private volatile List<String> requiredTransports = List.of();
    private final AdminToken adminToken;
    private volatile AdminToken token;
    private final Supplier<List<String>> coreProblems;

    /**
     * @param adminToken   the usable admin token, or null: {@code /metrics} takes it unless {@link #useMetricsToken}
     *                     sets another
     * @param coreProblems what keeps the core from working, as {@code GET /health} reports it
     */
    public OpsEndpoints(String adminToken, Supplier<List<String>> coreProblems) {
        this.adminToken = new AdminToken(adminToken);
        this.token = this.adminToken;
        this.coreProblems = coreProblems;
    }

    /** @param metricsToken {@code metrics.token}: the token of {@code /metrics}; blank means the admin token */
    public void useMetricsToken(String metricsToken) {
        token = metricsToken == null || metricsToken.isBlank() ? adminToken : new AdminToken(metricsToken.trim());
    }

    /**
     * @param transports {@code ready.transports}: comma-separated names that must be listening for readiness; blank
     *                   entries are ignored
     */
    public void requireTransports(String transports) {
        requiredTransports = Arrays.stream(transports.split(",")).map(String::trim).filter(t -> !t.isEmpty())
                .distinct().toList();
    }

    public void transportUp(ListeningTransport transport, String name) {
        listening.put(transport, name);
    }

    public void transportDown(ListeningTransport transport) {
        listening.remove(transport);
    }

    /** True for the endpoints this class answers. */
    static boolean serves(Endpoint endpoint) {
        return endpoint == Endpoint.METRICS || endpoint == Endpoint.HEALTH_LIVE || endpoint == Endpoint.HEALTH_READY;
    }

    public void bindExposition(MetricsExposition e) {
        exposition.set(e);
    }

    public void unbindExposition(MetricsExposition e) {
        exposition.compareAndSet(e, null);
    }

    public void bindLiveness(Liveness l) {
        liveness.set(l);
    }

    public void unbindLiveness(Liveness l) {
        liveness.compareAndSet(l, null);
    }

    /**
     * @param authorization the request's {@code Authorization} header, or null
     * @return the reply; fails with {@link ApiException} when refused (401 without or with a wrong token, 503 with no
     *         metrics bundle deployed)
     */
    CompletableFuture<ApiService.Reply> handle(Endpoint endpoint, String authorization,
                                                ScheduledExecutorService timer) {
        return switch (endpoint) {
            case METRICS -> metrics(authorization);
            case HEALTH_LIVE -> live(timer).thenApply(problem -> problem == null
                    ? ApiService.Reply.ok(new Dto.Health("UP", List.of()))
                    : new ApiService.Reply(503, new Dto.Health("DOWN", List.of(problem)), null, null));
            case HEALTH_READY -> live(timer).thenApply(problem -> {
                List<String> problems = new ArrayList<>(coreProblems.get());
                if (problem != null && problems.isEmpty()) {
                    problems.add(problem);
                }
                for (String t : requiredTransports) {
                    if (!listening.containsValue(t)) {
                        problems.add("the " + t + " transport is not listening");
                    }
                }
                return problems.isEmpty() ? ApiService.Reply.ok(new Dto.Health("UP", problems))
                        : new ApiService.Reply(503, new Dto.Health("DOWN", problems), null, null);
            });
            default -> CompletableFuture.failedFuture(
                    new IllegalArgumentException(endpoint + " is not an ops endpoint"));
        };
    }

    /**
     * @return null if a request to {@code endpoint} with {@code authorization} may proceed, else the 401 to answer (the
     *         caller closes the connection after it, as for every refused credential)
     */
    ApiException refusal(Endpoint endpoint, String authorization) {
        if (endpoint != Endpoint.METRICS || token.matches(authorization)) {
            return null;
        }
        return ApiException.unauthenticated(authorization == null
                ? "GET /metrics needs Authorization: Bearer <metrics.token, or admin.token if unset>"
                : "wrong metrics token");
    }

    private CompletableFuture<ApiService.Reply> metrics(String authorization) {
        ApiException refused = refusal(Endpoint.METRICS, authorization);
        if (refused != null) {
            return CompletableFuture.failedFuture(refused);
        }
        MetricsExposition e = exposition.get();
        if (e == null) {
            return CompletableFuture.failedFuture(ApiException.unavailable(
                    "no metrics bundle is deployed (deploy/parley-metrics.jar)"));
        }
        return CompletableFuture.supplyAsync(() -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
            try {
                e.scrape(out);
            } catch (IOException | RuntimeException | LinkageError failure) { // the bundle is leaving mid-scrape
                throw ApiException.unavailable("the metrics bundle failed to answer: " + failure);
            }
            return new ApiService.Reply(200, null, out.toByteArray(), e.contentType());
        }, ForkJoinPool.commonPool()); // off the event loop: a scrape is CPU work proportional to the meters
    }

    /** @return completes with null when live, else with the reason; never fails */
    private CompletableFuture<String> live(ScheduledExecutorService timer) {
        Liveness l = liveness.get();
        if (l == null) {
            return CompletableFuture.completedFuture("the core is not running");
        }
        CompletionStage<Void> probe;
        try {
            probe = l.probe();
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture("the core's engine failed its liveness probe: " + e);
        }
        CompletableFuture<String> out = new CompletableFuture<>();
        var deadline = timer.schedule(() -> out.complete("the core's engine did not run a task within "
                + LIVENESS_DEADLINE.toMillis() + " ms"), LIVENESS_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        probe.whenComplete((v, error) -> {
            deadline.cancel(false);
            out.complete(error == null ? null : "the core's engine is stopping");
        });
        return out;
    }
}
