package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Notice;
import io.parley.core.spi.auth.Authenticator;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.transport.Connection;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A session's life: opening it for a connection, the hello (protocol version, device id, the {@link Authenticator}),
 * registering it in the {@link SessionRegistry} so deliveries find it, ending it when its token expires, forgetting it
 * when it closes, and telling every client to reconnect when the core stops. Owns the bound authenticator and the
 * "stopping" state.
 *
 * <p>With a cluster link bound, every registered session is announced to it ({@link ClusterLink#sessionOpened}, once
 * per session and link; the hello is answered when the link confirms, or after {@code cluster.route.timeout.millis})
 * and withdrawn when it closes. With {@code one.session.per.device}, a hello closes the older sessions of the same
 * user and device, here and (through the link) on other nodes, with {@code KIND_KICKED}.
 *
 * <p>Threading: {@link #open} runs on a transport's thread, {@link #hello} on a core worker (or, after waiting for the
 * store and the authenticator, on the timer then a worker); all methods are thread-safe and never block.
 */
@Singleton
final class Sessions {
    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    private static final long AVAILABLE_POLL_MILLIS = 20;

    private final EngineConfig config;
    private final ExecutorService workers;
    /** Where sessions drain their frames: the workers, one wake-up per burst ({@link Coalescing}). */
    private final Executor sessionDrains;
    private final ScheduledExecutorService timer;
    private final SessionRegistry registry;
    private final CurrentStore store;
    private final CurrentLink link;
    private final SessionListeners listeners;
    private final LoginPolicy loginPolicy;
    private final AtomicLong sessionCounter = new AtomicLong();
    /** The last start time handed out: wall-clock ms, made strictly increasing on this node. */
    private final AtomicLong startClock = new AtomicLong();
    private volatile Authenticator authenticator;
    private volatile boolean stopping;

    @Inject
    Sessions(EngineConfig config, @Named("workers") ExecutorService workers, ScheduledExecutorService timer,
             SessionRegistry registry, CurrentStore store, CurrentLink link, SessionListeners listeners,
             LoginPolicy loginPolicy) {
        this.config = config;
        this.workers = workers;
        this.sessionDrains = new Coalescing(workers, EngineModule.workerCount(config));
        this.timer = timer;
        this.registry = registry;
        this.store = store;
        this.link = link;
        this.listeners = listeners;
        this.loginPolicy = loginPolicy;
    }

    void authenticator(Authenticator a) {
        this.authenticator = a;
    }

    /** @return the bound authenticator, or null while none is */
    Authenticator authenticator() {
        return authenticator;
    }

    /** A new session for {@code connection}, feeding its frames to {@code handler}; closed at once when stopping. */
    ServerSession open(Connection connection, ServerSession.Handler handler) {
        ServerSession session = new ServerSession(handler, connection, sessionDrains, config.session_max_pending(),
                config.node_id() + "-s" + Long.toString(sessionCounter.incrementAndGet(), 36));
        if (stopping) {
            session.close(null, reconnectNotice("server is stopping"));
        }
        return session;
    }

    /** A session for a trusted in-process caller, authenticated as {@code principal} without a hello. */
    ServerSession openAuthenticated(Connection connection, ServerSession.Handler handler, Principal principal) {
        ServerSession session = open(connection, handler);
        session.trusted();
        session.authenticated(principal); // not registered: a trusted caller gets responses, not deliveries
        return session;
    }

    /**
     * Answers a hello once the authenticator and the store are bound (see {@link #whenAvailable}).
     *
     * @return completed when the hello has been answered (the session's next frame, typically its resume, starts then)
     */
    CompletionStage<Void> hello(ServerSession session, long rid, Hello hello) {
        return whenAvailable(() -> authenticator != null && store.get() != null, () -> authenticate(session, rid, hello));
    }

    /**
     * Runs {@code action} once {@code available} holds, waiting (without blocking a thread) at most
     * {@code wait.available.millis} — so a hello that arrives while the authenticator or the store is starting or being
     * swapped is answered when it is back instead of being refused; after the wait the action runs anyway and reports
     * what is missing.
     *
     * @return completed when the action's stage has completed
     */
    private CompletionStage<Void> whenAvailable(BooleanSupplier available, Supplier<CompletionStage<Void>> action) {
        if (available.getAsBoolean() || stopping) {
            return action.get();
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.wait_available_millis());
        Runnable[] poll = new Runnable[1];
        poll[0] = () -> {
            if (available.getAsBoolean() || stopping || System.nanoTime() >= deadline) {
                workers.execute(() -> {
                    try {
                        action.get().whenComplete((v, e) -> done.complete(null));
                    } catch (RuntimeException e) {
                        done.complete(null);
                        throw e;
                    }
                });
            } else {
                timer.schedule(poll[0], AVAILABLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
            }
        };
        try {
            timer.schedule(poll[0], AVAILABLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) { // stopping
            return action.get();
        }
        return done;
    }

    /** @return completed when the hello has been answered */
    private CompletionStage<Void> authenticate(ServerSession session, long rid, Hello hello) {
        ParleyException refusal = null;
        Principal principal = null;
        if (hello.getProtocolVersion() != 1) {
            refusal = new ParleyException(ErrorCode.ERROR_CODE_PROTOCOL_VERSION,
                    "protocol version " + hello.getProtocolVersion() + " is not supported; this server speaks 1");
        } else if (!Ids.isValidId(hello.getDeviceId())) {
            refusal = new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "hello needs a valid device_id");
        } else if (hello.getDeviceId().equals(Ids.HTTP_API_DEVICE)) {
            refusal = new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "device_id " + Ids.HTTP_API_DEVICE + " is reserved for the HTTP API");
        } else {
            Authenticator auth = authenticator;
            if (auth == null) {
                refusal = new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "no authenticator is running", true);
            } else {
                try {
                    principal = auth.authenticate(hello.getToken(), hello.getDeviceId());
                } catch (ParleyException e) {
                    refusal = e;
                } catch (RuntimeException e) {
                    LOG.error("Authenticator failed", e);
                    refusal = new ParleyException(ErrorCode.ERROR_CODE_INTERNAL, "authentication failed");
                }
            }
        }
        if (refusal != null) {
            LOG.info("Refusing hello from {}: {}", session.connection().remoteAddress(), refusal.toString());
            session.close(ServerSession.error(rid, refusal), null);
            return DONE;
        }
        session.authenticated(principal);
        session.started(nextStart());
        boolean first = !registry.hasDevice(session.userId(), session.deviceId());
        registry.add(session);
        if (session.isClosed()) { // closed while authenticating
            registry.remove(session);
            return DONE;
        }
        if (first) {
            listeners.opened(session.userId(), session.deviceId());
        }
        LOG.debug("{} authenticated", session);
        if (config.one_session_per_device()) {
            kickOlder(session);
        }
        loginPolicy.admitted(session); // max.devices.per.user: the longest signed-in device goes
        scheduleExpiry(session, principal);
        ClusterLink cluster = link.get();
        if (cluster == null) {
            helloOk(session, rid, principal);
            return DONE;
        }
        // answered once other nodes route to this session (bounded): a resume that starts after the answer then
        // finds every message stored before it, and live routing every message stored after it
        Principal accepted = principal;
        return link.within(announce(session, cluster), null, "sessionOpened")
                .thenRun(() -> helloOk(session, rid, accepted));
    }

    private void helloOk(ServerSession session, long rid, Principal principal) {
        session.send(Frame.newBuilder().setRequestId(rid).setHelloOk(HelloOk.newBuilder()
                .setUserId(principal.userId()).setDeviceId(principal.deviceId()).setSessionId(session.sessionId())
                .setServerTime(System.currentTimeMillis()).setHeartbeatSeconds(config.heartbeat_seconds())
                .setMaxFrameBytes(config.max_frame_bytes())).build());
    }

    /** @return a wall-clock ms value greater than every one handed out before on this node */
    private long nextStart() {
        long now = System.currentTimeMillis();
        return startClock.accumulateAndGet(now, (previous, wall) -> Math.max(previous + 1, wall));
    }

    /** Announces {@code session} to {@code cluster} unless it was already, or has closed. */
    private CompletionStage<Void> announce(ServerSession session, ClusterLink cluster) {
        if (!session.announceTo(cluster)) {
            return DONE;
        }
        return link.sessionOpened(cluster, session.userId(), session.deviceId());
    }

    /** A link was bound: announces every session already registered to it (sessions announced meanwhile are skipped). */
    void announceAll(ClusterLink cluster) {
        for (ServerSession s : registry.all()) {
            announce(s, cluster);
        }
    }

    /** {@code one.session.per.device}: the device's older sessions here and on other nodes are kicked. */
    private void kickOlder(ServerSession session) {
        kick(session.userId(), session.deviceId(), session.startedAt(), "signed in again on this device");
        ClusterLink cluster = link.get();
        if (cluster != null) {
            link.kick(cluster, session.userId(), session.deviceId(), session.startedAt());
        }
    }

    /** Closes with KIND_KICKED the sessions of {@code user} on {@code device} on this node started before {@code before}. */
    void kick(String user, String device, long before, String why) {
        for (ServerSession s : registry.sessions(user)) {
            if (s.deviceId().equals(device) && s.startedAt() < before) {
                LOG.info("Kicking {}: {}", s, why);
                s.close(null, Notice.newBuilder().setKind(Notice.Kind.KIND_KICKED).setText(why).build());
            }
        }
    }

    /**
     * Ends the session when the token it logged in with expires: a {@code KIND_TOKEN_EXPIRED} notice, then the
     * connection closes, so the client reconnects with a fresh token (the SDK asks its token provider). Without this a
     * session would outlive its credential for as long as the connection lasts.
     */
    private void scheduleExpiry(ServerSession session, Principal principal) {
        long delayMillis = Math.max(0, principal.expiresAt().toEpochMilli() - System.currentTimeMillis());
        try {
            session.expiresWith(timer.schedule(() -> {
                LOG.info("Closing {}: its token expired at {}", session, principal.expiresAt());
                session.close(null, Notice.newBuilder().setKind(Notice.Kind.KIND_TOKEN_EXPIRED)
                        .setText("token expired at " + principal.expiresAt() + "; reconnect with a fresh token")
                        .build());
            }, delayMillis, TimeUnit.MILLISECONDS));
        } catch (RejectedExecutionException e) {
            // stopping: every session is being closed anyway
        }
    }

    /** The session's connection closed: deliveries no longer look for it. */
    void closed(ServerSession session) {
        if (session.isAuthenticated()) {
            registry.remove(session);
            if (!session.isTrusted() && !registry.hasDevice(session.userId(), session.deviceId())) {
                listeners.closed(session.userId(), session.deviceId());
            }
            Object announced = session.withdraw();
            ClusterLink cluster = link.get();
            if (announced != null && announced == cluster) {
                link.sessionClosed(cluster, session.userId(), session.deviceId());
            }
            LOG.debug("{} closed", session);
        }
    }

    /** From now on new connections are told to reconnect, and a hello waiting for the store or authenticator stops waiting. */
    void stopping() {
        stopping = true;
    }

    /** Tells every registered session to reconnect (the core is stopping) and closes it. */
    void closeAll() {
        closeAll("server is stopping");
    }

    /** Tells every registered session to reconnect, giving {@code reason}, and closes it. */
    void closeAll(String reason) {
        for (ServerSession s : registry.all()) {
            s.close(null, reconnectNotice(reason));
        }
    }

    private static Notice reconnectNotice(String text) {
        return Notice.newBuilder().setKind(Notice.Kind.KIND_RECONNECT).setText(text).setReconnectAfterMs(1000).build();
    }
}
