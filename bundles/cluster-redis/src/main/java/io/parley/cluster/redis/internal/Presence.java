package io.parley.cluster.redis.internal;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Presence: which node each user's sessions are on. This node writes its own entries ({@code P{u:U}:presence},
 * field {@code node:device} → epoch): one per device that has at least one session here, counted locally, so a
 * device's second session here writes nothing and its last close deletes the field. Lookups read the hashes of many
 * users at once (pipelined) and judge each entry against the {@link NodeTable}: entries of gone nodes, or of an
 * earlier epoch of a node, are ignored and deleted (only if unchanged since read).
 *
 * <p>Threading: thread-safe. Writes of one device's field are issued in the order its sessions open and close (under
 * the count's map lock), on one connection, so Redis applies them in that order. Nothing blocks except
 * {@link #leave}, which waits (bounded) for its deletes.
 */
final class Presence {
    private static final Logger LOG = LoggerFactory.getLogger(Presence.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private final Redis redis;
    private final Keys keys;
    private final Membership membership;
    private final String nodeId;
    private final Runnable tableOutdated;
    /** user '\n' device → sessions of that device on this node. */
    private final ConcurrentHashMap<String, Integer> sessions = new ConcurrentHashMap<>();
    /** A write failed: the next heartbeat writes every entry again. */
    private volatile boolean dirty;

    /**
     * @param tableOutdated called when a lookup met an entry newer than the node table (a node joined or restarted
     *                      since it was read)
     */
    Presence(Redis redis, Keys keys, Membership membership, String nodeId, Runnable tableOutdated) {
        this.redis = redis;
        this.keys = keys;
        this.membership = membership;
        this.nodeId = nodeId;
        this.tableOutdated = tableOutdated;
    }

    /** @return completed when the entry is written (at once if the device already had a session here) */
    CompletionStage<Void> opened(String user, String device) {
        CompletableFuture<?>[] write = {DONE};
        sessions.compute(user + '\n' + device, (k, n) -> {
            if (n == null) {
                write[0] = write(user, device);
                return 1;
            }
            return n + 1;
        });
        return write[0].thenApply(v -> null);
    }

    void closed(String user, String device) {
        sessions.computeIfPresent(user + '\n' + device, (k, n) -> {
            if (n > 1) {
                return n - 1;
            }
            redis.async().hdel(keys.presence(user), Keys.presenceField(nodeId, device));
            return null;
        });
    }

    boolean dirty() {
        return dirty;
    }

    /** Writes every entry again, with the current epoch (after a failed write, or after rejoining). */
    void republish() {
        dirty = false;
        for (String key : sessions.keySet()) {
            int cut = key.indexOf('\n');
            write(key.substring(0, cut), key.substring(cut + 1));
        }
    }

    private CompletableFuture<Long> write(String user, String device) {
        long epoch = membership.epoch();
        if (epoch == 0) { // not joined yet: written when it joins
            dirty = true;
            return CompletableFuture.completedFuture(0L);
        }
        CompletableFuture<Long> f = redis.async().hset(keys.presence(user), Keys.presenceField(nodeId, device),
                Keys.utf8(Long.toString(epoch))).toCompletableFuture().thenApply(b -> 1L);
        f.whenComplete((v, e) -> {
            if (e != null) {
                dirty = true;
            }
        });
        return f;
    }

    /**
     * Where {@code users} have sessions on other nodes: node → those users (each once, in the order given).
     * Fails if Redis does not answer.
     */
    CompletableFuture<Map<String, List<String>>> locate(List<String> users) {
        NodeTable table = membership.table();
        long selfEpoch = membership.epoch();
        List<CompletableFuture<Map<byte[], byte[]>>> reads = new ArrayList<>(users.size());
        for (String user : users) {
            reads.add(redis.async().hgetall(keys.presence(user)).toCompletableFuture());
        }
        return CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).thenApply(v -> {
            Map<String, List<String>> byNode = new LinkedHashMap<>();
            for (int i = 0; i < users.size(); i++) {
                String user = users.get(i);
                for (Map.Entry<byte[], byte[]> e : reads.get(i).join().entrySet()) {
                    Entry entry = Entry.parse(e.getKey(), e.getValue());
                    if (entry != null && visit(table, selfEpoch, user, entry, e)) {
                        List<String> there = byNode.computeIfAbsent(entry.node, n -> new ArrayList<>());
                        if (there.isEmpty() || !there.get(there.size() - 1).equals(user)) {
                            there.add(user);
                        }
                    }
                }
            }
            return byNode;
        });
    }

    /** The other nodes that have a session of {@code user} on {@code device}. */
    CompletableFuture<List<String>> locateDevice(String user, String device) {
        NodeTable table = membership.table();
        long selfEpoch = membership.epoch();
        return redis.async().hgetall(keys.presence(user)).toCompletableFuture().thenApply(fields -> {
            List<String> nodes = new ArrayList<>();
            for (Map.Entry<byte[], byte[]> e : fields.entrySet()) {
                Entry entry = Entry.parse(e.getKey(), e.getValue());
                if (entry != null && entry.device.equals(device) && visit(table, selfEpoch, user, entry, e)) {
                    nodes.add(entry.node);
                }
            }
            return nodes;
        });
    }

    /** @return true if the entry is a session on another live node; deletes stale entries on the way */
    private boolean visit(NodeTable table, long selfEpoch, String user, Entry entry, Map.Entry<byte[], byte[]> raw) {
        switch (table.judge(entry.node, entry.epoch, selfEpoch)) {
            case LIVE:
                return true;
            case NEWER:
                tableOutdated.run();
                return true;
            case STALE:
                redis.async().eval(Membership.DELETE_IF, ScriptOutputType.INTEGER,
                        new byte[][]{keys.presence(user)}, raw.getKey(), raw.getValue());
                return false;
            default: // SELF
                return false;
        }
    }

    /** Clean stop: deletes this node's entries (waiting up to {@code millis} in all). */
    void leave(long millis) {
        List<RedisFuture<Long>> deletes = new ArrayList<>();
        for (String key : sessions.keySet()) {
            int cut = key.indexOf('\n');
            deletes.add(redis.async().hdel(keys.presence(key.substring(0, cut)),
                    Keys.presenceField(nodeId, key.substring(cut + 1))));
        }
        sessions.clear();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (RedisFuture<Long> d : deletes) {
            try {
                d.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                LOG.debug("Presence entries not all deleted on leaving: {}", e.toString());
                return;
            }
        }
    }

    /** One presence field, parsed: {@code node:device} → epoch. */
    record Entry(String node, String device, long epoch) {
        static Entry parse(byte[] field, byte[] value) {
            String f = Keys.string(field);
            int cut = f.indexOf(':');
            if (cut <= 0) {
                return null;
            }
            try {
                return new Entry(f.substring(0, cut), f.substring(cut + 1), Long.parseLong(Keys.string(value)));
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
