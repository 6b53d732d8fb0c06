package io.parley.transport.http.internal;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.parley.core.spi.admin.DeployResult;
import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.Deployments;
import io.parley.core.spi.admin.ServerAdmin;
import io.parley.core.spi.admin.SessionInfo;
import io.parley.core.spi.admin.Stats;
import io.parley.core.spi.admin.StoreInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The operator endpoints (issue 13): {@code GET /v1/sessions}, {@code /v1/stores}, {@code /v1/stats},
 * {@code /v1/bundles}, {@code PUT} and {@code DELETE /v1/bundles/{name}}. They answer from the core's
 * {@link ServerAdmin} and the admin bundle's {@link Deployments}, both bound dynamically ({@link #bindAdmin},
 * {@link #bindDeployments}); while one is missing its endpoints answer a retryable 503 naming it. The admin token is
 * checked before this class is reached ({@link RequestGate}, {@link HttpApiHandler}).
 *
 * <p>A {@code PUT}'s body is never held in memory: {@link RequestGate} judges its head here ({@link #admitUpload}:
 * {@code Content-Type: application/java-archive}, a declared length within {@code max.bundle.bytes}) and
 * {@link BundleUploadHandler} streams it to a staging file of the {@link Deployments} under the same limit.
 *
 * <p>Threading: calls into the services (which may block: an install waits up to {@code wait.seconds} for
 * FileInstall) and file writes run on this class's own pool ({@code parley-http-admin-N}, at most
 * {@value #THREADS} threads, idle ones end after 30 s), never on an event loop. {@link #close} stops the pool.
 * Answers go back to the event loop through the futures returned here.
 */
public final class AdminApi {

    private static final Logger LOG = LoggerFactory.getLogger(AdminApi.class);
    static final int THREADS = 4;
    /** The media types a bundle upload may declare. */
    static final List<String> JAR_TYPES = List.of("application/java-archive", "application/octet-stream",
            "application/x-java-archive", "application/zip");

    /** A bundle upload admitted at its head: passed on in its place, followed by its body's contents. */
    record BundleUpload(String name, String uri, boolean keepAlive, boolean expectContinue, long maxBytes,
                        Deployments deployments) {
    }

    private final AtomicReference<ServerAdmin> admin = new AtomicReference<>();
    private final AtomicReference<Deployments> deployments = new AtomicReference<>();
    private final ThreadPoolExecutor pool;

    AdminApi() {
        AtomicInteger n = new AtomicInteger();
        pool = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "parley-http-admin-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
    }

    void bindAdmin(ServerAdmin a) {
        admin.set(a);
    }

    void unbindAdmin(ServerAdmin a) {
        admin.compareAndSet(a, null);
    }

    void bindDeployments(Deployments d) {
        deployments.set(d);
    }

    void unbindDeployments(Deployments d) {
        deployments.compareAndSet(d, null);
    }

    /**
     * Stops the pool and interrupts what runs on it (an install waiting for FileInstall ends at once; its jar is
     * already in deploy/ or deleted), so no thread of this bundle outlives it.
     */
    void close() {
        pool.shutdownNow();
    }

    /** @return true for the endpoints answered here */
    static boolean handles(Router.Endpoint e) {
        return switch (e) {
            case SESSIONS, STORES, STATS, BUNDLES, PUT_BUNDLE, DELETE_BUNDLE -> true;
            default -> false;
        };
    }

    /** Runs {@code task} on the pool; a refusal of the pool (stopping) is a retryable 503. */
    <T> CompletableFuture<T> async(Supplier<T> task) {
        try {
            return CompletableFuture.supplyAsync(task, pool);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(ApiException.unavailable("the HTTP API is stopping"));
        }
    }

    /** Runs {@code task} on the pool after {@code before}. */
    CompletableFuture<Void> after(CompletableFuture<?> before, Runnable task) {
        try {
            return before.thenRunAsync(task, pool);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(ApiException.unavailable("the HTTP API is stopping"));
        }
    }

    // ------------------------------------------------------------------------------------------------ GET, DELETE

    /** Answers every endpoint of {@link #handles} but the PUT (whose body arrives through {@link BundleUploadHandler}). */
    CompletableFuture<BlobService.Reply> handle(Router.Match match, ApiService.Call call) {
        return async(() -> switch (match.endpoint()) {
            case SESSIONS -> ok(sessions(call.query("user")));
            case STORES -> ok(Map.of("stores", admin().stores().stream().map(AdminApi::store).toList()));
            case STATS -> ok(stats(admin().stats()));
            case BUNDLES -> ok(bundles());
            case DELETE_BUNDLE -> remove(match.param("name"));
            default -> throw ApiException.internal("not an admin endpoint: " + match.endpoint());
        });
    }

    private ServerAdmin admin() {
        ServerAdmin a = admin.get();
        if (a == null) {
            throw ApiException.unavailable("the Parley core is not running (no ServerAdmin service)");
        }
        return a;
    }

    private Deployments deployments() {
        Deployments d = deployments.get();
        if (d == null) {
            throw ApiException.unavailable("bundle management is not running (system/parley-admin: no Deployments "
                    + "service)");
        }
        return d;
    }

    private Object sessions(String user) {
        if (user != null && !io.parley.core.api.Ids.isValidId(user)) {
            throw ApiException.invalid("user is not a valid id");
        }
        List<Map<String, Object>> out = admin().sessions(user).stream().map(AdminApi::session).toList();
        return Map.of("sessions", out);
    }

    private static Map<String, Object> session(SessionInfo s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("user", s.user());
        m.put("device", s.device());
        m.put("transport", s.transport());
        m.put("remote_address", s.remoteAddress());
        m.put("since", s.sinceMillis());
        m.put("idle_ms", s.idleMillis());
        m.put("session_id", s.sessionId());
        return m;
    }

    private static Map<String, Object> store(StoreInfo s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", s.kind());
        m.put("name", s.name());
        m.put("in_use", s.inUse());
        m.put("health", s.health());
        m.put("bundle", s.bundle());
        m.put("bundle_version", s.bundleVersion());
        return m;
    }

    private static Map<String, Object> stats(Stats s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("started", s.startedMillis());
        m.put("uptime_ms", s.uptimeMillis());
        m.put("sessions", s.sessionsByTransport().values().stream().mapToInt(Integer::intValue).sum());
        m.put("sessions_by_transport", s.sessionsByTransport());
        m.put("users_online", s.usersOnline());
        m.put("store", s.store());
        m.put("problems", s.problems());
        m.put("queues", s.queues());
        return m;
    }

    private Object bundles() {
        List<Map<String, Object>> out = deployments().bundles().stream().map(b -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", b.id());
            m.put("symbolic_name", b.symbolicName());
            m.put("version", b.version());
            m.put("state", b.state());
            m.put("area", b.area());
            m.put("removable", b.removable());
            m.put("file", b.file());
            return m;
        }).toList();
        return Map.of("bundles", out);
    }

    private BlobService.Reply remove(String name) {
        try {
            return result(deployments().remove(name));
        } catch (DeploymentException e) {
            throw refusal(e);
        }
    }

    // ------------------------------------------------------------------------------------------------ PUT

    /**
     * Judges a bundle upload's head (the admin token is already checked).
     *
     * @return a {@link BundleUpload} to pass on, or the {@link ApiException} to answer
     */
    Object admitUpload(HttpRequest request, String name) {
        Deployments d = deployments.get();
        if (d == null) {
            return ApiException.unavailable("bundle management is not running (system/parley-admin: no Deployments "
                    + "service)");
        }
        if (name == null || !name.matches("[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}") || name.contains("..")) {
            return ApiException.invalid("invalid bundle name: a symbolic name of letters, digits, '.', '_' and '-'");
        }
        String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
        String bare = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        if (!JAR_TYPES.contains(bare)) {
            return new ApiException(415, "UNSUPPORTED_MEDIA_TYPE", "the bundle must be sent as Content-Type: "
                    + "application/java-archive", false, 0);
        }
        long max = d.maxBundleBytes();
        long declared = HttpUtil.getContentLength(request, -1L);
        if (declared < 0 && !HttpUtil.isTransferEncodingChunked(request)) {
            return new ApiException(411, "INVALID_REQUEST", "send Content-Length (or a chunked body)", false, 0);
        }
        if (declared > max) {
            return ApiException.bodyTooLarge("the jar has " + declared + " bytes; at most " + max
                    + " are accepted (max.bundle.bytes in conf/parley.admin.cfg)");
        }
        boolean expect = HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(request.headers().get(HttpHeaderNames.EXPECT));
        return new BundleUpload(name, request.uri(), HttpUtil.isKeepAlive(request), expect, max, d);
    }

    /** Installs the uploaded {@code jar} (on the pool, blocking up to the wait) and maps the outcome. */
    BlobService.Reply install(BundleUpload upload, Path jar) {
        try {
            return result(upload.deployments().install(jar, upload.name()));
        } catch (DeploymentException e) {
            throw refusal(e);
        }
    }

    private static BlobService.Reply ok(Object json) {
        return new BlobService.Reply(200, Map.of(), json, null);
    }

    /** ok: 200 with the result; installed but not started: 422 BUNDLE_NOT_STARTED; FileInstall did not act: 504. */
    static BlobService.Reply result(DeployResult r) {
        if (!r.ok()) {
            LOG.warn("Admin API: {} is {}: {}", r.name(), r.state(), r.message());
            if (r.state().equals("PENDING")) {
                throw new ApiException(504, "TIMEOUT", r.message(), false, 0);
            }
            throw new ApiException(422, "BUNDLE_NOT_STARTED", r.message(), false, 0);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", r.name());
        m.put("version", r.version());
        m.put("state", r.state());
        m.put("message", r.message());
        return ok(m);
    }

    /** A refused deployment as an API error with a stable code. */
    static ApiException refusal(DeploymentException e) {
        LOG.info("Admin API: deployment refused: {} {}", e.reason(), e.getMessage());
        return switch (e.reason()) {
            case INVALID_BUNDLE -> new ApiException(400, "INVALID_BUNDLE", e.getMessage(), false, 0);
            case NAME_MISMATCH -> new ApiException(400, "NAME_MISMATCH", e.getMessage(), false, 0);
            case INVALID_NAME -> ApiException.invalid(e.getMessage());
            case SYSTEM_BUNDLE -> new ApiException(403, "SYSTEM_BUNDLE", e.getMessage(), false, 0);
            case TOO_LARGE -> ApiException.bodyTooLarge(e.getMessage());
            case NOT_FOUND -> ApiException.notFound(e.getMessage());
            case IO -> ApiException.internal(e.getMessage());
        };
    }
}
