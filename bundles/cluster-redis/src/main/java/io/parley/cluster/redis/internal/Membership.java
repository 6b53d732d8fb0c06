package io.parley.cluster.redis.internal;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * This node's place in the cluster: its epoch (the fencing token: every start takes a new, higher one), its lease,
 * and the table of the nodes that are live, as last read.
 *
 * <p>Threading: {@link #join}, {@link #renew}, {@link #rejoin}, {@link #refresh} and {@link #leave} block on Redis
 * (bounded by the command timeout) and run only on the link's timer thread; {@link #table()} and {@link #epoch()} are
 * read from any thread.
 */
final class Membership {
    /** A reader that has not read its inbox for this long is not running (it blocks at most 1 s per read). */
    static final long LIVE_READER_IDLE_MILLIS = 3 * InboxReader.BLOCK_MILLIS;

    /** KEYS[1] = lease, ARGV[1] = epoch, ARGV[2] = lease ms → 1 renewed, 0 gone, -1 held by another epoch. */
    private static final String RENEW = """
            local v = redis.call('GET', KEYS[1])
            if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
            if not v then return 0 end
            return -1""";
    /** KEYS[1] = lease, ARGV[1] = epoch: deletes the lease if it still holds this epoch. */
    private static final String RELEASE = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
            return 0""";
    /** KEYS[1] = hash, ARGV[1] = field, ARGV[2] = value: deletes the field if it still has this value. */
    static final String DELETE_IF = """
            if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
            return 0""";

    /** Outcome of {@link #renew}. */
    enum Renewal { RENEWED, GONE, TAKEN }

    /** A node id that another process seems to be running with. */
    static final class NodeIdInUse extends Exception {
        NodeIdInUse(String message) {
            super(message);
        }
    }

    private final Redis redis;
    private final Keys keys;
    private final String nodeId;
    private final Duration lease;
    private final Duration timeout;
    private volatile long epoch;
    private volatile NodeTable table;

    Membership(Redis redis, Keys keys, ClusterOptions options) {
        this.redis = redis;
        this.keys = keys;
        this.nodeId = options.nodeId();
        this.lease = options.lease();
        this.timeout = options.commandTimeout();
        this.table = NodeTable.empty(nodeId);
    }

    /** @return this node's current epoch; 0 before it joined */
    long epoch() {
        return epoch;
    }

    /** @return the live nodes as last read */
    NodeTable table() {
        return table;
    }

    /**
     * Takes a new epoch and the lease, registers the node and its inbox's consumer group, and reads the node table.
     *
     * @throws NodeIdInUse if the lease is held and the inbox was read within the last few seconds: another process
     *                     runs with this node id (or this node's previous process died a moment ago: the caller
     *                     retries, and it is free once the old reader has been silent long enough)
     */
    long join() throws Exception {
        byte[] held = sync(async().get(keys.lease(nodeId)));
        if (held != null) {
            Long idle = readerIdleMillis();
            if (idle != null && idle < LIVE_READER_IDLE_MILLIS) {
                throw new NodeIdInUse("node id " + nodeId + " holds a lease (epoch " + Keys.string(held)
                        + ") and its inbox was read " + idle + " ms ago: another process seems to run as this node");
            }
        }
        takeEpoch();
        sync(async().hset(keys.nodes(), Keys.utf8(nodeId), Keys.utf8(Long.toString(epoch))));
        createGroup();
        refresh();
        return epoch;
    }

    /** The lease ran out: a new epoch, the lease again, the registry updated; returns the new epoch. */
    long rejoin() throws Exception {
        takeEpoch();
        sync(async().hset(keys.nodes(), Keys.utf8(nodeId), Keys.utf8(Long.toString(epoch))));
        createGroup();
        refresh();
        return epoch;
    }

    private void takeEpoch() throws Exception {
        long next = sync(async().incr(keys.epoch(nodeId)));
        sync(async().set(keys.lease(nodeId), Keys.utf8(Long.toString(next)), SetArgs.Builder.px(lease.toMillis())));
        epoch = next;
    }

    /** Creates the inbox's consumer group (and the stream) if missing, reading from the start. */
    void createGroup() throws Exception {
        try {
            sync(async().xgroupCreate(XReadArgs.StreamOffset.from(keys.inbox(nodeId), "0"), Keys.GROUP,
                    XGroupCreateArgs.Builder.mkstream()));
        } catch (RedisCommandExecutionException e) {
            if (e.getMessage() == null || !e.getMessage().startsWith("BUSYGROUP")) {
                throw e;
            }
        }
    }

    /** Renews the lease if it still holds this node's epoch. */
    Renewal renew() throws Exception {
        Long r = sync(async().<Long>eval(RENEW, ScriptOutputType.INTEGER, new byte[][]{keys.lease(nodeId)},
                Keys.utf8(Long.toString(epoch)), Keys.utf8(Long.toString(lease.toMillis()))));
        return r == 1 ? Renewal.RENEWED : r == 0 ? Renewal.GONE : Renewal.TAKEN;
    }

    /** Re-reads the registry and every registered node's lease (one pipelined round trip for the leases). */
    void refresh() throws Exception {
        Map<byte[], byte[]> registry = sync(async().hgetall(keys.nodes()));
        Map<String, Long> registered = new HashMap<>();
        List<String> names = new ArrayList<>();
        List<RedisFuture<byte[]>> leases = new ArrayList<>();
        for (Map.Entry<byte[], byte[]> e : registry.entrySet()) {
            String name = Keys.string(e.getKey());
            registered.put(name, parse(e.getValue()));
            names.add(name);
            leases.add(async().get(keys.lease(name)));
        }
        Map<String, Long> live = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            byte[] held = sync(leases.get(i));
            if (held != null) {
                live.put(names.get(i), parse(held));
            }
        }
        table = new NodeTable(nodeId, epoch, registered, live);
    }

    /** Clean stop: the lease and the registry entry go (if they are still this epoch's), so others stop at once. */
    void leave() throws Exception {
        byte[] e = Keys.utf8(Long.toString(epoch));
        RedisFuture<Long> lease = async().eval(RELEASE, ScriptOutputType.INTEGER, new byte[][]{keys.lease(nodeId)}, e);
        RedisFuture<Long> registry = async().eval(DELETE_IF, ScriptOutputType.INTEGER, new byte[][]{keys.nodes()},
                Keys.utf8(nodeId), e);
        sync(lease);
        sync(registry);
    }

    /** @return ms since this node's consumer last read its inbox, or null if there is no such consumer */
    private Long readerIdleMillis() throws Exception {
        List<Object> consumers;
        try {
            consumers = sync(async().xinfoConsumers(keys.inbox(nodeId), Keys.GROUP));
        } catch (RedisCommandExecutionException e) { // no stream or no group yet
            return null;
        }
        for (Object c : consumers) {
            if (c instanceof List<?> fields) {
                String name = null;
                Long idle = null;
                for (int i = 0; i + 1 < fields.size(); i += 2) {
                    String key = text(fields.get(i));
                    if ("name".equals(key)) {
                        name = text(fields.get(i + 1));
                    } else if ("idle".equals(key) && fields.get(i + 1) instanceof Long l) {
                        idle = l;
                    }
                }
                if (nodeId.equals(name)) {
                    return idle;
                }
            }
        }
        return null;
    }

    private static String text(Object o) {
        return o instanceof byte[] b ? Keys.string(b) : String.valueOf(o);
    }

    private static long parse(byte[] value) {
        try {
            return Long.parseLong(Keys.string(value));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private RedisClusterAsyncCommands<byte[], byte[]> async() {
        return redis.control();
    }

    /** Waits for {@code f} up to the command timeout, unwrapping Redis errors. */
    <T> T sync(RedisFuture<T> f) throws Exception {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (TimeoutException e) {
            f.cancel(false);
            throw e;
        }
    }
}
