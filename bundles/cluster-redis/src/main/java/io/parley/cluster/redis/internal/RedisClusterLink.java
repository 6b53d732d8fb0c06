package io.parley.cluster.redis.internal;

import io.lettuce.core.XAddArgs;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The cluster link on Redis: presence with leases and fencing epochs ({@link Presence}, {@link Membership}), one
 * inbox stream per node read by a consumer group ({@link InboxReader}), and what the core hands over written to the
 * inboxes of the nodes that need it — a message once per node, with that node's recipients.
 *
 * <p><b>Lifecycle.</b> {@link #start} returns at once; the link's timer thread ({@code parley-cluster-<node>}) connects
 * and joins (retrying every 2 s while Redis cannot be reached or the node id seems in use), then calls
 * {@code onJoined} — the component registers the {@link ClusterLink} service then — and renews the lease every
 * heartbeat. If the lease is found gone (this node was unreachable for longer than the lease, or Redis lost it) the
 * node closes its sessions (their clients resume, here or elsewhere) and rejoins with a new epoch; if another process
 * took the node id over, it closes its sessions and stops routing. {@link #close} leaves cleanly and stops every
 * thread.
 *
 * <p><b>Order.</b> Every write the core asks for goes through one chain: a write is issued only after the writes of
 * earlier calls were issued, even when its presence lookup finishes first, and writes to one inbox travel on one
 * connection, so each node receives the calls of one core thread in call order.
 *
 * <p>Threading: the {@link ClusterLink} methods never block; lookups and writes complete on Lettuce's threads.
 */
public final class RedisClusterLink implements ClusterLink, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RedisClusterLink.class);
    private static final CompletableFuture<Set<String>> NOBODY = CompletableFuture.completedFuture(Set.of());
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    private static final long RETRY_MILLIS = 2000;
    private static final long LEAVE_MILLIS = 2000;

    private enum State { STARTING, JOINED, FENCED, CLOSED }

    private final ClusterOptions options;
    private final LocalNode local;
    private final Keys keys;
    private final Consumer<RedisClusterLink> onJoined;
    private final ScheduledExecutorService timer;
    private final XAddArgs append;
    private final AtomicBoolean refreshQueued = new AtomicBoolean();
    private final AtomicLong failedWrites = new AtomicLong();
    private volatile State state = State.STARTING;
    private volatile Redis redis;
    private volatile Membership membership;
    private volatile Presence presence;
    private volatile InboxReader reader;
    private long lastRenewalNanos;
    private boolean closedForOutage;
    private long joinAttempts;
    private final Object chainLock = new Object();
    /** Completes when the writes of every earlier call were issued. Guarded by chainLock. */
    private CompletableFuture<Void> tail = DONE;

    private RedisClusterLink(ClusterOptions options, LocalNode local, Consumer<RedisClusterLink> onJoined) {
        this.options = options;
        this.local = local;
        this.keys = new Keys(options.keyPrefix());
        this.onJoined = onJoined;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "parley-cluster-" + options.nodeId());
            t.setDaemon(true);
            return t;
        });
        this.append = new XAddArgs().maxlen(options.inboxMaxlen()).approximateTrimming();
    }

    /**
     * Starts joining in the background.
     *
     * @param onJoined called once, on the link's thread, when the node has joined and the link may be used
     */
    public static RedisClusterLink start(ClusterOptions options, LocalNode local, Consumer<RedisClusterLink> onJoined) {
        RedisClusterLink link = new RedisClusterLink(options, local, onJoined);
        link.timer.execute(link::join);
        return link;
    }

    // ---------------------------------------------------------------- lifecycle (timer thread)

    private void join() {
        if (state != State.STARTING) {
            return;
        }
        joinAttempts++;
        try {
            if (redis == null) {
                Redis opened = Redis.open(options);
                synchronized (this) {
                    if (state != State.STARTING) { // closed while connecting
                        opened.close();
                        return;
                    }
                    redis = opened;
                    membership = new Membership(opened, keys, options);
                    presence = new Presence(opened, keys, membership, options.nodeId(), this::tableOutdated);
                }
            }
            long epoch = membership.join();
            synchronized (this) {
                if (state != State.STARTING) { // closed while joining: the lease runs out by itself
                    return;
                }
                reader = new InboxReader(redis, keys, membership, options, local);
                reader.start();
                presence.republish();
                state = State.JOINED;
            }
            lastRenewalNanos = System.nanoTime();
            long every = options.heartbeat().toMillis();
            timer.scheduleWithFixedDelay(this::heartbeat, every, every, TimeUnit.MILLISECONDS);
            LOG.info("Cluster: joined as {} epoch {}; live nodes: {}", options, epoch,
                    membership.table().live().keySet());
            onJoined.accept(this);
        } catch (Exception e) {
            // 1st, 2nd, 4th… attempt, and then at least every ~2 minutes
            if (Long.bitCount(joinAttempts) == 1 || joinAttempts % 64 == 0) {
                LOG.warn("Cluster: node {} cannot join yet (attempt {}), retrying every {} s: {}", options.nodeId(),
                        joinAttempts, RETRY_MILLIS / 1000, e.toString());
            }
            schedule(this::join, RETRY_MILLIS);
        }
    }

    private void heartbeat() {
        if (state != State.JOINED) {
            return;
        }
        try {
            switch (membership.renew()) {
                case RENEWED -> {
                    lastRenewalNanos = System.nanoTime();
                    closedForOutage = false;
                }
                case GONE -> {
                    LOG.warn("Cluster: node {} lost its lease (unreachable for over {} s, or Redis lost it): its "
                            + "sessions are closed and it rejoins", options.nodeId(), options.lease().toSeconds());
                    if (!closedForOutage) {
                        closedForOutage = true; // once, however many attempts the rejoin takes
                        local.closeSessions("this node lost its place in the cluster; reconnect");
                    }
                    long epoch = membership.rejoin();
                    lastRenewalNanos = System.nanoTime();
                    closedForOutage = false;
                    presence.republish();
                    LOG.info("Cluster: node {} rejoined with epoch {}", options.nodeId(), epoch);
                }
                case TAKEN -> {
                    fenced();
                    return;
                }
            }
            membership.refresh();
            if (presence.dirty()) {
                presence.republish();
            }
        } catch (Exception e) {
            long silentMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastRenewalNanos);
            if (silentMillis > options.lease().toMillis() && !closedForOutage) {
                closedForOutage = true;
                LOG.warn("Cluster: node {} could not renew its lease for {} ms (other nodes count it as gone): "
                        + "closing its sessions so that they reconnect", options.nodeId(), silentMillis);
                local.closeSessions("this node cannot reach the cluster; reconnect");
            } else {
                LOG.warn("Cluster: heartbeat of node {} failed: {}", options.nodeId(), e.toString());
            }
        }
    }

    /** Another process runs with this node id and a newer epoch: this one stops routing. */
    private void fenced() {
        state = State.FENCED;
        LOG.error("Cluster: another process took over node id {} (a newer epoch holds its lease): this process stops "
                + "routing and closes its sessions. Give every node its own node.id.", options.nodeId());
        local.closeSessions("this node was replaced in the cluster; reconnect");
        InboxReader r = reader;
        if (r != null) {
            r.stop(0);
        }
    }

    private void tableOutdated() {
        if (state == State.JOINED && refreshQueued.compareAndSet(false, true)) {
            schedule(() -> {
                refreshQueued.set(false);
                try {
                    membership.refresh();
                } catch (Exception e) {
                    LOG.debug("Cluster: re-reading the node table failed: {}", e.toString());
                }
            }, 0);
        }
    }

    private void schedule(Runnable task, long millis) {
        try {
            timer.schedule(task, millis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            // closed meanwhile
        }
    }

    /**
     * Leaves cleanly: the reader stops, this node's presence entries, lease and registry entry are deleted (bounded
     * wait), and every thread and connection of the link ends.
     */
    @Override
    public void close() {
        State was;
        synchronized (this) {
            was = state;
            if (was == State.CLOSED) {
                return;
            }
            state = State.CLOSED;
        }
        timer.shutdownNow();
        try { // a join in progress may be connecting
            timer.awaitTermination(Math.max(options.connectTimeout().toMillis(), options.commandTimeout().toMillis())
                    + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        InboxReader r = reader;
        if (r != null && !r.stop(InboxReader.BLOCK_MILLIS + 2000)) {
            LOG.warn("Cluster: the inbox reader of node {} did not stop in time", options.nodeId());
        }
        Redis c = redis;
        if (c != null) {
            if (was == State.JOINED) {
                presence.leave(LEAVE_MILLIS);
                try {
                    membership.leave();
                } catch (Exception e) {
                    LOG.debug("Cluster: leaving failed: {}", e.toString());
                }
            }
            c.close();
        }
        LOG.info("Cluster: node {} left", options.nodeId());
    }

    /** Stops like a process that died: no leave, connections dropped, entries in hand left pending. For tests. */
    synchronized void crash() {
        state = State.CLOSED;
        timer.shutdownNow();
        InboxReader r = reader;
        if (r != null) {
            r.stop(0);
        }
        Redis c = redis;
        if (c != null) {
            c.close();
        }
    }

    /** @return the epoch this node runs with (0 before it joined) */
    public long epoch() {
        Membership m = membership;
        return m == null ? 0 : m.epoch();
    }

    /** @return true while the node is a member of the cluster (joined, not fenced, not closed) */
    public boolean joined() {
        return state == State.JOINED;
    }

    Membership membership() {
        return membership;
    }

    @Override
    public String toString() {
        return "Redis cluster link (" + options + ", epoch " + epoch() + ")";
    }

    // ---------------------------------------------------------------- ClusterLink

    @Override
    public CompletionStage<Void> sessionOpened(String user, String device) {
        Presence p = presence;
        return p == null || state == State.CLOSED ? DONE : p.opened(user, device);
    }

    @Override
    public void sessionClosed(String user, String device) {
        Presence p = presence;
        if (p != null && state != State.CLOSED) {
            p.closed(user, device);
        }
    }

    @Override
    public CompletionStage<Set<String>> route(Message message, List<String> members) {
        if (state != State.JOINED) {
            return NOBODY;
        }
        CompletableFuture<Map<String, List<String>>> where = presence.locate(members);
        inOrder(where, byNode -> {
            if (!byNode.isEmpty()) {
                byte[] body = message.toByteArray();
                byNode.forEach((node, users) -> write(node, Entries.deliver(body, users, options.nodeId())));
            }
        });
        return where.thenApply(RedisClusterLink::everyone);
    }

    @Override
    public void relay(Frame frame, List<String> users) {
        if (state != State.JOINED) {
            return;
        }
        inOrder(presence.locate(users), byNode -> {
            if (!byNode.isEmpty()) {
                byte[] body = frame.toByteArray();
                byNode.forEach((node, there) -> write(node, Entries.relay(body, there, options.nodeId())));
            }
        });
    }

    @Override
    public void readMarked(String conversation, String user, long seq) {
        broadcast(() -> Entries.readMark(conversation, user, seq, options.nodeId()));
    }

    @Override
    public void kick(String user, String device, long startedBefore) {
        if (state != State.JOINED) {
            return;
        }
        inOrder(presence.locateDevice(user, device), nodes -> nodes.forEach(node ->
                write(node, Entries.kick(user, device, startedBefore, options.nodeId()))));
    }

    @Override
    public void groupChanged(String groupId) {
        broadcast(() -> Entries.groupChanged(groupId, options.nodeId()));
    }

    /** One entry to every other live node. */
    private void broadcast(Supplier<Map<byte[], byte[]>> entry) {
        if (state != State.JOINED) {
            return;
        }
        List<String> nodes = membership.table().liveOthers();
        if (nodes.isEmpty()) {
            return;
        }
        inOrder(CompletableFuture.completedFuture(nodes), targets -> {
            Map<byte[], byte[]> e = entry.get();
            targets.forEach(node -> write(node, e));
        });
    }

    /**
     * Issues {@code writes} with {@code lookup}'s result once it is done and every earlier call's writes were
     * issued. A failed lookup skips its writes (logged), never the later ones.
     */
    private <T> void inOrder(CompletableFuture<T> lookup, Consumer<T> writes) {
        synchronized (chainLock) {
            CompletableFuture<Void> issued = tail.thenCombine(lookup, (v, found) -> {
                writes.accept(found);
                return (Void) null;
            });
            tail = issued.handle((v, e) -> {
                if (e != null) {
                    countFailure(e);
                }
                return null;
            });
        }
    }

    private void write(String node, Map<byte[], byte[]> entry) {
        redis.async().xadd(keys.inbox(node), append, entry).whenComplete((id, e) -> {
            if (e != null) {
                countFailure(e);
            }
        });
    }

    private void countFailure(Throwable e) {
        long n = failedWrites.incrementAndGet();
        if (Long.bitCount(n) == 1) {
            LOG.warn("Cluster: a lookup or inbox write failed ({} so far); those deliveries reach the devices when "
                    + "they resume: {}", n, e.toString());
        }
    }

    private static Set<String> everyone(Map<String, List<String>> byNode) {
        if (byNode.isEmpty()) {
            return Set.of();
        }
        Set<String> users = new HashSet<>();
        byNode.values().forEach(users::addAll);
        return users;
    }
}
