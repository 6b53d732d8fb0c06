package io.parley.transport.support;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.transport.Connection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.channels.ClosedChannelException;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link Connection} over one Netty channel whose pipeline encodes {@link Frame} objects (each transport adds its
 * own encoder). Subclasses say how big a frame is on the wire and how a connection ends.
 *
 * <p>Writes: on the channel's event loop a frame is written at once and one flush is scheduled for the end of the
 * current run, so a burst costs one system call. From any other thread frames go onto a lock-free queue and a
 * single drain task is scheduled that writes everything queued and flushes once.
 *
 * <p>Outbound memory: the server sets the channel's write-buffer high water mark to {@code outbound.max.bytes}
 * (low mark equal), so Netty's own pending-bytes count (written but not yet accepted by the socket, flushed or not)
 * is visible through {@link Channel#isWritable()} and {@link Channel#bytesBeforeUnwritable()}. Frames still in this
 * connection's queue are counted in {@link #queuedBytes}. When queued plus Netty-pending bytes exceed the limit the
 * client is a slow consumer: what is queued is dropped, {@code Notice.KIND_SLOW_CONSUMER} is written after what
 * Netty already holds (it reaches a client that resumes reading), and the channel is closed at the latest after
 * the close timeout. Memory per connection therefore stays below about the limit plus one frame.
 *
 * <p>Closing: {@link #close(Notice)} and the transport's own error paths ({@link #closeWith}) write a last frame
 * after what is queued, then the transport's ending ({@link #writeFinal}); the channel is closed by then or, at the
 * latest, after the close timeout. Frames sent once closing has begun are dropped; pending {@link #sendFlushed}
 * stages then fail with {@link ClosedChannelException}.
 */
public abstract class NettyConnection implements Connection {

    private static final Logger LOG = LoggerFactory.getLogger(NettyConnection.class);

    private final Channel channel;
    private final EventLoop loop;
    private final String remoteAddress;
    private final long closeTimeoutMillis;

    private final Queue<Object> queue = new ConcurrentLinkedQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;

    /** Event loop only. */
    private boolean flushScheduled;

    private final Runnable flushTask = this::runFlush;
    private final LoopOutbox outbox;

    /** A frame queued by {@link #sendFlushed}, with the stage to complete when it is written. */
    private record Flushed(Frame frame, CompletableFuture<Void> written) {
    }

    /**
     * @param channel            the connection's channel; its pipeline must accept {@link Frame} writes
     * @param closeTimeoutMillis how long a close may take before the channel is closed anyway; 0 closes at once
     *                           without a last frame
     */
    protected NettyConnection(Channel channel, long closeTimeoutMillis) {
        this(channel, closeTimeoutMillis, new LoopOutbox(channel.eventLoop()));
    }

    /**
     * @param outbox the outbox of the channel's event loop ({@link NettyServer#outbox}), shared by the loop's
     *               connections so that cross-thread writes to many of them are drained by one task
     */
    protected NettyConnection(Channel channel, long closeTimeoutMillis, LoopOutbox outbox) {
        if (outbox.loop() != channel.eventLoop()) {
            throw new IllegalArgumentException("the outbox belongs to another event loop");
        }
        this.outbox = outbox;
        this.channel = channel;
        this.loop = channel.eventLoop();
        this.remoteAddress = String.valueOf(channel.remoteAddress()).replaceFirst("^/", "");
        this.closeTimeoutMillis = closeTimeoutMillis;
    }

    /** Bytes {@code frame} occupies on the wire, for the outbound bound. Any thread; must be cheap. */
    protected abstract int wireSize(Frame frame);

    /**
     * Ends the connection: writes {@code lastFrame} (if non-null) and whatever the transport sends last (a close
     * frame, nothing), flushes, and arranges for the channel to be closed when that is done. Called once, on the
     * event loop, while the channel is active. If it leaves the channel open (waiting for the peer), the close
     * timeout closes it.
     */
    protected abstract void writeFinal(Frame lastFrame, CloseReason reason);

    @Override
    public final void send(Frame frame) {
        if (closing.get()) {
            return;
        }
        if (loop.inEventLoop()) {
            writeOnLoop(frame);
        } else {
            enqueue(frame, wireSize(frame));
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>The stage completes on the channel's event loop: continuations that do real work must be attached with an
     * {@code ...Async} method.
     */
    @Override
    public final CompletionStage<Void> sendFlushed(Frame frame) {
        CompletableFuture<Void> written = new CompletableFuture<>();
        if (closing.get()) {
            written.completeExceptionally(new ClosedChannelException());
            return written;
        }
        if (loop.inEventLoop()) {
            writeOnLoop(new Flushed(frame, written));
        } else {
            enqueue(new Flushed(frame, written), wireSize(frame));
        }
        return written;
    }

    /**
     * {@inheritDoc}
     *
     * <p>The close reason follows the notice: {@code KIND_RECONNECT} is {@link CloseReason#GOING_AWAY},
     * {@code KIND_SLOW_CONSUMER} {@link CloseReason#POLICY_VIOLATION}, anything else {@link CloseReason#NORMAL}.
     */
    @Override
    public final void close(Notice notice) {
        CloseReason reason = CloseReason.NORMAL;
        if (notice != null && notice.getKind() == Notice.Kind.KIND_RECONNECT) {
            reason = CloseReason.GOING_AWAY;
        } else if (notice != null && notice.getKind() == Notice.Kind.KIND_SLOW_CONSUMER) {
            reason = CloseReason.POLICY_VIOLATION;
        }
        closeWith(notice == null ? null : Frames.notice(notice), reason, false);
    }

    @Override
    public final String remoteAddress() {
        return remoteAddress;
    }

    /** @return how long a close may take before the channel is closed anyway (ms); 0 closes at once */
    protected final long closeTimeoutMillis() {
        return closeTimeoutMillis;
    }

    /** True once closing has begun (by either side); sends are dropped from then on. */
    public final boolean isClosing() {
        return closing.get();
    }

    /**
     * Bytes this connection holds for the client right now: frames queued here plus what Netty has not yet handed
     * to the socket. For diagnostics and tests; may be read from any thread.
     */
    public final long pendingOutboundBytes() {
        ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
        return queuedBytes.get() + (buffer == null ? 0 : buffer.totalPendingWriteBytes());
    }

    public final Channel channel() {
        return channel;
    }

    /**
     * Begins closing: optionally drops what is queued, writes the rest, then {@code lastFrame} (if non-null) and
     * the transport's ending ({@link #writeFinal}); the channel is closed when that is done or after the close
     * timeout. Idempotent; any thread.
     *
     * @return true if this call began the close, false if it had begun before
     */
    public final boolean closeWith(Frame lastFrame, CloseReason reason, boolean discardQueued) {
        if (!closing.compareAndSet(false, true)) {
            return false;
        }
        if (loop.inEventLoop()) {
            doClose(lastFrame, reason, discardQueued);
        } else {
            try {
                loop.execute(() -> doClose(lastFrame, reason, discardQueued));
            } catch (RejectedExecutionException e) {
                // the event loop is shutting down and closes the channel itself
                discardQueue();
            }
        }
        return true;
    }

    /** Called once when the channel has become inactive: the channel is gone, so is everything still queued. */
    public final void onChannelClosed() {
        closing.set(true);
        closed = true;
        discardQueue();
    }

    private void doClose(Frame lastFrame, CloseReason reason, boolean discardQueued) {
        if (discardQueued) {
            discardQueue();
        } else {
            drainQueue();
        }
        if (!channel.isActive()) {
            channel.close();
            return;
        }
        if (closeTimeoutMillis > 0) {
            ScheduledFuture<?> forced = loop.schedule(
                    () -> { channel.close(); }, closeTimeoutMillis, TimeUnit.MILLISECONDS);
            channel.closeFuture().addListener(f -> forced.cancel(false));
            writeFinal(lastFrame, reason);
        } else {
            channel.close();
        }
    }

    private void enqueue(Object item, int size) {
        queue.add(item);
        long queued = queuedBytes.addAndGet(size);
        if (closed) {
            discardQueue();
            return;
        }
        // queued + Netty-pending > limit  <=>  queued >= bytesBeforeUnwritable (which is limit - pending + 1)
        if (channel.isActive() && queued >= channel.bytesBeforeUnwritable()) {
            slowConsumer();
            return;
        }
        if (drainScheduled.compareAndSet(false, true) && !outbox.register(this)) {
            discardQueue();
        }
    }

    /** Event loop only: writes after whatever other threads queued before, and schedules the flush. */
    private void writeOnLoop(Object item) {
        if (!queue.isEmpty()) {
            drainQueue();
        }
        if (closing.get()) {
            drop(item);
            return;
        }
        write(item);
        scheduleFlush();
        checkWritable();
    }

    /** Event loop only (called by the loop's {@link LoopOutbox}): writes what other threads queued, flushes once. */
    void runDrain() {
        drainScheduled.set(false);
        if (closing.get()) {
            if (closed) {
                discardQueue();
            }
            return;
        }
        drainQueue();
        channel.flush();
    }

    private void runFlush() {
        flushScheduled = false;
        channel.flush();
    }

    private void scheduleFlush() {
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(flushTask);
        }
    }

    /** Event loop only: writes everything queued, stopping early if the client turns out to be slow. */
    private void drainQueue() {
        Object item;
        while ((item = queue.poll()) != null) {
            queuedBytes.addAndGet(-wireSize(frameOf(item)));
            write(item);
            if (!channel.isWritable() && channel.isActive()) {
                slowConsumer();
                return;
            }
        }
    }

    private void write(Object item) {
        if (item instanceof Flushed flushed) {
            channel.write(flushed.frame()).addListener(f -> {
                if (f.isSuccess()) {
                    flushed.written().complete(null);
                } else {
                    flushed.written().completeExceptionally(f.cause());
                }
            });
        } else {
            channel.write(item, channel.voidPromise());
        }
    }

    /** Any thread: drops what is queued, failing pending {@link #sendFlushed} stages. */
    private void discardQueue() {
        Object item;
        while ((item = queue.poll()) != null) {
            queuedBytes.addAndGet(-wireSize(frameOf(item)));
            drop(item);
        }
    }

    private static void drop(Object item) {
        if (item instanceof Flushed flushed) {
            flushed.written().completeExceptionally(new ClosedChannelException());
        }
    }

    private void checkWritable() {
        if (!channel.isWritable() && channel.isActive()) {
            slowConsumer();
        }
    }

    private void slowConsumer() {
        boolean began = closeWith(Frames.notice(Notice.newBuilder()
                .setKind(Notice.Kind.KIND_SLOW_CONSUMER)
                .setText("outbound queue overflowed; reconnect and sync")
                .build()), CloseReason.POLICY_VIOLATION, true);
        if (began) {
            LOG.warn("Closing {} connection {}: slow consumer, more than {} outbound bytes pending",
                    transport(), remoteAddress, channel.config().getWriteBufferHighWaterMark());
        }
    }

    private static Frame frameOf(Object item) {
        return item instanceof Flushed flushed ? flushed.frame() : (Frame) item;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + remoteAddress + "]";
    }
}
