package io.parley.itest;

import io.parley.core.testing.RedisServer;
import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncResponse;
import io.parley.itest.DeliveryLedger.Acked;
import io.parley.itest.DeliveryLedger.Audit;
import io.parley.itest.DeliveryLedger.Device;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The delivery contract of a three-node cluster (docs/cluster.md) under the faults the cluster must survive: three
 * server processes on the Redis store and the Redis cluster link, on one redis-server this test starts (AOF,
 * {@code appendfsync always}, its own port and directory); eight devices of six users, each connected to a random
 * node through a {@link TcpRelay} standing in for a load balancer, chat in a ring of 1:1 conversations and in one
 * group of everyone while one fault happens mid-traffic:
 * <ul>
 *   <li>{@link Fault#NODE_KILLED_AND_RESTARTED}: a node is killed with {@code kill -9}; its devices fail over to
 *       another node; the node is restarted and its devices are sent back to it (their connections cut);</li>
 *   <li>{@link Fault#REDIS_RESTARTED}: Redis is killed with {@code kill -9}, stays down longer than the store's
 *       command timeout and the cluster lease, and is restarted on the same port and AOF directory;</li>
 *   <li>{@link Fault#REDIS_LINK_CUT}: one node reaches Redis through a {@link TcpRelay}; its connections are cut
 *       once, then cut and refused for longer than the cluster lease (a partition).</li>
 * </ul>
 * Every send is retried by the test, with the same client_msg_id, until acknowledged. At the end every device of
 * every member must hold exactly the acknowledged history ({@link DeliveryLedger}: 0 lost, 0 duplicated, 0 reordered,
 * 0 seq reuse, 0 idempotency violations), the store must hold every acknowledged message under its acknowledged seq
 * and nothing else, and acknowledged sends repeated after the fault must get their original ack, flagged duplicate.
 * The seed is printed; rerun with {@code -Dcluster.faults.seed=<seed>}. Fails (does not skip) without redis-server.
 */
class ClusterFaultsIT {
    enum Fault { NODE_KILLED_AND_RESTARTED, REDIS_RESTARTED, REDIS_LINK_CUT }

    static final int LEASE_SECONDS = 4;
    /** Traffic continues until the fault is over and at least this many sends are acknowledged. */
    static final int MIN_MESSAGES = 300;
    /** Hard cap on sends, so that a stuck fault cannot make the traffic unbounded. */
    static final int MAX_MESSAGES = 2000;
    /** Pause of each device between its sends: eight devices, about 35 sends a second in all. */
    static final long PACE_MILLIS = 200;
    /** The store's command timeout on the nodes: a send waiting longer for Redis fails with a retryable error. */
    static final long STORE_COMMAND_TIMEOUT_MILLIS = 3000;
    /** How long Redis stays down: past the store's command timeout and the cluster lease. */
    static final long REDIS_DOWN_MILLIS = 5000;
    /** A send is retried (same client_msg_id) until acknowledged or this deadline has passed. */
    static final long SEND_DEADLINE_MILLIS = 90_000;
    static final int LATE_REPEATS = 20;
    static final String CLUSTER_PREFIX = "parley:cluster:";

    @TempDir
    Path work;

    private RedisServer redis;
    private final List<ServerProcess> nodes = new ArrayList<>();
    /** One per node: the "load balancer" its devices connect through. */
    private final List<TcpRelay> balancers = new ArrayList<>();
    private TcpRelay redisLink;
    private ClientResources resources;
    private final DeliveryLedger ledger = new DeliveryLedger();
    private final Map<String, List<Device>> devicesByUser = new LinkedHashMap<>();
    private final Map<Device, Integer> nodeOf = new LinkedHashMap<>();
    private final List<SuiteConversation> conversations = new ArrayList<>();

    private final AtomicBoolean faultOver = new AtomicBoolean();
    private final AtomicInteger acked = new AtomicInteger();
    private final AtomicInteger retries = new AtomicInteger();
    private final AtomicInteger failures = new AtomicInteger();
    private final AtomicLong maxAckMillis = new AtomicLong();
    private final ConcurrentLinkedQueue<String> retryExamples = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<String> failureExamples = new ConcurrentLinkedQueue<>();
    /** Every acknowledged send, with its device, in ack order. */
    private final ConcurrentLinkedQueue<Map.Entry<Device, Send>> ackedSends = new ConcurrentLinkedQueue<>();
    private final List<String> faultLog = Collections.synchronizedList(new ArrayList<>());

    @ParameterizedTest(name = "{0}")
    @EnumSource(Fault.class)
    @Timeout(value = 150, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void everyAcknowledgedMessageReachesEveryDeviceOnceInOrder(Fault fault) throws Exception {
        long seed = Long.getLong("cluster.faults.seed", System.nanoTime() & 0xFFFF_FFFFL);
        String tag = "[cluster " + fault + "]";
        System.out.printf("%s seed %d (rerun with -Dcluster.faults.seed=%d)%n", tag, seed, seed);
        Random rnd = new Random(seed);
        long t0 = System.nanoTime();
        List<Thread> senders = new ArrayList<>();
        boolean passed = false;
        try {
            redis = RedisServer.start(work.resolve("redis"), RedisServer.AOF_ALWAYS);
            for (int i = 0; i < 3; i++) {
                String uri = redis.uri();
                if (fault == Fault.REDIS_LINK_CUT && i == 2) {
                    redisLink = new TcpRelay(redis.port());
                    uri = "redis://127.0.0.1:" + redisLink.port() + "/0";
                }
                nodes.add(node("n" + (i + 1), uri));
            }
            for (ServerProcess n : nodes) {
                balancers.add(new TcpRelay(n.port));
            }
            for (ServerProcess n : nodes) {
                n.start();
            }
            for (int i = 0; i < 3; i++) {
                int node = i;
                awaitTrue(() -> lease(node) != null, 30_000, "n" + (node + 1) + " joined the cluster");
            }
            long startMs = ms(t0);

            connectDevices(rnd);
            createGroup();
            long tTraffic = System.nanoTime();
            for (Device d : nodeOf.keySet()) {
                Random own = new Random(rnd.nextLong());
                Thread t = new Thread(() -> traffic(d, own), "sender-" + d.id);
                t.setDaemon(true);
                t.start();
                senders.add(t);
            }
            switch (fault) {
                case NODE_KILLED_AND_RESTARTED -> killAndRestartNode(0);
                case REDIS_RESTARTED -> restartRedis();
                case REDIS_LINK_CUT -> cutRedisLink(2);
            }
            faultOver.set(true);
            for (Thread t : senders) {
                t.join(SEND_DEADLINE_MILLIS + 30_000);
            }
            long trafficMs = ms(tTraffic);

            long tQuiet = System.nanoTime();
            Audit audit = awaitQuiescence();
            long quietMs = ms(tQuiet);
            Map<String, List<String>> store = checkStore();
            int lateDuplicates = lateRepeats(rnd);
            audit = ledger.audit(conversations, devicesByUser);

            long reconnects = nodeOf.keySet().stream().mapToLong(d -> d.sessions.get() - 1).sum();
            System.out.printf(Locale.ROOT, "%s%n  nodes started in %d ms; traffic %d ms: %d sends acked (%d acks), %d"
                            + " retried by the test %s, slowest ack %d ms, %d failed %s; %d reconnects%n  fault: %s%n"
                            + "  quiescence %d ms; audit: %d/%d deliveries, lost %d, duplicated %d, reordered %d, seq"
                            + " reuse %d, idempotency %d, diverged %d, seq holes %d, recovered %d %s%n  store: %s;"
                            + " late repeats answered duplicate: %d/%d; total %d ms%n",
                    tag, startMs, trafficMs, ledger.ackedCount(), ledger.ackCount(), retries.get(),
                    retryExamples, maxAckMillis.get(), failures.get(), failureExamples, reconnects, faultLog,
                    quietMs, audit.delivered(), audit.expectedDeliveries(), audit.lost(), audit.duplicated(),
                    audit.reordered(), audit.seqReuse(), audit.idempotency(), audit.diverged(), audit.seqHoles(),
                    audit.recovered(), audit.examples(), store, lateDuplicates, LATE_REPEATS, ms(t0));

            Audit a = audit;
            assertAll(
                    () -> assertEquals(0, failures.get(), "sends never acknowledged: " + failureExamples),
                    () -> assertTrue(ledger.ackedCount() >= MIN_MESSAGES, "acknowledged sends"),
                    () -> assertEquals(0, a.lost(), "lost: " + a.examples().get("lost")),
                    () -> assertEquals(0, a.duplicated(), "duplicated: " + a.examples().get("duplicated")),
                    () -> assertEquals(0, a.reordered(), "reordered: " + a.examples().get("reordered")),
                    () -> assertEquals(0, a.seqReuse(), "seq reuse: " + a.examples().get("seq reuse")),
                    () -> assertEquals(0, a.idempotency(), "idempotency: " + a.examples().get("idempotency")),
                    () -> assertEquals(0, a.diverged(), "diverged: " + a.examples().get("diverged")),
                    () -> assertEquals(0, a.seqHoles(), "seq holes: " + a.examples().get("seq holes")),
                    () -> assertEquals(List.of(), store.get("missing"), "acknowledged, not in the store"),
                    () -> assertEquals(List.of(), store.get("unacknowledged"), "stored, never acknowledged"),
                    () -> assertEquals(LATE_REPEATS, lateDuplicates, "late repeats answered with the original ack"));
            passed = true;
        } finally {
            faultOver.set(true);
            acked.set(MAX_MESSAGES);
            for (Thread t : senders) {
                t.interrupt();
            }
            cleanUp();
            if (!passed) {
                keepLogs(fault);
            }
        }
    }

    /** Copies the nodes' and Redis's logs to target/cluster-faults/&lt;fault&gt;/ (the temporary directory goes away). */
    private void keepLogs(Fault fault) {
        Path to = Path.of("target", "cluster-faults", fault.name());
        try (var files = Files.walk(work)) {
            for (Path f : files.filter(f -> Files.isRegularFile(f) && (f.toString().contains("/logs/")
                    || f.getFileName().toString().startsWith("redis."))).toList()) {
                Path target = to.resolve(work.relativize(f).toString());
                Files.createDirectories(target.getParent());
                Files.copy(f, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            System.out.println("logs kept in " + to.toAbsolutePath());
        } catch (Exception e) {
            System.err.println("could not keep the logs: " + e);
        }
    }

    // ---------------------------------------------------------------- faults

    /** kill -9 of node {@code i}; its devices fail over to the next node; restart; its devices come back to it. */
    private void killAndRestartNode(int i) throws Exception {
        ServerProcess victim = nodes.get(i);
        ServerProcess other = nodes.get((i + 1) % 3);
        List<Device> mine = devicesOn(i);
        awaitAcked(80, 30_000, "traffic before the kill");
        victim.kill9();
        long killed = System.nanoTime();
        balancers.get(i).to(other.port);
        awaitTrue(() -> mine.stream().allMatch(d -> d.sessions.get() >= 2), 30_000,
                mine + " reconnected to another node");
        faultLog.add("n" + (i + 1) + " killed; its devices " + mine + " on n" + ((i + 1) % 3 + 1) + " after "
                + ms(killed) + " ms");
        awaitAckedBy(mine, 20, 30_000, "sends of " + mine + " on the other node");
        String epochBefore = lease(i);
        long t = System.nanoTime();
        victim.start();
        awaitTrue(() -> { String l = lease(i); return l != null && !l.equals(epochBefore); }, 30_000,
                "n" + (i + 1) + " rejoined with a new epoch");
        faultLog.add("n" + (i + 1) + " restarted, rejoined with epoch " + lease(i) + " (was " + epochBefore + ") in "
                + ms(t) + " ms");
        int before = mine.stream().mapToInt(d -> d.sessions.get()).sum();
        balancers.get(i).to(victim.port);
        balancers.get(i).cutAll();
        awaitTrue(() -> mine.stream().mapToInt(d -> d.sessions.get()).sum() >= before + mine.size()
                && balancers.get(i).linksTo(victim.port) == mine.size(), 30_000, mine + " back on the restarted node");
        faultLog.add(mine + " back on n" + (i + 1));
        awaitAckedBy(mine, 20, 30_000, "sends of " + mine + " on the restarted node");
    }

    /**
     * kill -9 of Redis mid-traffic, down for {@link #REDIS_DOWN_MILLIS} (sends meanwhile fail with a retryable error
     * and the SDK retries them under the same client_msg_id; the leases run out), then a restart on the same port and
     * AOF directory.
     */
    private void restartRedis() throws Exception {
        awaitAcked(80, 30_000, "traffic before the Redis kill");
        int at = acked.get();
        redis.kill();
        long t = System.nanoTime();
        Thread.sleep(REDIS_DOWN_MILLIS);
        redis.restart();
        faultLog.add("Redis killed at " + at + " acks, answering PING again after " + ms(t) + " ms");
        int after = acked.get();
        awaitAcked(after + 80, 60_000, "traffic after the Redis restart");
        faultLog.add("traffic resumed, " + (acked.get() - after) + " acks since the restart; leases "
                + java.util.Arrays.asList(lease(0), lease(1), lease(2)));
    }

    /** Cuts node {@code i}'s Redis connections once, then cuts and refuses them for longer than the lease. */
    private void cutRedisLink(int i) throws Exception {
        List<Device> mine = devicesOn(i);
        awaitAcked(80, 30_000, "traffic before the cut");
        int cut = redisLink.cutAll();
        faultLog.add("cut " + cut + " connections of n" + (i + 1) + " to Redis");
        awaitAckedBy(mine, 20, 30_000, "sends of " + mine + " after the cut");
        String epochBefore = lease(i);
        redisLink.refuse(true);
        cut = redisLink.cutAll();
        long t = System.nanoTime();
        Thread.sleep(TimeUnit.SECONDS.toMillis(LEASE_SECONDS + 2));
        redisLink.refuse(false);
        faultLog.add("partitioned n" + (i + 1) + " from Redis for " + ms(t) + " ms (" + cut + " connections cut)");
        awaitTrue(() -> { String l = lease(i); return l != null && !l.equals(epochBefore); }, 30_000,
                "n" + (i + 1) + " rejoined with a new epoch after the partition");
        faultLog.add("n" + (i + 1) + " rejoined with epoch " + lease(i) + " (was " + epochBefore + ") "
                + ms(t) + " ms after the partition began");
        awaitAckedBy(mine, 20, 30_000, "sends of " + mine + " after the partition");
    }

    // ---------------------------------------------------------------- traffic

    /** Sends from {@code d}, one at a time, each retried until acknowledged, until the fault is over. */
    private void traffic(Device d, Random rnd) {
        List<SuiteConversation> mine = conversations.stream().filter(c -> c.members().contains(d.user)).toList();
        int n = 0;
        while (acked.get() < MAX_MESSAGES && !(faultOver.get() && acked.get() >= MIN_MESSAGES)) {
            SuiteConversation c = mine.get(rnd.nextInt(mine.size()));
            Send send = c.address(Send.newBuilder(), d.user).setClientMsgId(d.id + "-" + n).setType(Bodies.TEXT_TYPE)
                    .setBody(Bodies.text("message " + n + " from " + d.id)).build();
            n++;
            if (!sendUntilAcked(d, send)) {
                return;
            }
            try {
                Thread.sleep(PACE_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** @return false if interrupted */
    private boolean sendUntilAcked(Device d, Send send) {
        long t0 = System.nanoTime();
        while (true) {
            try {
                SendAck ack = d.client.send(send).get(30, TimeUnit.SECONDS);
                ledger.acked(d, send.getClientMsgId(), ack);
                ackedSends.add(Map.entry(d, send));
                acked.incrementAndGet();
                maxAckMillis.accumulateAndGet(ms(t0), Math::max);
                return true;
            } catch (InterruptedException e) {
                return false;
            } catch (Exception e) {
                retries.incrementAndGet();
                if (retryExamples.size() < 3) {
                    retryExamples.add(send.getClientMsgId() + ": " + e);
                }
                if (ms(t0) > SEND_DEADLINE_MILLIS) {
                    failures.incrementAndGet();
                    failureExamples.add(send.getClientMsgId() + " from " + d + ": " + e);
                    return true;
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException ie) {
                    return false;
                }
            }
        }
    }

    private void awaitAcked(int count, long millis, String what) throws InterruptedException {
        awaitTrue(() -> acked.get() >= count, millis, what + " (" + count + " acks)");
    }

    private void awaitAckedBy(List<Device> ds, int more, long millis, String what) throws InterruptedException {
        int base = ds.stream().mapToInt(d -> d.acks.size()).sum();
        awaitTrue(() -> ds.stream().mapToInt(d -> d.acks.size()).sum() >= base + more, millis,
                what + " (" + more + " acks)");
    }

    /** Polls the audit until nothing is missing, or deliveries stopped growing for 10 s, or 40 s passed. */
    private Audit awaitQuiescence() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
        long lastDelivered = -1;
        long lastProgress = System.nanoTime();
        while (true) {
            Audit audit = ledger.audit(conversations, devicesByUser);
            if (audit.lost() == 0 && audit.diverged() == 0) {
                return audit;
            }
            if (audit.delivered() != lastDelivered) {
                lastDelivered = audit.delivered();
                lastProgress = System.nanoTime();
            }
            if (System.nanoTime() > deadline || System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(10)) {
                return audit;
            }
            Thread.sleep(200);
        }
    }

    /**
     * Reads every conversation from the store (range syncs through a member's device) and compares it with the
     * acknowledged history: {@code missing} lists acknowledged seqs the store does not hold with the acknowledged
     * message id, {@code unacknowledged} stored messages no ack named (group events aside).
     */
    private Map<String, List<String>> checkStore() throws Exception {
        Map<String, TreeMap<Long, String>> acknowledged = new HashMap<>();
        for (Device d : nodeOf.keySet()) {
            for (Acked a : d.acks) {
                acknowledged.computeIfAbsent(a.conversation(), k -> new TreeMap<>()).putIfAbsent(a.seq(), a.messageId());
            }
        }
        List<String> missing = new ArrayList<>();
        List<String> unacknowledged = new ArrayList<>();
        int stored = 0;
        for (SuiteConversation c : conversations) {
            Device reader = devicesByUser.get(c.members().get(0)).get(0);
            Map<Long, Message> history = new TreeMap<>();
            long from = 1;
            while (true) {
                SyncResponse page = reader.client.syncRange(c.id(), from, 0, 200).get(20, TimeUnit.SECONDS);
                page.getMessagesList().forEach(m -> history.put(m.getSeq(), m));
                if (!page.getHasMore() || page.getMessagesCount() == 0) {
                    break;
                }
                from = page.getMessages(page.getMessagesCount() - 1).getSeq() + 1;
            }
            stored += history.size();
            TreeMap<Long, String> acks = acknowledged.getOrDefault(c.id(), new TreeMap<>());
            acks.forEach((seq, id) -> {
                Message m = history.get(seq);
                if (m == null || !m.getId().equals(id)) {
                    missing.add(c.id() + " seq " + seq + " acked as " + id + ", stored " + (m == null ? "nothing"
                            : m.getId()));
                }
            });
            history.forEach((seq, m) -> {
                if (!acks.containsKey(seq) && !m.getType().equals("group.event")) {
                    unacknowledged.add(c.id() + " seq " + seq + " " + m.getClientMsgId());
                }
            });
        }
        Map<String, List<String>> result = new LinkedHashMap<>();
        result.put("missing", missing.subList(0, Math.min(10, missing.size())));
        result.put("unacknowledged", unacknowledged.subList(0, Math.min(10, unacknowledged.size())));
        result.put("stored", List.of(Integer.toString(stored)));
        return result;
    }

    /** Sends {@link #LATE_REPEATS} acknowledged messages again; @return how many got their original ack, duplicate */
    private int lateRepeats(Random rnd) throws Exception {
        List<Map.Entry<Device, Send>> all = new ArrayList<>(ackedSends);
        int same = 0;
        for (int k = 0; k < LATE_REPEATS && !all.isEmpty(); k++) {
            Map.Entry<Device, Send> e = all.get(rnd.nextInt(all.size()));
            SendAck again = e.getKey().client.send(e.getValue()).get(30, TimeUnit.SECONDS);
            ledger.acked(e.getKey(), e.getValue().getClientMsgId(), again);
            Acked first = ledger.firstAck(e.getValue().getClientMsgId());
            if (again.getDuplicate() && again.getSeq() == first.seq()
                    && again.getMessageId().equals(first.messageId())) {
                same++;
            }
        }
        return same;
    }

    // ---------------------------------------------------------------- setup

    /** A copy of the distribution as cluster node {@code id}, on the Redis at {@code redisUri} (store and link). */
    private ServerProcess node(String id, String redisUri) throws Exception {
        ServerProcess node = new ServerProcess(Files.createDirectories(work.resolve(id)));
        for (String jar : List.of("parley-store-redis.jar", "parley-cluster-redis.jar")) {
            Files.copy(node.home.resolve("extras").resolve(jar), node.home.resolve("deploy").resolve(jar));
        }
        Path store = node.home.resolve("conf/parley.store.redis.cfg");
        ServerProcess.setKey(store, "uri", redisUri);
        ServerProcess.setKey(store, "command.timeout.millis", Long.toString(STORE_COMMAND_TIMEOUT_MILLIS));
        ServerProcess.setKey(node.home.resolve("conf/parley.core.cfg"), "node.id", id);
        Path cluster = node.home.resolve("conf/parley.cluster.redis.cfg");
        ServerProcess.setKey(cluster, "node.id", id);
        ServerProcess.setKey(cluster, "redis.uri", redisUri);
        ServerProcess.setKey(cluster, "key.prefix", CLUSTER_PREFIX);
        ServerProcess.setKey(cluster, "lease.seconds", Integer.toString(LEASE_SECONDS));
        ServerProcess.setKey(cluster, "heartbeat.seconds", "1");
        node.useStore("redis");
        return node;
    }

    /** @return node {@code i}'s lease (its current epoch) as Redis holds it, or null (none, or Redis not answering) */
    private String lease(int i) {
        try {
            String v = redis.command("GET", CLUSTER_PREFIX + "{n:n" + (i + 1) + "}:lease");
            return v == null || v.equals("null") ? null : v;
        } catch (Exception e) {
            return null;
        }
    }

    /** Six users, two of them with two devices; each device on a random node, at least two on each. */
    private void connectDevices(Random rnd) throws Exception {
        List<Device> all = new ArrayList<>();
        for (int u = 0; u < 6; u++) {
            String user = "u" + u;
            List<Device> ds = new ArrayList<>();
            for (int k = 1; k <= (u % 3 == 0 ? 2 : 1); k++) {
                ds.add(new Device(user, user + "-d" + k));
            }
            devicesByUser.put(user, ds);
            all.addAll(ds);
        }
        List<Device> shuffled = new ArrayList<>(all);
        Collections.shuffle(shuffled, rnd);
        for (int k = 0; k < shuffled.size(); k++) {
            nodeOf.put(shuffled.get(k), k % 3);
        }
        resources = ClientResources.nio(2);
        List<CompletableFuture<Void>> connecting = new ArrayList<>();
        for (Map.Entry<Device, Integer> e : nodeOf.entrySet()) {
            Device d = e.getKey();
            d.client = nodes.get(e.getValue()).clientBuilder(d.user, d.id, balancers.get(e.getValue()).port())
                    .resources(resources).sendTimeout(Duration.ofSeconds(60)).requestTimeout(Duration.ofSeconds(15))
                    .maxSendRetries(10_000).reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
                    .messageListener(d).connectionListener(d).build();
            connecting.add(d.client.connect());
        }
        CompletableFuture.allOf(connecting.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        List<String> users = new ArrayList<>(devicesByUser.keySet());
        for (int u = 0; u < users.size(); u++) {
            conversations.add(new SuiteConversation.Direct(users.get(u), users.get((u + 1) % users.size())));
        }
    }

    /** One group of every user, created from u0's first device; waits until every device got its creation. */
    private void createGroup() throws Exception {
        Device creator = devicesByUser.get("u0").get(0);
        List<String> members = new ArrayList<>(devicesByUser.keySet());
        GroupResponse r = creator.client.groupRequest(GroupRequest.newBuilder().setClientRequestId("everyone")
                .setCreate(GroupRequest.Create.newBuilder().setName("everyone")
                        .addAllMembers(members.subList(1, members.size()))).build()).get(30, TimeUnit.SECONDS);
        ledger.groupEvent(r.getGroup().getConversation(), r.getEventSeq());
        SuiteConversation.Group group = new SuiteConversation.Group(r.getGroup().getConversation(), members);
        conversations.add(group);
        awaitTrue(() -> nodeOf.keySet().stream().allMatch(d -> d.hasGroupEvent(group.id())), 30_000,
                "every device got the group's creation");
    }

    private List<Device> devicesOn(int node) {
        return nodeOf.entrySet().stream().filter(e -> e.getValue() == node).map(Map.Entry::getKey).toList();
    }

    private void cleanUp() throws Exception {
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (Device d : nodeOf.keySet()) {
            if (d.client != null) {
                closing.add(d.client.closeAsync());
            }
        }
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("clients did not close in time: " + e);
        }
        if (resources != null) {
            resources.close();
        }
        balancers.forEach(TcpRelay::close);
        if (redisLink != null) {
            redisLink.close();
        }
        for (ServerProcess n : nodes) {
            if (n.isAlive()) {
                n.kill9();
            }
        }
        if (redis != null) {
            redis.kill();
        }
    }

    private static void awaitTrue(BooleanSupplier condition, long millis, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what + " within " + millis + " ms");
            Thread.sleep(50);
        }
    }

    private static long ms(long nanoStart) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanoStart);
    }
}
