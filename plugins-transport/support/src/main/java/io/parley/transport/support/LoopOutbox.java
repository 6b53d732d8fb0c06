package io.parley.transport.support;

import io.netty.channel.EventLoop;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Coalesces writes made from other threads, per event loop: a connection with frames queued from a non-loop thread
 * registers here, and one task on the loop drains every registered connection, writing its frames and flushing it
 * once. Fanning one message out to N connections of a loop costs one task on that loop, not N.
 *
 * <p>Thread-safety: {@link #register} from any thread; the drain runs on the loop.
 */
public final class LoopOutbox {
    private final EventLoop loop;
    private final Queue<NettyConnection> pending = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final Runnable drainAll = this::drainAll;

    public LoopOutbox(EventLoop loop) {
        this.loop = loop;
    }

    EventLoop loop() {
        return loop;
    }

    /** @return false if the loop no longer accepts tasks (it is shutting down) */
    boolean register(NettyConnection connection) {
        pending.add(connection);
        if (scheduled.compareAndSet(false, true)) {
            try {
                loop.execute(drainAll);
            } catch (RejectedExecutionException e) {
                scheduled.set(false);
                return false;
            }
        }
        return true;
    }

    private void drainAll() {
        scheduled.set(false);
        NettyConnection c;
        while ((c = pending.poll()) != null) {
            c.runDrain();
        }
    }
}
