package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.itest.DeliveryLedger.Audit;
import io.parley.itest.DeliveryLedger.Device;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The delivery contract of the assembled server under faults, seen through the Java SDK: many users with one to
 * three devices each exchange random messages with pipelined sends, in 1:1 conversations and in groups of three to
 * eight members (created before the traffic, already under proxy faults: the SDK retries a create whose answer was
 * cut with the same client_request_id, and the run checks that this made exactly one group, answered the same every
 * time; their {@code group.event} messages are part of every member device's history, the creating device's
 * included), every connection running through a
 * {@link ChaosProxy} that cuts connections at random moments (also between a {@code Send} and its ack, and in the
 * middle of a {@code Deliver}), while the server is killed with {@code kill -9} and restarted (persistent store
 * only) and some messages are deliberately sent twice. At the end, with faults off and traffic quiet, every device
 * of every member of every conversation must hold exactly the acknowledged history: nothing lost, nothing handed to
 * the application twice, no seq out of order or reused, and every repeat answered with the original ack.
 *
 * <p>The fault seed is printed; rerun a failure with {@code -Dfaults.seed=<seed>}. {@code -Dfaults.messages}
 * overrides the message count, {@code -Dfaults.intensity} multiplies the proxy's fault rates. The memory store loses
 * everything on a restart by design, so its run has no {@code kill -9}; the proxy faults and repeats are the same.
 * Every phase has a deadline and the test a hard timeout, so a stuck run fails instead of hanging.
 */
class DeliveryFaultInjectionIT {
    /** The store under test and how often the server is killed during the run. */
    enum Variant {
        MVSTORE("mvstore", 5, 120),
        ROCKSDB("rocksdb", 5, 120),
        MEMORY("memory", 0, 45);

        final String store;
        final int kills;
        /** Bound on the traffic phase; normally it takes a fraction of this. */
        final long trafficDeadlineSeconds;

        Variant(String store, int kills, long trafficDeadlineSeconds) {
            this.store = store;
            this.kills = kills;
            this.trafficDeadlineSeconds = trafficDeadlineSeconds;
        }
    }

    static final int USERS = 50;
    /** Conversations in all, {@link #GROUPS} of them groups. */
    static final int CONVERSATIONS = 220;
    static final int GROUPS = 40;
    static final int GROUP_MIN_MEMBERS = 3;
    static final int GROUP_MAX_MEMBERS = 8;
    static final int MESSAGES = Integer.getInteger("faults.messages", 20_000);
    /** Sends each device keeps in flight. */
    static final int WINDOW = 8;
    /** Share of messages sent twice at once (same device, or two devices of the sender). */
    static final double TWIN_RATE = 0.01;
    /** Share of messages sent again, with the same client_msg_id, once their ack arrived. */
    static final double REPEAT_RATE = 0.01;
    /** Acked messages sent again after the run (after every kill -9): the idempotency keys must have survived. */
    static final int LATE_REPEATS = 100;
    /** Multiplies every proxy fault rate ({@code -Dfaults.intensity}, default 1). */
    static final double INTENSITY = Double.parseDouble(System.getProperty("faults.intensity", "1"));
    static final ChaosProxy.Rates RATES = new ChaosProxy.Rates(Math.round(150 / INTENSITY),
            Math.round(3000 / INTENSITY), 0.003 * INTENSITY, 0.003 * INTENSITY, 0.002 * INTENSITY,
            Math.min(0.5, 0.25 * INTENSITY));
    static final Duration SEND_TIMEOUT = Duration.ofSeconds(120);
    static final long QUIET_DEADLINE_SECONDS = 40;

    @TempDir
    Path work;
    ServerProcess server;
    ChaosProxy proxy;
    ClientResources resources;
    final List<Device> devices = new ArrayList<>();
    final List<GroupCreate> groupCreates = new CopyOnWriteArrayList<>();
    final AtomicInteger groupRepeatsSame = new AtomicInteger();
    final List<String> groupRepeatMismatches = new CopyOnWriteArrayList<>();
    final DeliveryLedger ledger = new DeliveryLedger();

    /** One message of the plan. {@code twin}: a second device sending it at the same time (may be {@code device}). */
    record Planned(Device device, Device twin, boolean repeat, Send send) {
    }

    @AfterEach
    void cleanUp() throws Exception {
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (Device d : devices) {
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
        if (proxy != null) {
            proxy.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @ParameterizedTest(name = "{0} store")
    @EnumSource(Variant.class)
    @Timeout(value = 170, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void everyAcknowledgedMessageReachesEveryDeviceOnceInOrderDespiteFaults(Variant variant) throws Exception {
        long seed = Long.getLong("faults.seed", System.nanoTime() & 0xFFFF_FFFFL);
        String tag = "[faults " + variant.store + "]";
        System.out.printf("%s seed %d (rerun with -Dfaults.seed=%d)%n", tag, seed, seed);
        long t0 = System.nanoTime();
        Random rnd = new Random(seed);

        server = new ServerProcess(work).useStore(variant.store);
        long firstStartMs = server.start();
        long firstListeningMs = server.listeningMillis();
        proxy = new ChaosProxy(server.port, seed, RATES);

        Population population = Population.random(rnd);
        devices.addAll(population.devices());

        resources = ClientResources.nio(2);
        long tConnect = System.nanoTime();
        List<CompletableFuture<Void>> connecting = new ArrayList<>();
        for (Device d : devices) {
            d.client = server.clientBuilder(d.user, d.id, proxy.port()).resources(resources)
                    .sendTimeout(SEND_TIMEOUT).requestTimeout(Duration.ofSeconds(15)).maxSendRetries(10_000)
                    .reconnectBackoff(Duration.ofMillis(50), Duration.ofSeconds(1))
                    .messageListener(d).connectionListener(d).build();
            connecting.add(d.client.connect());
        }
        CompletableFuture.allOf(connecting.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        long connectMs = ms(tConnect);

        // groups are created under the proxy's faults too (cuts between a GroupRequest and its answer included)
        long tGroups = System.nanoTime();
        proxy.faults(true);
        population = createGroups(population, rnd);
        long groupsMs = ms(tGroups);
        long groupCutsAtCreation = proxy.totalCuts();
        long groupAnswersDropped = proxy.cuts(ChaosProxy.Cut.GROUP_ANSWER_DROPPED);

        List<Planned> plan = plan(population, rnd);
        Map<Device, ConcurrentLinkedQueue<Planned>> queues = new LinkedHashMap<>();
        devices.forEach(d -> queues.put(d, new ConcurrentLinkedQueue<>()));
        plan.forEach(p -> queues.get(p.device()).add(p));

        Traffic traffic = new Traffic(queues, plan.size());
        KillSwitch kills = new KillSwitch(variant.kills, traffic, new Random(seed + 1));
        long tTraffic = System.nanoTime();
        kills.start();
        queues.keySet().forEach(traffic::pump);
        boolean trafficDone = traffic.done.await(variant.trafficDeadlineSeconds, TimeUnit.SECONDS);
        kills.join(TimeUnit.SECONDS.toMillis(60));
        proxy.faults(false);
        long trafficMs = ms(tTraffic);
        int lateRepeats = 0;
        long quietMs = 0;
        if (trafficDone) {
            traffic.awaitRepeats(30);
            // quiescence: faults off, no more sends; wait until every device caught up (or stopped making progress)
            long tQuiet = System.nanoTime();
            awaitQuiescence(population);
            quietMs = ms(tQuiet);
            // the idempotency keys of messages acked before the first kill (or early on) survived to the end
            lateRepeats = traffic.lateRepeats(LATE_REPEATS, kills.ackedAtFirstKill.get(), new Random(seed + 2));
            repeatGroupCreates(population);
        }
        List<String> strayGroups = strayGroups(population);
        Audit audit = ledger.audit(population.conversations(), population.devicesByUser());
        long totalMs = ms(t0);

        String report = report(tag, seed, variant, population, traffic, kills, audit, lateRepeats, firstStartMs,
                firstListeningMs, connectMs, groupsMs, trafficMs, quietMs, totalMs)
                + String.format(Locale.ROOT, "groups       %d created under faults (%d proxy cuts meanwhile, %d of them"
                        + " an answer dropped after the group was made); creates"
                        + " repeated after the run answered with the same group and event: %d/%d; groups no create"
                        + " asked for (a retried create made twice): %d %s%n", population.groups().size(),
                        groupCutsAtCreation, groupAnswersDropped, groupRepeatsSame.get(), groupCreates.size(), strayGroups.size(),
                        strayGroups.isEmpty() ? "" : strayGroups.subList(0, Math.min(5, strayGroups.size())));
        System.out.println(report);

        long open = traffic.done.getCount();
        assertTrue(trafficDone, "traffic did not finish within " + variant.trafficDeadlineSeconds + " s: " + open
                + " of " + plan.size() + " planned sends still open");
        assertEquals(null, kills.failure.get(), "kill -9 / restart failed");
        assertAll(
                () -> assertEquals(0, traffic.failures.get(), "sends that failed: " + traffic.failureExamples),
                () -> assertEquals(0, audit.lost(), "lost: " + audit.examples().get("lost")),
                () -> assertEquals(0, audit.duplicated(), "duplicated: " + audit.examples().get("duplicated")),
                () -> assertEquals(0, audit.reordered(), "reordered: " + audit.examples().get("reordered")),
                () -> assertEquals(0, audit.seqReuse(), "seq reuse: " + audit.examples().get("seq reuse")),
                () -> assertEquals(0, audit.idempotency(), "idempotency: " + audit.examples().get("idempotency")),
                () -> assertEquals(0, audit.diverged(), "diverged: " + audit.examples().get("diverged")),
                () -> assertEquals(0, audit.seqHoles(), "seq holes: " + audit.examples().get("seq holes")),
                () -> assertEquals(plan.size(), ledger.ackedCount(), "every planned message acked"),
                () -> assertEquals(List.of(), strayGroups, "groups made by retried creates"),
                () -> assertTrue(groupAnswersDropped > 0, "no group answer was dropped: creation was not under faults"),
                () -> assertEquals(groupCreates.size(), groupRepeatsSame.get(),
                        "repeated creates answered with the original group and event: " + groupRepeatMismatches),
                () -> assertEquals(variant.kills, kills.done.get(), "server kills"),
                () -> assertTrue(proxy.totalCuts() > 0, "the proxy cut connections"));
    }

    /**
     * Users with one to three devices each, and the conversations between them. {@code groupPlans}: the member
     * lists of the groups still to be created (creator first); once created they are in {@code conversations}.
     */
    record Population(Map<String, List<Device>> devicesByUser, List<SuiteConversation> conversations,
                      List<List<String>> groupPlans, int multiDeviceUsers) {
        /**
         * Every third user gets 2-3 devices; 1:1 conversations: a ring (everybody talks), then random pairs; then
         * {@link #GROUPS} groups of random users, each with at least one multi-device user.
         */
        static Population random(Random rnd) {
            Map<String, List<Device>> devicesByUser = new LinkedHashMap<>();
            List<String> users = new ArrayList<>();
            int multi = 0;
            for (int i = 0; i < USERS; i++) {
                String user = String.format(Locale.ROOT, "u%02d", i);
                users.add(user);
                int n = i % 3 == 0 ? 2 + rnd.nextInt(2) : 1;
                multi += n > 1 ? 1 : 0;
                List<Device> ds = new ArrayList<>();
                for (int k = 1; k <= n; k++) {
                    ds.add(new Device(user, user + "-d" + k));
                }
                devicesByUser.put(user, ds);
            }
            Map<String, SuiteConversation> conversations = new LinkedHashMap<>();
            for (int i = 0; i < USERS; i++) {
                SuiteConversation c = new SuiteConversation.Direct(users.get(i), users.get((i + 1) % USERS));
                conversations.put(c.id(), c);
            }
            while (conversations.size() < CONVERSATIONS - GROUPS) {
                int a = rnd.nextInt(USERS);
                int b = rnd.nextInt(USERS);
                if (a != b) {
                    SuiteConversation c = new SuiteConversation.Direct(users.get(a), users.get(b));
                    conversations.putIfAbsent(c.id(), c);
                }
            }
            List<List<String>> groupPlans = new ArrayList<>();
            for (int g = 0; g < GROUPS; g++) {
                int size = GROUP_MIN_MEMBERS + rnd.nextInt(GROUP_MAX_MEMBERS - GROUP_MIN_MEMBERS + 1);
                Set<String> members = new LinkedHashSet<>();
                members.add(users.get(3 * rnd.nextInt((USERS + 2) / 3))); // a multi-device user (every third)
                while (members.size() < size) {
                    members.add(users.get(rnd.nextInt(USERS)));
                }
                List<String> plan = new ArrayList<>(members);
                Collections.shuffle(plan, rnd);
                groupPlans.add(List.copyOf(plan));
            }
            return new Population(devicesByUser, List.copyOf(conversations.values()), List.copyOf(groupPlans), multi);
        }

        /** @return this population with {@code groups} added to its conversations and no plans left */
        Population withGroups(List<SuiteConversation.Group> groups) {
            List<SuiteConversation> all = new ArrayList<>(conversations);
            all.addAll(groups);
            return new Population(devicesByUser, List.copyOf(all), List.of(), multiDeviceUsers);
        }

        List<SuiteConversation.Group> groups() {
            return conversations.stream().filter(c -> c instanceof SuiteConversation.Group)
                    .map(c -> (SuiteConversation.Group) c).toList();
        }

        long groupDevices() {
            return groups().stream().mapToLong(g -> g.members().stream()
                    .mapToLong(u -> devicesByUser.get(u).size()).sum()).sum();
        }

        List<Device> devices() {
            return devicesByUser.values().stream().flatMap(List::stream).toList();
        }
    }

    /**
     * Creates the planned groups, each from a random device of its creator (faults off), records each creation's
     * event in the ledger, and waits until every device of every member has received that event.
     *
     * @return {@code population} with the groups among its conversations
     */
    private Population createGroups(Population population, Random rnd) throws Exception {
        List<CompletableFuture<SuiteConversation.Group>> creating = new ArrayList<>();
        int n = 0;
        for (List<String> members : population.groupPlans()) {
            String creator = members.get(0);
            List<Device> ds = population.devicesByUser().get(creator);
            Device device = ds.get(rnd.nextInt(ds.size()));
            GroupRequest create = GroupRequest.newBuilder().setClientRequestId("group-" + n)
                    .setCreate(GroupRequest.Create.newBuilder().setName("group " + n++)
                            .addAllMembers(members.subList(1, members.size())))
                    .build();
            creating.add(device.client.groupRequest(create).thenApply((GroupResponse r) -> {
                groupCreates.add(new GroupCreate(device, create, r));
                ledger.groupEvent(r.getGroup().getConversation(), r.getEventSeq());
                return new SuiteConversation.Group(r.getGroup().getConversation(), members);
            }));
        }
        CompletableFuture.allOf(creating.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        List<SuiteConversation.Group> groups = new ArrayList<>();
        for (CompletableFuture<SuiteConversation.Group> f : creating) {
            groups.add(f.join());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            List<String> waiting = new ArrayList<>();
            for (SuiteConversation.Group g : groups) {
                for (String member : g.members()) {
                    for (Device d : population.devicesByUser().get(member)) {
                        if (!d.hasGroupEvent(g.id())) {
                            waiting.add(d + " in " + g.id());
                        }
                    }
                }
            }
            if (waiting.isEmpty()) {
                break;
            }
            assertTrue(System.nanoTime() < deadline, waiting.size() + " member devices never got the CREATED event,"
                    + " e.g. " + waiting.subList(0, Math.min(5, waiting.size())));
            Thread.sleep(20);
        }
        return population.withGroups(groups);
    }

    /** A group create as first answered: the device that asked, the request (with its client_request_id), the answer. */
    record GroupCreate(Device device, GroupRequest request, GroupResponse answer) {
    }

    /**
     * Sends every group create again, unchanged, from the device that first sent it: the answer must name the same
     * group and event seq (an idempotent create), whatever retries happened under faults.
     */
    private void repeatGroupCreates(Population population) throws Exception {
        for (GroupCreate c : groupCreates) {
            GroupResponse again = c.device().client.groupRequest(c.request()).get(30, TimeUnit.SECONDS);
            if (again.getGroup().getId().equals(c.answer().getGroup().getId())
                    && again.getEventSeq() == c.answer().getEventSeq()) {
                groupRepeatsSame.incrementAndGet();
            } else {
                groupRepeatMismatches.add(c.request().getClientRequestId() + ": first " + c.answer().getGroup().getId()
                        + "@" + c.answer().getEventSeq() + ", again " + again.getGroup().getId() + "@"
                        + again.getEventSeq());
            }
        }
    }

    /** @return group conversations some device received events of although no create was answered with them */
    private List<String> strayGroups(Population population) {
        Set<String> known = new HashSet<>();
        population.groups().forEach(g -> known.add(g.id()));
        Set<String> stray = new TreeSet<>();
        for (Device d : devices) {
            for (DeliveryLedger.Received r : d.received) {
                if (r.conversation().startsWith("g:") && !known.contains(r.conversation())) {
                    stray.add(r.conversation());
                }
            }
        }
        return List.copyOf(stray);
    }

    /** {@link #MESSAGES} sends: a random conversation, a random member of it, a random device of that member. */
    private static List<Planned> plan(Population population, Random rnd) {
        List<SuiteConversation> conversations = population.conversations();
        List<Planned> plan = new ArrayList<>(MESSAGES);
        for (int i = 0; i < MESSAGES; i++) {
            SuiteConversation c = conversations.get(rnd.nextInt(conversations.size()));
            String sender = c.members().get(rnd.nextInt(c.members().size()));
            List<Device> ds = population.devicesByUser().get(sender);
            Device device = ds.get(rnd.nextInt(ds.size()));
            Device twin = null;
            if (rnd.nextDouble() < TWIN_RATE) {
                twin = ds.size() > 1 && rnd.nextBoolean() ? ds.get((ds.indexOf(device) + 1) % ds.size()) : device;
            }
            boolean repeat = rnd.nextDouble() < REPEAT_RATE;
            Send send = c.address(Send.newBuilder(), sender).setClientMsgId("m" + i).setType(Bodies.TEXT_TYPE)
                    .setBody(Bodies.text("message " + i + " from " + device.id)).build();
            plan.add(new Planned(device, twin, repeat, send));
        }
        return plan;
    }

    /** Polls the audit until nothing is missing, or until deliveries stop growing for 10 s, or the deadline. */
    private Audit awaitQuiescence(Population population) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(QUIET_DEADLINE_SECONDS);
        long lastDelivered = -1;
        long lastProgress = System.nanoTime();
        while (true) {
            Audit audit = ledger.audit(population.conversations(), population.devicesByUser());
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

    /** Drives the plan: each device keeps up to {@link #WINDOW} sends in flight, refilling from its completions. */
    final class Traffic {
        final Map<Device, ConcurrentLinkedQueue<Planned>> queues;
        final Map<Device, AtomicInteger> inFlight = new LinkedHashMap<>();
        final CountDownLatch done;
        final AtomicInteger acked = new AtomicInteger();
        final AtomicInteger failures = new AtomicInteger();
        final ConcurrentLinkedQueue<String> failureExamples = new ConcurrentLinkedQueue<>();
        /** Sends whose (first) ack reached the device on a later connection than the one it was sent on. */
        final AtomicInteger acksAfterReconnect = new AtomicInteger();
        final AtomicInteger twins = new AtomicInteger();
        final AtomicInteger crossDeviceTwins = new AtomicInteger();
        final AtomicInteger repeats = new AtomicInteger();
        final AtomicInteger repeatsDuplicate = new AtomicInteger();
        final ConcurrentLinkedQueue<CompletableFuture<?>> repeatFutures = new ConcurrentLinkedQueue<>();
        /** client_msg_ids in the order their first ack arrived, with the device that sent them. */
        final ConcurrentLinkedQueue<Planned> ackOrder = new ConcurrentLinkedQueue<>();

        Traffic(Map<Device, ConcurrentLinkedQueue<Planned>> queues, int total) {
            this.queues = queues;
            queues.keySet().forEach(d -> inFlight.put(d, new AtomicInteger()));
            this.done = new CountDownLatch(total);
        }

        /** Issues sends from {@code d}'s queue while its window has room. Thread-safe; called from completions. */
        void pump(Device d) {
            AtomicInteger window = inFlight.get(d);
            ConcurrentLinkedQueue<Planned> queue = queues.get(d);
            while (true) {
                int n = window.get();
                if (n >= WINDOW || queue.isEmpty()) {
                    return;
                }
                if (!window.compareAndSet(n, n + 1)) {
                    continue;
                }
                Planned p = queue.poll();
                if (p == null) {
                    window.decrementAndGet();
                    return;
                }
                issue(p).whenComplete((v, e) -> {
                    window.decrementAndGet();
                    done.countDown();
                    pump(d);
                });
            }
        }

        private CompletableFuture<Void> issue(Planned p) {
            CompletableFuture<SendAck> first = send(p.device(), p.send());
            if (p.twin() == null) {
                return first.handle((a, e) -> {
                    afterFirstAck(p, a);
                    return null;
                });
            }
            twins.incrementAndGet();
            if (p.twin() != p.device()) {
                crossDeviceTwins.incrementAndGet();
            }
            CompletableFuture<SendAck> second = send(p.twin(), p.send());
            return first.handle((a, e) -> a).thenCombine(second.handle((a, e) -> a), (a, b) -> {
                if (a != null && b != null && !a.getDuplicate() && !b.getDuplicate()) {
                    ledger.idempotencyViolation(p.send().getClientMsgId() + " sent twice at once from " + p.device()
                            + " and " + p.twin() + ": neither ack is flagged duplicate");
                }
                afterFirstAck(p, a != null ? a : b);
                return null;
            });
        }

        /** One transmission of {@code send} by {@code d}, recorded in the ledger. */
        private CompletableFuture<SendAck> send(Device d, Send send) {
            int session = d.sessions.get();
            CompletableFuture<SendAck> f;
            try {
                f = d.client.send(send);
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            return f.whenComplete((ack, error) -> {
                if (ack != null) {
                    ledger.acked(d, send.getClientMsgId(), ack);
                    if (d.sessions.get() != session) {
                        acksAfterReconnect.incrementAndGet();
                    }
                } else {
                    failures.incrementAndGet();
                    if (failureExamples.size() < 5) {
                        failureExamples.add(send.getClientMsgId() + " from " + d + ": " + error);
                    }
                }
            });
        }

        private void afterFirstAck(Planned p, SendAck ack) {
            if (ack == null) {
                return;
            }
            acked.incrementAndGet();
            ackOrder.add(p);
            if (p.repeat()) {
                repeatFutures.add(repeat(p));
            }
        }

        /** Sends {@code p} again from its device; the ack must be the original one, flagged duplicate. */
        CompletableFuture<SendAck> repeat(Planned p) {
            repeats.incrementAndGet();
            return send(p.device(), p.send()).whenComplete((ack, e) -> {
                if (ack == null) {
                    return;
                }
                if (ack.getDuplicate()) {
                    repeatsDuplicate.incrementAndGet();
                } else {
                    ledger.idempotencyViolation(p.send().getClientMsgId() + " repeated after its ack by " + p.device()
                            + ": ack not flagged duplicate: " + ack.toString().replace('\n', ' '));
                }
            });
        }

        void awaitRepeats(long seconds) throws Exception {
            CompletableFuture.allOf(repeatFutures.toArray(CompletableFuture[]::new))
                    .handle((v, e) -> null).get(seconds, TimeUnit.SECONDS);
        }

        /**
         * Repeats {@code count} random messages among the first {@code window} acked ones (0: any), and waits.
         *
         * @return how many were repeated
         */
        int lateRepeats(int count, int window, Random rnd) throws Exception {
            List<Planned> early = new ArrayList<>(ackOrder);
            if (window > 0 && window < early.size()) {
                early = early.subList(0, window);
            }
            List<CompletableFuture<SendAck>> fs = new ArrayList<>();
            Set<Integer> picked = new LinkedHashSet<>();
            while (picked.size() < Math.min(count, early.size())) {
                picked.add(rnd.nextInt(early.size()));
            }
            for (int i : picked) {
                fs.add(repeat(early.get(i)));
            }
            CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).handle((v, e) -> null)
                    .get(60, TimeUnit.SECONDS);
            return fs.size();
        }
    }

    /** Kills the server with SIGKILL and restarts it when the acked count passes evenly spaced marks. */
    final class KillSwitch {
        final int kills;
        final Traffic traffic;
        final Random rnd;
        final AtomicInteger done = new AtomicInteger();
        final AtomicInteger ackedAtFirstKill = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final List<Long> restartMillis = new CopyOnWriteArrayList<>();
        final List<Integer> inFlightAtKill = new CopyOnWriteArrayList<>();
        private Thread thread;

        KillSwitch(int kills, Traffic traffic, Random rnd) {
            this.kills = kills;
            this.traffic = traffic;
            this.rnd = rnd;
        }

        void start() {
            if (kills == 0) {
                return;
            }
            thread = new Thread(this::run, "kill-switch");
            thread.setDaemon(true);
            thread.start();
        }

        void join(long millis) throws InterruptedException {
            if (thread != null) {
                thread.join(millis);
            }
        }

        private void run() {
            long total = traffic.done.getCount();
            try {
                for (int k = 1; k <= kills; k++) {
                    long mark = total * k / (kills + 1);
                    while (traffic.acked.get() < mark) {
                        if (traffic.done.await(20, TimeUnit.MILLISECONDS)) {
                            return;
                        }
                    }
                    Thread.sleep(rnd.nextInt(100));
                    if (k == 1) {
                        ackedAtFirstKill.set(traffic.ackOrder.size());
                    }
                    inFlightAtKill.add(traffic.inFlight.values().stream().mapToInt(AtomicInteger::get).sum());
                    server.kill9();
                    done.incrementAndGet();
                    restartMillis.add(server.start());
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }
    }

    private String report(String tag, long seed, Variant variant, Population population, Traffic traffic,
                          KillSwitch kills, Audit audit, int lateRepeats, long firstStartMs, long firstListeningMs,
                          long connectMs, long groupsMs, long trafficMs, long quietMs,
                          long totalMs) {
        int deviceCount = devices.size();
        long reconnects = devices.stream().mapToLong(d -> Math.max(0, d.sessions.get() - 1)).sum();
        long uniqueSends = MESSAGES + traffic.twins.get() + traffic.repeats.get();
        StringBuilder r = new StringBuilder();
        String line = "-".repeat(100) + "\n";
        r.append("\n").append(line);
        r.append(String.format(Locale.ROOT, "%s delivery under faults — store %s, seed %d%n", tag, variant.store,
                seed));
        r.append(line);
        int groups = population.groups().size();
        r.append(String.format(Locale.ROOT, "population   %d users (%d with 2-3 devices), %d devices, %d conversations"
                + " (%d 1:1, %d groups of %d-%d members with %d member devices in all)%n",
                population.devicesByUser().size(), population.multiDeviceUsers(), deviceCount,
                population.conversations().size(), population.conversations().size() - groups, groups,
                GROUP_MIN_MEMBERS, GROUP_MAX_MEMBERS, population.groupDevices()));
        r.append(String.format(Locale.ROOT, "traffic      %d messages, window %d per device, %.1f s, %.0f msg/s;"
                        + " %d sent twice at once (%d from two devices), %d repeated after their ack, %d repeated"
                        + " after the run%n", MESSAGES, WINDOW, trafficMs / 1000.0, MESSAGES * 1000.0 / trafficMs,
                traffic.twins.get(), traffic.crossDeviceTwins.get(), traffic.repeats.get() - lateRepeats,
                lateRepeats));
        r.append(String.format(Locale.ROOT, "proxy cuts   %d: random %d (RST %d, FIN %d), mass cut %d (%d"
                        + " connections), after a Send before its ack %d, ack dropped %d, mid-Deliver %d;"
                        + " %d connections accepted, %d reset while the server was down; forwarded %d SendAck and %d"
                        + " Deliver frames%n", proxy.totalCuts(),
                proxy.cuts(ChaosProxy.Cut.RANDOM_RST) + proxy.cuts(ChaosProxy.Cut.RANDOM_FIN),
                proxy.cuts(ChaosProxy.Cut.RANDOM_RST), proxy.cuts(ChaosProxy.Cut.RANDOM_FIN),
                proxy.cuts(ChaosProxy.Cut.MASS), proxy.massCutLinks(),
                proxy.cuts(ChaosProxy.Cut.AFTER_SEND), proxy.cuts(ChaosProxy.Cut.ACK_DROPPED),
                proxy.cuts(ChaosProxy.Cut.MID_DELIVER), proxy.accepted(), proxy.upstreamRefused(), proxy.ackFrames(),
                proxy.deliverFrames()));
        if (variant.kills > 0) {
            r.append(String.format(Locale.ROOT, "kill -9      %d of %d (sends in flight at each kill: %s), restart to"
                    + " accepting hellos: %s ms%n", kills.done.get(), variant.kills, kills.inFlightAtKill,
                    kills.restartMillis));
        } else {
            r.append("kill -9      none: the memory store keeps nothing across a restart by design, so this run"
                    + " has proxy faults and repeats only\n");
        }
        r.append(String.format(Locale.ROOT, "sdk          %d deliveries to listeners, %d reconnects; %d Send frames"
                        + " for %d sends (%d retransmitted);"
                        + " %d acks arrived on a later connection; server signals %s%n", audit.delivered(), reconnects,
                proxy.sendFrames(), uniqueSends, Math.max(0, proxy.sendFrames() - uniqueSends),
                traffic.acksAfterReconnect.get(), proxy.serverSignals().isEmpty() ? "none" : proxy.serverSignals()));
        r.append(String.format(Locale.ROOT, "timing       server start %d ms to the first HelloOk (port open at %d ms),"
                        + " connect %d ms, groups %d ms, traffic %d ms, quiescence %d ms, total"
                        + " %d ms%n", firstStartMs, firstListeningMs, connectMs, groupsMs, trafficMs, quietMs,
                totalMs));
        r.append(line);
        r.append(String.format(Locale.ROOT, "%-62s %10s %10s%n", "check", "count", "required"));
        row(r, "lost (acked, never reached a member device)", audit.lost(), "0");
        row(r, "   distinct messages lost", audit.lostMessages(), "0");
        row(r, "duplicated (the listener saw a message twice)", audit.duplicated(), "0");
        row(r, "reordered (seq not +1 per conversation, own sends aside)", audit.reordered(), "0");
        row(r, "seq reuse (one seq, two message ids)", audit.seqReuse(), "0");
        row(r, "idempotency (a repeat's ack differs or is not duplicate)", audit.idempotency(), "0");
        row(r, "diverged (device history != acked history)", audit.diverged(), "0");
        row(r, "seq holes (acked seqs not 1..n)", audit.seqHoles(), "0");
        row(r, "failed sends", traffic.failures.get(), "0");
        row(r, "recovered (reached a device only after it reconnected)", audit.recovered(), "-");
        row(r, "deliveries made / expected", (audit.expectedDeliveries()
                - audit.lost()) + "/" + audit.expectedDeliveries(), "all");
        row(r, "repeats answered duplicate=true with the original ack", traffic.repeatsDuplicate.get() + "/"
                + traffic.repeats.get(), "all");
        r.append("expected deliveries: each acked message x the devices of its conversation's members, except the"
                + " device(s) that got its ack; each group.event x every device of every member, the acting one"
                + " included\n");
        r.append(line);
        audit.examples().forEach((k, v) -> r.append(k).append(": ").append(v).append('\n'));
        return r.toString();
    }

    private static void row(StringBuilder r, String check, Object count, String required) {
        r.append(String.format(Locale.ROOT, "%-62s %10s %10s%n", check, count, required));
    }

    private static long ms(long nanoStart) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanoStart);
    }
}
