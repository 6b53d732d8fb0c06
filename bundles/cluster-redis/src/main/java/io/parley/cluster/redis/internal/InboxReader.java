package io.parley.cluster.redis.internal;

import io.lettuce.core.Consumer;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.parley.core.spi.cluster.LocalNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * Reads this node's inbox stream through its consumer group and hands each entry to {@link LocalNode}, in stream
 * order, on one thread of its own ({@code parley-cluster-inbox-<node>}). An entry is acknowledged (XACK, then XDEL to
 * keep the stream short) only after it was handed over; an entry read but not acknowledged when the node stopped is
 * still pending in the group, and is handed over again when the reader next starts, before anything new
 * (at-least-once: the core's clients drop what they already have by seq).
 *
 * <p>Threading: {@link #start} and {@link #stop} from the link's lifecycle; everything else on the reader thread,
 * which uses the reader connection alone for its blocking reads. {@link LocalNode} never blocks.
 */
final class InboxReader implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(InboxReader.class);
    /** Longest a read blocks, so that a stop is seen within about this long. */
    static final long BLOCK_MILLIS = 1000;

    private final Redis redis;
    private final Keys keys;
    private final Membership membership;
    private final String nodeId;
    private final int batch;
    private final LocalNode local;
    private final Consumer<byte[]> consumer;
    private final Thread thread;
    private volatile boolean running = true;

    InboxReader(Redis redis, Keys keys, Membership membership, ClusterOptions options, LocalNode local) {
        this.redis = redis;
        this.keys = keys;
        this.membership = membership;
        this.nodeId = options.nodeId();
        this.batch = options.inboxBatch();
        this.local = local;
        this.consumer = Consumer.from(Keys.GROUP, Keys.utf8(nodeId));
        this.thread = new Thread(this, "parley-cluster-inbox-" + nodeId);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /**
     * Stops reading and waits up to {@code millis} for the thread to end (not at all if 0).
     *
     * @return true if it ended
     */
    boolean stop(long millis) {
        running = false;
        if (millis > 0) {
            try {
                thread.join(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return !thread.isAlive();
    }

    @Override
    public void run() {
        byte[] inbox = keys.inbox(nodeId);
        // first this consumer's pending entries, from the start; null once they are done. Again after a failed read: a
        // read whose reply was lost (a time-out, a dropped connection) left its entries pending with this consumer
        String replayFrom = "0";
        long replayed = 0;
        long failures = 0;
        while (running) {
            try {
                List<StreamMessage<byte[], byte[]>> entries;
                if (replayFrom != null) {
                    entries = redis.reader().xreadgroup(consumer, XReadArgs.Builder.count(batch),
                            XReadArgs.StreamOffset.from(inbox, replayFrom));
                    if (entries.isEmpty()) {
                        if (replayed > 0) {
                            LOG.info("Node {}: {} inbox entries pending from before were handed over again", nodeId,
                                    replayed);
                        }
                        replayFrom = null;
                        continue;
                    }
                    replayFrom = entries.get(entries.size() - 1).getId();
                    replayed += entries.size();
                } else {
                    entries = redis.reader().xreadgroup(consumer, XReadArgs.Builder.count(batch).block(BLOCK_MILLIS),
                            XReadArgs.StreamOffset.lastConsumed(inbox));
                }
                if (!entries.isEmpty()) {
                    handOver(entries);
                    acknowledge(inbox, entries);
                }
                failures = 0;
            } catch (RedisCommandExecutionException e) {
                if (e.getMessage() != null && e.getMessage().startsWith("NOGROUP")) {
                    // Redis lost the stream (restarted without persistence): make it again, from the start
                    try {
                        membership.createGroup();
                        replayFrom = "0";
                    } catch (Exception again) {
                        failures = backOff(++failures, again);
                    }
                } else {
                    failures = backOff(++failures, e);
                    replayFrom = "0";
                }
            } catch (RuntimeException e) {
                if (running) {
                    failures = backOff(++failures, e);
                    replayFrom = "0";
                }
            } catch (Exception e) {
                failures = backOff(++failures, e);
                replayFrom = "0";
            }
        }
    }

    private void handOver(List<StreamMessage<byte[], byte[]>> entries) {
        for (StreamMessage<byte[], byte[]> m : entries) {
            try {
                if (!Entries.dispatch(m.getBody(), local)) {
                    LOG.debug("Node {}: skipped inbox entry {} of an unknown kind", nodeId, m.getId());
                }
            } catch (Exception e) {
                LOG.warn("Node {}: could not hand over inbox entry {}: {}", nodeId, m.getId(), e.toString());
            }
        }
    }

    private void acknowledge(byte[] inbox, List<StreamMessage<byte[], byte[]>> entries) {
        if (!running) {
            return; // stopped mid-batch: left pending, handed over again at the next start
        }
        String[] ids = new String[entries.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = entries.get(i).getId();
        }
        redis.async().xack(inbox, Keys.GROUP, ids);
        redis.async().xdel(inbox, ids);
    }

    private long backOff(long failures, Exception e) {
        if (Long.bitCount(failures) == 1) { // 1st, 2nd, 4th… failure in a row
            LOG.warn("Node {}: reading the inbox failed ({} time(s) in a row), retrying: {}", nodeId, failures,
                    e.toString());
        }
        try {
            Thread.sleep(Math.min(2000, 100L * failures));
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            running = false;
        }
        return failures;
    }
}
