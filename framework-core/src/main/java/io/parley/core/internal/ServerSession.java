package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The core's view of one connection. Frames are handled on the engine's workers strictly one at a time and in
 * arrival order: the next frame starts only when the previous one is <em>admitted</em> (for a send: handed to the
 * store, which keeps submission order), so a client's pipelined sends keep their order in the conversation. A frame
 * that arrives while nothing is queued or in progress may instead be handled at once on the connection's event loop
 * ({@link Handler#handleNow}: delivery acks that need no store read, sends of pure types), which saves the hand-off
 * to a worker.
 */
final class ServerSession implements InboundSession {
    private static final Logger LOG = LoggerFactory.getLogger(ServerSession.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    /** {@link #announcedTo} once the session closed: it is announced to no link any more. */
    private static final Object WITHDRAWN = new Object();

    /** Where a session's frames go: the engine's router ({@code Engine}). A session sees nothing else of the engine. */
    interface Handler {
        /**
         * Handles one frame of an open session, on a core worker.
         *
         * @return completed when the frame is admitted (the session's next frame starts then)
         * @throws ParleyException answered to the client as the request's error
         */
        CompletionStage<Void> handle(ServerSession session, Frame frame);

        /**
         * Handles a frame on the connection's event loop, if it is one that can be handled there without blocking;
         * called only when the session has no frame queued or in progress, so frame order is kept.
         *
         * @return completed when the frame is admitted, as {@link #handle}'s (normally at once; the session's next
         *         frames wait for it otherwise); null, having done nothing, to have it queued for {@link #handle}
         * @throws ParleyException answered to the client as the request's error
         */
        default CompletionStage<Void> handleNow(ServerSession session, Frame frame) {
            return null;
        }

        /** The connection closed; called once. */
        void closed(ServerSession session);

        /** An error frame with {@code code} is being sent to the client (metrics); must be cheap and not throw. */
        default void rejected(io.parley.core.proto.ErrorCode code) {
        }
    }

    private final Handler handler;
    private final Connection connection;
    private final Executor workers;
    private final int maxPending;
    private final String sessionId;
    private final ConcurrentLinkedQueue<Frame> inbox = new ConcurrentLinkedQueue<>();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Principal principal;
    /** Closes the session when its token expires; null for trusted sessions and before hello. */
    private volatile ScheduledFuture<?> expiry;
    /** When the hello was accepted, node-monotonic wall-clock ms (see {@code Sessions}); 0 before. */
    private volatile long startedAt;
    /** When the last frame arrived from the client (epoch ms; 0 before the first), for the admin's idle time. */
    private volatile long lastInboundMillis;
    /** The cluster link this session was announced to, null if none, {@link #WITHDRAWN} once it closed. */
    private final AtomicReference<Object> announcedTo = new AtomicReference<>();
    /**
     * While a resume streams: conversation → the highest seq a live delivery brought meanwhile (0: none), for every
     * conversation whose live deliveries are held back so that the device gets each conversation in seq order (the
     * resume sends the held ones in its pages). Guarded by itself.
     */
    private final Map<String, Long> resuming = new HashMap<>();
    /** True while a resume runs; {@code holdAll} until it knows which conversations it streams. Guarded by resuming. */
    private boolean resumeRunning;
    private boolean holdAll;
    /** Fast path for {@link #deliver}: false when no resume runs (written under the lock). */
    private volatile boolean holding;

    ServerSession(Handler handler, Connection connection, Executor workers, int maxPending, String sessionId) {
        this.handler = handler;
        this.connection = connection;
        this.workers = workers;
        this.maxPending = maxPending;
        this.sessionId = sessionId;
    }

    @Override
    public void onFrame(Frame frame) {
        if (closed.get()) {
            return;
        }
        lastInboundMillis = System.currentTimeMillis();
        if (pending.get() >= maxPending) {
            send(error(frame.getRequestId(), new ParleyException(ErrorCode.ERROR_CODE_RATE_LIMITED,
                    "too many requests in flight on this connection", true)));
            return;
        }
        if (pending.get() == 0 && handledNow(frame)) {
            return;
        }
        inbox.add(frame);
        if (pending.getAndIncrement() == 0) {
            workers.execute(this::drain);
        }
    }

    private void drain() {
        do {
            Frame frame = inbox.poll();
            CompletableFuture<Void> admitted = handle(frame);
            if (!admitted.isDone()) {
                drainAfter(admitted);
                return;
            }
        } while (pending.decrementAndGet() > 0);
    }

    /** When the frame in progress is admitted: it is done, and the frames queued behind it drain on a worker. */
    private void drainAfter(CompletableFuture<Void> admitted) {
        admitted.whenComplete((v, e) -> {
            if (pending.decrementAndGet() > 0) {
                workers.execute(this::drain);
            }
        });
    }

    /**
     * Event loop, while nothing is queued or in progress: see {@link Handler#handleNow}; a failure is answered like
     * one on a worker. A frame admitted later holds the session's next frames back as one on a worker would.
     *
     * @return true if the frame was handled here
     */
    private boolean handledNow(Frame frame) {
        CompletionStage<Void> admission;
        try {
            admission = handler.handleNow(this, frame);
        } catch (RuntimeException e) {
            answerFailure(frame, e);
            return true;
        }
        if (admission == null) {
            return false;
        }
        CompletableFuture<Void> admitted = admission.toCompletableFuture();
        if (!admitted.isDone()) {
            pending.incrementAndGet(); // 0 -> 1: frames arriving meanwhile queue up, and the admission drains them
            drainAfter(admitted);
        }
        return true;
    }

    private CompletableFuture<Void> handle(Frame frame) {
        if (closed.get() && !survivesClose(frame)) {
            return DONE;
        }
        try {
            return handler.handle(this, frame).toCompletableFuture();
        } catch (RuntimeException e) {
            answerFailure(frame, e);
            return DONE;
        }
    }

    /** A {@link ParleyException} is the request's error; anything else is logged and answered INTERNAL. */
    private void answerFailure(Frame frame, RuntimeException e) {
        if (e instanceof ParleyException refused) {
            reject(frame.getRequestId(), refused);
        } else {
            LOG.error("{}: internal error on {}", this, frame.getOpCase(), e);
            send(error(frame.getRequestId(), ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
        }
    }

    /**
     * Acknowledgements and read marks a client sent just before it closed (or half-closed) the connection are still
     * applied: they only move the device's own state, and dropping them would make the device get those messages
     * again and show them unread.
     */
    private boolean survivesClose(Frame frame) {
        return isAuthenticated() && (frame.getOpCase() == Frame.OpCase.DELIVER_ACK
                || frame.getOpCase() == Frame.OpCase.MARK_READ);
    }

    @Override
    public void onClosed() {
        if (closed.compareAndSet(false, true)) {
            cancelExpiry();
            handler.closed(this);
        }
    }

    @Override
    public boolean isAuthenticated() {
        return principal != null;
    }

    boolean isClosed() {
        return closed.get();
    }

    private volatile boolean trusted;
    /** Set once the session is kicked (its close is on the way); see {@link LoginPolicy}. */
    private final AtomicBoolean kicked = new AtomicBoolean();
    /** This session's rate-limit buckets ({@link Limits}); null until its first limited frame. Guarded by this. */
    private Limits.SessionBuckets limitBuckets;

    /** @return this session's rate-limit buckets, created by {@code create} on first use */
    synchronized Limits.SessionBuckets limitBuckets(java.util.function.Supplier<Limits.SessionBuckets> create) {
        if (limitBuckets == null) {
            limitBuckets = create.get();
        }
        return limitBuckets;
    }

    /** @return true if this call marked the session kicked, false if it already was */
    boolean markKicked() {
        return kicked.compareAndSet(false, true);
    }

    /** @return true once the session was kicked; it closes soon */
    boolean kicked() {
        return kicked.get();
    }

    /**
     * Refuses the connection before any frame: sends {@code errorFrame}, closes it, and drops whatever frames still
     * arrive (the transport's later {@link #onClosed()} is then a no-op).
     */
    void refuse(Frame errorFrame) {
        if (closed.compareAndSet(false, true)) {
            handler.rejected(errorFrame.getError().getCode());
            connection.send(errorFrame);
            connection.close(null);
        }
    }

    Principal principal() {
        return principal;
    }

    void authenticated(Principal p) {
        this.principal = p;
    }

    /** Marks the session as opened by a trusted in-process adapter (the HTTP API); set once, before any frame. */
    void trusted() {
        this.trusted = true;
    }

    /** @return true if a trusted in-process adapter opened the session (no device, no hello) */
    boolean isTrusted() {
        return trusted;
    }

    /** Sets the task that ends the session when its token expires; cancelled when the session closes. */
    void expiresWith(ScheduledFuture<?> task) {
        this.expiry = task;
        if (closed.get()) {
            cancelExpiry();
        }
    }

    private void cancelExpiry() {
        ScheduledFuture<?> task = expiry;
        if (task != null) {
            task.cancel(false);
        }
    }

    /** Records when the hello was accepted; set once, before the session is registered. */
    void started(long millis) {
        this.startedAt = millis;
    }

    /** @return when the last frame arrived from the client (epoch ms), 0 before the first; for admin listings */
    long lastInboundMillis() {
        return lastInboundMillis;
    }

    /** @return frames received and not yet handled (a snapshot; 0: the next may be handled on the event loop) */
    int pendingFrames() {
        return pending.get();
    }

    /** @return when the hello was accepted (ms, as set by {@link #started}); 0 before */
    long startedAt() {
        return startedAt;
    }

    /**
     * Marks the session as announced to {@code link}.
     *
     * @return true if the caller is to announce it: it was not announced to this link yet and has not closed
     */
    boolean announceTo(Object link) {
        while (true) {
            Object current = announcedTo.get();
            if (current == WITHDRAWN || current == link) {
                return false;
            }
            if (announcedTo.compareAndSet(current, link)) {
                return true;
            }
        }
    }

    /**
     * The session closed: it is announced to no link from now on.
     *
     * @return the link it was announced to (the caller withdraws it there), or null
     */
    Object withdraw() {
        Object previous = announcedTo.getAndSet(WITHDRAWN);
        return previous == WITHDRAWN ? null : previous;
    }

    String userId() {
        return principal.userId();
    }

    String deviceId() {
        return principal.deviceId();
    }

    String sessionId() {
        return sessionId;
    }

    Connection connection() {
        return connection;
    }

    /**
     * A live delivery of {@code conversation} up to {@code seq}: sent now, unless a resume is streaming that
     * conversation, which then sends it in order (see {@link #resuming}).
     */
    void deliver(Frame deliver, String conversation, long seq) {
        if (holding && seq > 0) { // a relayed message (seq 0) is in no resume: never held
            synchronized (resuming) {
                if (holdAll || resuming.containsKey(conversation)) {
                    resuming.merge(conversation, seq, Math::max);
                    return;
                }
            }
        }
        send(deliver);
    }

    /**
     * Starts holding back every live delivery until {@link #resumeTargets}.
     *
     * @return false if a resume is already running on this session
     */
    boolean beginResume() {
        synchronized (resuming) {
            if (resumeRunning) {
                return false;
            }
            resumeRunning = true;
            holdAll = true;
            holding = true;
            return true;
        }
    }

    /**
     * The resume knows what it streams: conversation → the last seq it will send. Live deliveries of those stay
     * held; conversations that live deliveries brought since {@link #beginResume} are added to {@code targets} (with
     * the held seq), so the resume streams them too; all others go out live from now on.
     */
    void resumeTargets(Map<String, Long> targets) {
        synchronized (resuming) {
            holdAll = false;
            resuming.forEach((conversation, held) -> targets.merge(conversation, held, Math::max));
            resuming.clear();
            targets.keySet().forEach(c -> resuming.put(c, 0L));
            holding = !resuming.isEmpty();
            if (!holding) {
                resumeRunning = false;
            }
        }
    }

    /**
     * The resume has sent {@code conversation} up to {@code sentUpTo}.
     *
     * @return a higher seq that live deliveries brought meanwhile (stream on to it and ask again), or 0 when the
     *         conversation is done and its live deliveries go out directly from now on
     */
    long resumeReached(String conversation, long sentUpTo) {
        synchronized (resuming) {
            Long held = resuming.get(conversation);
            if (held == null) {
                return 0;
            }
            if (held > sentUpTo) {
                resuming.put(conversation, 0L);
                return held;
            }
            resuming.remove(conversation);
            if (resuming.isEmpty()) {
                holding = false;
                resumeRunning = false;
            }
            return 0;
        }
    }

    /** The resume ended early (failed, or the session closed): live deliveries go out directly again. */
    void resumeAbandoned() {
        synchronized (resuming) {
            resuming.clear();
            holdAll = false;
            holding = false;
            resumeRunning = false;
        }
    }

    void send(Frame frame) {
        if (!closed.get()) {
            if (frame.getOpCase() == Frame.OpCase.ERROR) {
                handler.rejected(frame.getError().getCode());
            }
            connection.send(frame);
        }
    }

    /** Answers request {@code requestId} with the error {@code e} (the request is refused, not failed). */
    void reject(long requestId, ParleyException e) {
        LOG.debug("{}: request {} refused: {}", this, requestId, e);
        send(error(requestId, e));
    }

    CompletionStage<Void> sendFlushed(Frame frame) {
        return closed.get() ? CompletableFuture.failedFuture(new IllegalStateException("session closed"))
                : connection.sendFlushed(frame);
    }

    /** Sends the error (if any) and closes the connection; the transport then calls {@link #onClosed()}. */
    void close(Frame errorFrame, Notice notice) {
        if (errorFrame != null) {
            handler.rejected(errorFrame.getError().getCode());
            connection.send(errorFrame);
        }
        connection.close(notice);
    }

    static Frame error(long requestId, ParleyException e) {
        return Frame.newBuilder().setRequestId(requestId).setError(e.toError()).build();
    }

    static Frame error(long requestId, ErrorCode code, String message) {
        return Frame.newBuilder().setRequestId(requestId)
                .setError(Error.newBuilder().setCode(code).setMessage(message)).build();
    }

    @Override
    public String toString() {
        Principal p = principal;
        return "session " + sessionId + (p == null ? "" : " " + p.userId() + "/" + p.deviceId()) + " via "
                + connection.transport() + " " + connection.remoteAddress();
    }
}
