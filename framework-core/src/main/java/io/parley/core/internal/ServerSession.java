package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.Connection;
import io.parley.core.spi.InboundSession;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The core's view of one connection. Frames are handled on the engine's workers strictly one at a time and in
 * arrival order: the next frame starts only when the previous one is <em>admitted</em> (for a send: handed to the
 * store, which keeps submission order), so a client's pipelined sends keep their order in the conversation.
 */
final class ServerSession implements InboundSession {
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private final Engine engine;
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

    ServerSession(Engine engine, Connection connection, Executor workers, int maxPending, String sessionId) {
        this.engine = engine;
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
        if (pending.get() >= maxPending) {
            send(error(frame.getRequestId(), new ParleyException(ErrorCode.ERROR_CODE_RATE_LIMITED,
                    "too many requests in flight on this connection", true)));
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
                admitted.whenComplete((v, e) -> {
                    if (pending.decrementAndGet() > 0) {
                        workers.execute(this::drain);
                    }
                });
                return;
            }
        } while (pending.decrementAndGet() > 0);
    }

    private CompletableFuture<Void> handle(Frame frame) {
        if (closed.get()) {
            return DONE;
        }
        try {
            return engine.handle(this, frame).toCompletableFuture();
        } catch (ParleyException e) {
            engine.reject(this, frame.getRequestId(), e);
            return DONE;
        } catch (RuntimeException e) {
            engine.internalError(this, frame, e);
            return DONE;
        }
    }

    @Override
    public void onClosed() {
        if (closed.compareAndSet(false, true)) {
            cancelExpiry();
            engine.sessionClosed(this);
        }
    }

    @Override
    public boolean isAuthenticated() {
        return principal != null;
    }

    boolean isClosed() {
        return closed.get();
    }

    Principal principal() {
        return principal;
    }

    void authenticated(Principal p) {
        this.principal = p;
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

    void send(Frame frame) {
        if (!closed.get()) {
            connection.send(frame);
        }
    }

    CompletionStage<Void> sendFlushed(Frame frame) {
        return closed.get() ? CompletableFuture.failedFuture(new IllegalStateException("session closed"))
                : connection.sendFlushed(frame);
    }

    /** Sends the error (if any) and closes the connection; the transport then calls {@link #onClosed()}. */
    void close(Frame errorFrame, Notice notice) {
        if (errorFrame != null) {
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
