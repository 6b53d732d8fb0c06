package io.parley.transport.http.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import com.google.protobuf.Descriptors;
import io.parley.core.spi.transport.CommandTypeInfo;
import io.parley.core.spi.transport.MessageTypeInfo;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Runs one protocol request for a user on a trusted core session: {@link Receiver#openAuthenticated} with a
 * {@link Connection} of its own that waits for the answer, feeds the request frame (request id {@value #REQUEST_ID}),
 * and completes with the frame the core answers with. The session is closed ({@link InboundSession#onClosed()},
 * exactly once) as soon as the call is over, so each API call costs one short-lived session: the engine does the
 * authorization, idempotency and ordering exactly as for a client.
 *
 * <p>A call completes exceptionally with an {@link ApiException}: the core's {@code Error} answer (or an
 * {@code Error} about the whole session), {@code UNAVAILABLE} when no {@code Receiver} is bound, the core refuses to
 * open a session, closes it, or goes away mid-call ({@link #receiverGone}), {@code TIMEOUT} when nothing came in
 * time.
 *
 * <p>Threading: any thread; nothing blocks. The result completes on the core's worker thread that answered, on the
 * timer's thread, or on the caller's thread; callers hop to their own executor.
 */
public final class CoreGateway {

    /** The request id of the single request on each session. */
    public static final long REQUEST_ID = 1;
    /** The device id of every API session; stored as {@code sender_device} of the messages the API sends. */
    public static final String DEVICE_ID = Ids.HTTP_API_DEVICE;

    private static final Logger LOG = LoggerFactory.getLogger(CoreGateway.class);

    private final Supplier<Receiver> receiver;
    private final Set<Exchange> inFlight = ConcurrentHashMap.newKeySet();

    /** @param receiver the currently bound core, or null while there is none; read once per call */
    public CoreGateway(Supplier<Receiver> receiver) {
        this.receiver = receiver;
    }

    /** True while a core {@code Receiver} is bound. */
    public boolean coreAvailable() {
        return receiver.get() != null;
    }

    /** The core's catalog of deployed message types; empty without a core. */
    public List<MessageTypeInfo> messageTypes() {
        Receiver core = receiver.get();
        return core == null ? List.of() : core.messageTypes();
    }

    /** Deployed types that name their body message → that message. */
    public Map<String, Descriptors.Descriptor> bodyCatalog() {
        Map<String, Descriptors.Descriptor> out = new HashMap<>();
        for (MessageTypeInfo t : messageTypes()) {
            t.body().ifPresent(d -> out.put(t.type(), d));
        }
        return out;
    }

    /** The core's catalog of deployed commands; empty without a core. */
    public List<CommandTypeInfo> commandTypes() {
        Receiver core = receiver.get();
        return core == null ? List.of() : core.commandTypes();
    }

    /** @return the deployed command {@code type} as the core's catalog describes it, or null if it is not deployed */
    public CommandTypeInfo commandType(String type) {
        for (CommandTypeInfo c : commandTypes()) {
            if (c.type().equals(type)) {
                return c;
            }
        }
        return null;
    }

    /**
     * Kicks {@code user}'s sessions on this node ({@link Receiver#kick}).
     *
     * @return how many sessions were kicked
     * @throws ApiException 503 if no core is bound
     */
    public int kick(String user, String device, String reason) {
        Receiver core = receiver.get();
        if (core == null) {
            throw ApiException.unavailable("the core is not running");
        }
        return core.kick(user, device, reason);
    }

    /** What keeps the core from working (see {@link Receiver#problems()}); one entry if no core is bound. */
    public List<String> problems() {
        Receiver core = receiver.get();
        return core == null ? List.of("the core is not running") : core.problems();
    }

    /**
     * @param user          the acting user; validated like any user id (400 if invalid)
     * @param request       the request; its request id is replaced
     * @param remoteAddress the HTTP client, for the core's logs
     * @param timeout       how long to wait for the answer
     * @param timer         schedules the timeout
     * @return the core's answer with request id {@value #REQUEST_ID}, never an {@code Error} frame; completes
     *         (possibly exceptionally, with the {@link ApiException} wrapped in a
     *         {@link java.util.concurrent.CompletionException}) after the session is closed
     */
    public CompletableFuture<Frame> call(String user, Frame request, String remoteAddress, Duration timeout,
                                         ScheduledExecutorService timer) {
        Receiver core = receiver.get();
        if (core == null) {
            return CompletableFuture.failedFuture(ApiException.unavailable("the core is not running"));
        }
        Principal principal;
        try {
            principal = new Principal(user, DEVICE_ID, Instant.now().plus(timeout));
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(ApiException.from(e));
        }
        Exchange exchange = new Exchange(core, remoteAddress);
        inFlight.add(exchange);
        // the caller sees the outcome only after the session is closed and the call is no longer counted
        CompletableFuture<Frame> done = exchange.result.whenComplete((frame, error) -> {
            inFlight.remove(exchange);
            exchange.closeSession();
        });
        try {
            ScheduledFuture<?> timer0 = timer.schedule(() -> exchange.fail(ApiException.timeout(
                    "the core did not answer within " + timeout.toMillis() + " ms")), timeout.toMillis(),
                    TimeUnit.MILLISECONDS);
            exchange.result.whenComplete((frame, error) -> timer0.cancel(false));
        } catch (RejectedExecutionException e) {
            exchange.fail(ApiException.unavailable("the HTTP API is stopping"));
            return done;
        }
        InboundSession session;
        try {
            session = core.openAuthenticated(exchange, principal);
        } catch (RuntimeException e) {
            LOG.warn("The core refused to open a session for the HTTP API", e);
            exchange.fail(ApiException.unavailable("the core is not ready"));
            return done;
        }
        exchange.opened(session);
        if (!exchange.result.isDone()) {
            try {
                session.onFrame(request.toBuilder().setRequestId(REQUEST_ID).build());
            } catch (RuntimeException e) {
                LOG.error("The core failed on an HTTP API request {}", request.getOpCase(), e);
                exchange.fail(ApiException.internal("internal error"));
            }
        }
        return done;
    }

    /**
     * The core {@code receiver} went away: every call still waiting on it fails with a retryable
     * {@code UNAVAILABLE} instead of waiting for its timeout.
     */
    public void receiverGone(Receiver gone) {
        for (Exchange exchange : inFlight) {
            if (exchange.core == gone) {
                exchange.fail(ApiException.unavailable("the core stopped while answering"));
            }
        }
    }

    /** Calls waiting for the core right now. */
    public int inFlight() {
        return inFlight.size();
    }

    /** The core's side sees this as the connection; it collects nothing but the answer to request 1. */
    private static final class Exchange implements Connection {
        final Receiver core;
        final CompletableFuture<Frame> result = new CompletableFuture<>();
        private final String remoteAddress;
        private final AtomicBoolean sessionClosed = new AtomicBoolean();
        private volatile InboundSession session;

        Exchange(Receiver core, String remoteAddress) {
            this.core = core;
            this.remoteAddress = remoteAddress;
        }

        void opened(InboundSession s) {
            session = s;
            if (result.isDone()) {
                closeSession();
            }
        }

        void fail(ApiException e) {
            result.completeExceptionally(e);
        }

        void closeSession() {
            InboundSession s = session;
            if (s != null && sessionClosed.compareAndSet(false, true)) {
                try {
                    s.onClosed();
                } catch (RuntimeException e) {
                    LOG.warn("The core failed while closing an HTTP API session", e);
                }
            }
        }

        @Override
        public void send(Frame frame) {
            boolean answer = frame.getRequestId() == REQUEST_ID;
            if (frame.hasError() && (answer || frame.getRequestId() == 0)) {
                result.completeExceptionally(ApiException.fromWire(frame.getError()));
            } else if (answer) {
                result.complete(frame);
            }
            // anything else (a relayed notice) is not for this call
        }

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            send(frame);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
            String why = notice == null || notice.getText().isEmpty() ? "the core closed the session" : notice.getText();
            result.completeExceptionally(ApiException.unavailable(why));
            closeSession();
        }

        @Override
        public String transport() {
            return "http";
        }

        @Override
        public String remoteAddress() {
            return remoteAddress;
        }
    }
}
