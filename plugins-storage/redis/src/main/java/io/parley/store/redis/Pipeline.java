package io.parley.store.redis;

import io.lettuce.core.protocol.RedisCommand;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Batches commands issued by many threads into few writes: {@link #enqueue} is a non-blocking queue insert, and
 * {@link #drain} lets one thread at a time take everything queued and write it with one dispatch (one flush on a
 * standalone connection) while the others return at once. Commands are written in queue order; callers that need an
 * order (a conversation's script calls) enqueue under their own lock and drain after releasing it.
 */
final class Pipeline {

    private static final int MAX_WRITE = 1024;

    private final Link link;
    private final ConcurrentLinkedQueue<RedisCommand<byte[], byte[], ?>> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean draining = new AtomicBoolean();

    Pipeline(Link link) {
        this.link = link;
    }

    void enqueue(RedisCommand<byte[], byte[], ?> command) {
        queue.add(command);
    }

    /** Writes what is queued unless another thread is doing so (it then writes this thread's commands too). */
    void drain() {
        while (!queue.isEmpty() && draining.compareAndSet(false, true)) {
            try {
                List<RedisCommand<byte[], byte[], ?>> batch = new ArrayList<>();
                RedisCommand<byte[], byte[], ?> command;
                while (batch.size() < MAX_WRITE && (command = queue.poll()) != null) {
                    batch.add(command);
                }
                if (!batch.isEmpty()) {
                    try {
                        link.dispatch(batch);
                    } catch (RuntimeException e) {
                        for (RedisCommand<byte[], byte[], ?> c : batch) {
                            c.completeExceptionally(e);
                        }
                    }
                }
            } finally {
                draining.set(false);
            }
        }
    }
}
