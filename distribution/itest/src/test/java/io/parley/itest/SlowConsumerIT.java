package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Ten devices that stop reading (bare sockets: hello, resume, then silence) among a hundred normal SDK clients
 * chatting 1:1 and in two groups, while the normal clients also push large messages at the silent users. On the
 * assembled server with {@code outbound.max.bytes} lowered to 256 KiB:
 * <ul>
 *   <li>each silent connection is cut off by the server as a slow consumer (its log says so, and what the socket
 *   still holds ends in EOF or a reset, bounded by the limit plus the kernel's buffers);</li>
 *   <li>server memory stays bounded: it runs with 32 MiB of direct memory while 40 MiB go to the silent users,
 *   its live heap after a full GC holds none of their frames, RSS is sampled throughout;</li>
 *   <li>the normal clients do not notice: every send acknowledged, every message delivered once and in order,
 *   delivery latency printed;</li>
 *   <li>the silent users then connect with the SDK under the same device ids and catch up through resume: every
 *   message of their conversations, once, in order.</li>
 * </ul>
 */
class SlowConsumerIT {
    static final int NORMAL = 100;
    static final int SLOW = 10;
    static final int OUTBOUND_MAX_BYTES = 256 * 1024;
    /** Receive buffer of a silent device: the server's writes stall after little data. */
    static final int SLOW_RCVBUF = 16 * 1024;
    /** Small messages: every CHAT_TICK_MILLIS, CHAT_PER_TICK normal users send one 1:1 message, one to a group. */
    static final int CHAT_TICK_MILLIS = 100;
    static final int CHAT_PER_TICK = 5;
    /** How long the chat runs alone before the large messages start: the latency baseline. */
    static final long QUIET_MILLIS = 3000;
    /** Large messages stop once this much was sent to a silent user without the server cutting it off. */
    static final long FLOOD_CAP_BYTES = 24L * 1024 * 1024;
    /**
     * After being cut off a silent user keeps receiving large messages up to this much in all (about 36 per
     * conversation, some 420 KB): the backlog its device catches up on later.
     */
    static final long BACKLOG_BYTES = 4L * 1024 * 1024;
    static final int STORE_CACHE_MB = 16;
    static final int MAX_DIRECT_MB = 32;
    /** 3,900 three-byte code points: 11,700 bytes of body, under the text type's 4,000 code points. */
    static final String BIG_TEXT = "\u4e2d".repeat(3900);
    static final int BIG_BYTES = BIG_TEXT.getBytes(StandardCharsets.UTF_8).length;
    static final int CHAT_WINDOW = 16;
    static final int BIG_WINDOW = 4;
    static final String NORMAL_DEVICE = "nd";
    static final String SLOW_DEVICE = "sd";

    @TempDir
    Path work;
    ServerProcess server;
    ClientResources resources;
    final List<ParleyClient> clients = new ArrayList<>();
    final List<RawDevice> silent = new ArrayList<>();

    /** A message as a listener saw it: enough to check order and identity without keeping bodies. */
    record Got(String conversation, long seq, String clientMsgId, String type) {
    }

    /** One acknowledged send. */
    record Sent(String sender, String clientMsgId, SendAck ack) {
    }

    final Map<String, Long> sentAtNanos = new ConcurrentHashMap<>();
    final Map<String, List<Got>> received = new ConcurrentHashMap<>();
    final Map<String, String> sentPhase = new ConcurrentHashMap<>();
    final Map<String, ConcurrentLinkedQueue<Long>> latenciesMicros = new ConcurrentHashMap<>();
    /** The traffic phase small messages are tagged with: "quiet" (chat alone), then "flood". */
    volatile String phase = "quiet";
    final ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<Throwable> sendFailures = new ConcurrentLinkedQueue<>();
    final Map<String, Long> groupEventSeqs = new ConcurrentHashMap<>();
    final Map<String, Set<String>> groupMembers = new ConcurrentHashMap<>();
    final AtomicLong normalDeliveries = new AtomicLong();

    @AfterEach
    void stop() throws Exception {
        clients.forEach(ParleyClient::closeAsync);
        for (RawDevice d : silent) {
            d.close();
        }
        if (resources != null) {
            resources.close();
        }
        if (server != null) {
            server.close();
        }
    }

    static String normal(int i) {
        return String.format("n%02d", i);
    }

    static String slow(int k) {
        return "s" + k;
    }

    @Test
    @Timeout(value = 170, unit = TimeUnit.SECONDS)
    void silentDevicesAreCutOffWhileEveryoneElseIsServedAndTheyCatchUpAfterwards() throws Exception {
        long t0 = System.nanoTime();
        server = new ServerProcess(work);
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.tcp.cfg"), "outbound.max.bytes",
                Integer.toString(OUTBOUND_MAX_BYTES));
        // resume pages must fit well inside the outbound bound (docs: page.max.bytes), with room for live traffic
        ServerProcess.setKey(server.home.resolve("conf/parley.core.cfg"), "page.max.bytes",
                Integer.toString(OUTBOUND_MAX_BYTES / 4));
        // A store page cache smaller than the silent users' traffic, so that traffic cannot hide in the live heap (the
        // default rocksdb keeps its 32 MiB block cache off the heap; the key below sizes mvstore's when it is chosen),
        // and a direct memory cap (Netty's pooled buffers count against it) below what is sent to the silent users:
        // a server that kept their frames would fail with OutOfDirectMemoryError.
        ServerProcess.setKey(server.home.resolve("conf/parley.store.mvstore.cfg"), "cache.mb", Integer.toString(STORE_CACHE_MB));
        Files.writeString(server.home.resolve("conf/jvm.options"), "-XX:MaxDirectMemorySize=" + MAX_DIRECT_MB + "m\n",
                StandardOpenOption.APPEND);
        // the TCP transport on io_uring (opt-in; every other distribution test runs it on epoll): back-pressure, the
        // outbound bound and cut-offs must hold on both native transports
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.tcp.cfg"), "io.uring", "true");
        server.start();
        assertTrue(server.log().matches("(?s).*Parley TCP listening on \\S+ \\(plaintext, io_uring, .*"),
                "the TCP transport runs on io_uring");
        long pid = server.pid();
        System.out.printf("[slow] server up in %d ms (pid %d)%n", ms(t0), pid);

        // silent devices: hello and an (empty) resume, then they never read again
        Map<Integer, Integer> slowByLocalPort = new HashMap<>();
        for (int k = 0; k < SLOW; k++) {
            RawDevice d = new RawDevice(server.port, SLOW_RCVBUF);
            silent.add(d);
            d.hello(server.tokens().mint(slow(k), null, Duration.ofMinutes(30)), SLOW_DEVICE);
            SyncResponse list = d.resume(0);
            assertEquals(0, list.getConversationsCount(), "a new user has no conversations");
            assertTrue(d.read().getSyncResponse().getDone(), "the empty resume ends at once");
            slowByLocalPort.put(d.localPort(), k);
        }

        // normal clients on one shared two-thread event loop group
        resources = ClientResources.nio(2);
        List<ParleyClient> normals = new ArrayList<>();
        List<CompletableFuture<Void>> connects = new ArrayList<>();
        for (int i = 0; i < NORMAL; i++) {
            ParleyClient c = sdkClient(normal(i), NORMAL_DEVICE, null);
            normals.add(c);
            connects.add(c.connect());
        }
        CompletableFuture.allOf(connects.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        System.out.printf("[slow] %d SDK clients and %d silent sockets connected at %d ms%n", NORMAL, SLOW, ms(t0));

        // two groups with normal and silent members
        String g0 = createGroup(normals.get(0), normal(0), "g0", range(1, 20), List.of(slow(0), slow(1)));
        String g1 = createGroup(normals.get(20), normal(20), "g1", range(21, 40), List.of(slow(2), slow(3), slow(4)));

        List<Semaphore> chatWindows = semaphores(CHAT_WINDOW);
        List<Semaphore> bigWindows = semaphores(BIG_WINDOW);
        List<CompletableFuture<SendAck>> sends = Collections.synchronizedList(new ArrayList<>());
        long[] bigBytesTo = new long[SLOW];
        Set<Integer> cutOff = new HashSet<>();
        ServerMemory.Histogram liveBefore = ServerMemory.liveHistogram(pid);
        long rssBefore = ServerMemory.rssKib(pid);
        try (ServerMemory.RssSampler rss = new ServerMemory.RssSampler(pid, 100)) {
            // paced chat among the normal users, first alone (the baseline), then beside the flood
            AtomicBoolean chatting = new AtomicBoolean(true);
            AtomicReference<Throwable> chatError = new AtomicReference<>();
            Thread chat = new Thread(() -> {
                try {
                    chatLoop(normals, chatWindows, g0, g1, sends, chatting);
                } catch (Throwable e) {
                    chatError.set(e);
                }
            }, "chat-driver");
            chat.setDaemon(true);
            long tTraffic = System.nanoTime();
            chat.start();
            Thread.sleep(QUIET_MILLIS); // how long the baseline phase lasts, not a wait for something to happen
            phase = "flood";
            long tFlood = System.nanoTime();
            int rounds = 0;
            while (true) {
                boolean more = false;
                for (int k = 0; k < SLOW; k++) {
                    more |= floodMore(k, bigBytesTo, cutOff);
                }
                if (!more) {
                    break;
                }
                for (int i = 0; i < NORMAL; i++) {
                    int k = i % SLOW;
                    if (floodMore(k, bigBytesTo, cutOff)) {
                        sends.add(send(normals.get(i), bigWindows.get(i), normal(i), Send.newBuilder().setPeer(slow(k)),
                                BIG_TEXT, null));
                        bigBytesTo[k] += BIG_BYTES;
                    }
                }
                rounds++;
                cutOff = cutOffPorts(slowByLocalPort);
            }
            long floodMillis = ms(tFlood);
            chatting.set(false);
            chat.join(30_000);
            assertEquals(null, chatError.get(), "chat driver");
            System.out.printf("[slow] flood: %d rounds of large messages in %d ms; %d of %d silent devices cut off;"
                    + " %d sends in all%n", rounds, floodMillis, cutOff.size(), SLOW, sends.size());
            List<CompletableFuture<SendAck>> all;
            synchronized (sends) {
                all = new ArrayList<>(sends);
            }
            for (CompletableFuture<SendAck> f : all) {
                f.get(90, TimeUnit.SECONDS);
            }
            long tAcked = System.nanoTime();
            System.out.printf("[slow] all %d sends acknowledged %d ms after the traffic began (%.0f msgs/s)%n",
                    all.size(), ms(tTraffic), all.size() * 1e9 / (tAcked - tTraffic));
            assertTrue(sendFailures.isEmpty(), "send failures: " + sendFailures);

            // every message to a normal user is delivered (the SDK checks order; this test checks again below)
            long expectedNormal = expectedNormalDeliveries();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (normalDeliveries.get() < expectedNormal && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(expectedNormal, normalDeliveries.get(), "deliveries to normal users");
            long rssMax = rss.maxKib();

            ServerMemory.Histogram live = ServerMemory.liveHistogram(pid);
            long rssAfter = ServerMemory.rssKib(pid);
            long pushed = Arrays.stream(bigBytesTo).sum();
            System.out.printf("[slow] server memory (heap max 512 MiB, direct max %d MiB): RSS %d MiB before the"
                            + " traffic, max %d MiB during it (%d samples), %d MiB after; live heap after a full GC"
                            + " %d MiB before, %d MiB after, %d live Message and %d Frame objects; %d MiB of large"
                            + " messages were sent to the silent users%n", MAX_DIRECT_MB,
                    rssBefore / 1024, rssMax / 1024, rss.samples(), rssAfter / 1024, liveBefore.totalBytes() >> 20,
                    live.totalBytes() >> 20, live.instances("io.parley.core.proto.Message"),
                    live.instances("io.parley.core.proto.Frame"), pushed >> 20);
            assertEquals(SLOW, cutOff.size(), "every silent device is cut off as a slow consumer; cut off: " + cutOff
                    + ", bytes sent to each: " + Arrays.toString(bigBytesTo));
            assertTrue(pushed > (long) MAX_DIRECT_MB << 20, "more was sent to the silent users than the direct memory cap");
            String log = server.log();
            assertTrue(!log.contains("OutOfDirectMemoryError") && !log.contains("OutOfMemoryError"),
                    "the server ran out of memory; see " + server.home.resolve("logs"));
            // with the silent sockets still open and unread: nothing of theirs is held (the store's page cache
            // accounts for most of the growth)
            long growth = live.totalBytes() - liveBefore.totalBytes();
            assertTrue(growth < (STORE_CACHE_MB + 16L) << 20, "live heap grew by " + (growth >> 20) + " MiB");
            assertTrue(live.instances("io.parley.core.proto.Message") < 100,
                    "live Message objects: " + live.instances("io.parley.core.proto.Message"));
            assertTrue(live.instances("io.parley.core.proto.Frame") < 100,
                    "live Frame objects: " + live.instances("io.parley.core.proto.Frame"));
            // a sanity bound only: the heap may grow towards -Xmx with garbage, and Netty's pools keep what they took
            assertTrue(rssMax < 900 * 1024, "server RSS peaked at " + rssMax / 1024 + " MiB");
        }
        Map<String, Long> p99 = printLatencies();
        // Generous for a shared two-core machine running the clients, the server and other builds at once; a server
        // stalled behind the silent sockets would time the sends out (30 s) long before.
        assertTrue(p99.get("flood") < 10_000_000, "p99 delivery latency during the flood: " + p99.get("flood") + " us");
        verifyNormalUsers();

        // the silent sockets: what is left in them, then EOF or a reset. At most the server's limit, the kernel's
        // send buffer (autotuned up to tcp_wmem's maximum), the receive buffer (the kernel doubles the asked size)
        // and a last large frame.
        long wmemMax = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/net/ipv4/tcp_wmem")).get(0).trim().split("\\s+")[2]);
        long leftBound = OUTBOUND_MAX_BYTES + wmemMax + 2L * SLOW_RCVBUF + 2L * BIG_BYTES;
        for (int k = 0; k < SLOW; k++) {
            RawDevice.Drained d = silent.get(k).drainUntilClosed(Duration.ofSeconds(15));
            System.out.printf("[slow] %s: %d bytes left in the socket (%d frames, %d messages, notice %s%s), then %s;"
                            + " %d KiB of large messages were sent to it%n", slow(k), d.bytes(), d.frames(),
                    d.deliveredMessages(), d.notice() == null ? "none" : d.notice().getKind(),
                    d.truncatedTail() ? ", last frame cut short" : "", d.ending(), bigBytesTo[k] >> 10);
            assertTrue(d.bytes() <= leftBound, slow(k) + " got " + d.bytes() + " bytes, bound " + leftBound);
        }

        // the silent users come back with the SDK under the same device ids and catch up
        long tCatchUp = System.nanoTime();
        Map<String, AtomicInteger> slowDisconnects = new ConcurrentHashMap<>();
        List<ParleyClient> returning = new ArrayList<>();
        List<CompletableFuture<Void>> resumed = new ArrayList<>();
        for (int k = 0; k < SLOW; k++) {
            String user = slow(k);
            ConnectionListener cl = new ConnectionListener() {
                @Override
                public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                    slowDisconnects.computeIfAbsent(user + " " + reason, x -> new AtomicInteger()).incrementAndGet();
                }
            };
            ParleyClient c = sdkClient(user, SLOW_DEVICE, cl);
            returning.add(c);
            resumed.add(c.connect());
        }
        try {
            CompletableFuture.allOf(resumed.toArray(CompletableFuture[]::new)).get(45, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            fail("the returning users did not finish their resume within 45 s; disconnects: " + slowDisconnects
                    + "; messages received so far: " + countReceived(SLOW_DEVICE) + " (a resume page of large"
                    + " messages bigger than outbound.max.bytes is cut off as a slow consumer on every attempt)");
        }
        long caughtUp = countReceived(SLOW_DEVICE);
        System.out.printf("[slow] %d returning users caught up on %d messages in %d ms; disconnects meanwhile: %s%n",
                SLOW, caughtUp, ms(tCatchUp), slowDisconnects);
        verifySlowUsers();
        System.out.printf("[slow] done in %d ms%n", ms(t0));
    }

    // ------------------------------------------------------------------------------------------------ traffic

    ParleyClient sdkClient(String user, String device, ConnectionListener listener) {
        String key = user + "/" + device;
        ParleyClient.Builder b = server.clientBuilder(user, device, server.port).resources(resources)
                .requestTimeout(Duration.ofSeconds(30)).sendTimeout(Duration.ofSeconds(90))
                .messageListener(m -> {
                    received.computeIfAbsent(key, x -> Collections.synchronizedList(new ArrayList<>()))
                            .add(new Got(m.getConversation(), m.getSeq(), m.getClientMsgId(), m.getType()));
                    Long at = sentAtNanos.get(m.getClientMsgId());
                    if (device.equals(NORMAL_DEVICE) && !Groups.isEvent(m)) {
                        normalDeliveries.incrementAndGet();
                        if (at != null) {
                            latenciesMicros.computeIfAbsent(sentPhase.get(m.getClientMsgId()),
                                    x -> new ConcurrentLinkedQueue<>()).add((System.nanoTime() - at) / 1000);
                        }
                    }
                });
        if (listener != null) {
            b.connectionListener(listener);
        }
        ParleyClient c = b.build();
        clients.add(c);
        return c;
    }

    /**
     * Sends a text within {@code window}; {@code phase} names the traffic phase of a small message (its delivery
     * latency is recorded), null for a large one.
     */
    CompletableFuture<SendAck> send(ParleyClient c, Semaphore window, String sender, Send.Builder to, String text,
                                    String phase) throws InterruptedException {
        window.acquire();
        String id = c.newClientMsgId();
        if (phase != null) {
            sentPhase.put(id, phase);
            sentAtNanos.put(id, System.nanoTime());
        }
        CompletableFuture<SendAck> f = c.send(to.setClientMsgId(id).setType(Bodies.TEXT_TYPE)
                .setBody(Bodies.text(text)).build());
        return f.whenComplete((ack, e) -> {
            window.release();
            if (ack != null) {
                sent.add(new Sent(sender, id, ack));
            } else {
                sendFailures.add(e);
            }
        });
    }

    List<Semaphore> semaphores(int permits) {
        List<Semaphore> out = new ArrayList<>();
        for (int i = 0; i < NORMAL; i++) {
            out.add(new Semaphore(permits));
        }
        return out;
    }

    static boolean floodMore(int k, long[] bigBytesTo, Set<Integer> cutOff) {
        return bigBytesTo[k] < FLOOD_CAP_BYTES && (!cutOff.contains(k) || bigBytesTo[k] < BACKLOG_BYTES);
    }

    /**
     * Until {@code chatting} is cleared: every tick, the next CHAT_PER_TICK normal users (round robin) send a small
     * message to their peer at +1 or +37 (alternating per lap), and one group member (round robin) to its group.
     */
    void chatLoop(List<ParleyClient> normals, List<Semaphore> windows, String g0, String g1,
                  List<CompletableFuture<SendAck>> sends, AtomicBoolean chatting) throws InterruptedException {
        long tickNanos = TimeUnit.MILLISECONDS.toNanos(CHAT_TICK_MILLIS);
        long next = System.nanoTime();
        long n = 0;
        for (long tick = 0; chatting.get(); tick++) {
            String p = phase;
            for (int j = 0; j < CHAT_PER_TICK; j++, n++) {
                int i = (int) (n % NORMAL);
                int peer = (i + ((n / NORMAL) % 2 == 0 ? 1 : 37)) % NORMAL;
                sends.add(send(normals.get(i), windows.get(i), normal(i), Send.newBuilder().setPeer(normal(peer)),
                        "c" + n, p));
            }
            int a = (int) (tick % 40); // members of g0 are n00..n19, of g1 n20..n39
            sends.add(send(normals.get(a), windows.get(a), normal(a),
                    Send.newBuilder().setConversation(Groups.conversationOf(a < 20 ? g0 : g1)), "g" + tick, p));
            next += tickNanos;
            long wait = next - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
        }
    }

    String createGroup(ParleyClient owner, String ownerId, String name, List<String> normalMembers,
                       List<String> slowMembers) throws Exception {
        List<String> members = new ArrayList<>(normalMembers);
        members.addAll(slowMembers);
        GroupResponse r = owner.groupRequest(GroupRequest.newBuilder().setCreate(GroupRequest.Create.newBuilder()
                .setName(name).addAllMembers(members)).build()).get(30, TimeUnit.SECONDS);
        groupEventSeqs.put(r.getGroup().getConversation(), r.getEventSeq());
        Set<String> all = new HashSet<>(members);
        all.add(ownerId);
        groupMembers.put(r.getGroup().getConversation(), all);
        return r.getGroup().getId();
    }

    static List<String> range(int from, int to) {
        List<String> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(normal(i));
        }
        return out;
    }

    /** @return the silent devices whose connection the server's log reports closed as a slow consumer */
    Set<Integer> cutOffPorts(Map<Integer, Integer> slowByLocalPort) {
        Set<Integer> out = new HashSet<>();
        for (String line : server.log().split("\n")) {
            if (!line.contains("slow consumer")) {
                continue;
            }
            for (Map.Entry<Integer, Integer> e : slowByLocalPort.entrySet()) {
                if (line.contains("127.0.0.1:" + e.getKey() + ":")) {
                    out.add(e.getValue());
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ checks

    /** Messages in each conversation, by seq: acknowledged sends and group events. */
    Map<String, TreeMap<Long, String>> history() {
        Map<String, TreeMap<Long, String>> h = new HashMap<>();
        for (Sent s : sent) {
            String previous = h.computeIfAbsent(s.ack().getConversation(), x -> new TreeMap<>())
                    .put(s.ack().getSeq(), s.clientMsgId());
            assertEquals(null, previous, "seq " + s.ack().getSeq() + " acknowledged twice in " + s.ack().getConversation());
        }
        groupEventSeqs.forEach((conv, seq) -> h.computeIfAbsent(conv, x -> new TreeMap<>()).put(seq, "event"));
        h.forEach((conv, seqs) -> assertEquals(seqs.size(), seqs.lastKey(), conv + " has gaps: only our clients write to it"));
        return h;
    }

    /** @return the members of a 1:1 conversation or of one of the test's groups */
    Set<String> members(String conversation) {
        if (Groups.isGroupConversation(conversation)) {
            return groupMembers.get(conversation);
        }
        return new HashSet<>(Arrays.asList(conversation.substring(2).split(":")));
    }

    long expectedNormalDeliveries() {
        long n = 0;
        for (Sent s : sent) {
            for (String member : members(s.ack().getConversation())) {
                if (!member.equals(s.sender()) && member.startsWith("n")) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Each normal device saw, per conversation, every seq except its own sends, each once, in order. */
    void verifyNormalUsers() {
        Map<String, TreeMap<Long, String>> history = history();
        Map<String, Set<Long>> ownSeqs = new HashMap<>();
        for (Sent s : sent) {
            ownSeqs.computeIfAbsent(s.sender() + "|" + s.ack().getConversation(), x -> new HashSet<>()).add(s.ack().getSeq());
        }
        int checked = 0;
        for (int i = 0; i < NORMAL; i++) {
            String user = normal(i);
            Map<String, List<Got>> byConv = byConversation(received.getOrDefault(user + "/" + NORMAL_DEVICE, List.of()));
            for (Map.Entry<String, TreeMap<Long, String>> e : history.entrySet()) {
                String conv = e.getKey();
                if (!members(conv).contains(user)) {
                    continue;
                }
                Set<Long> own = ownSeqs.getOrDefault(user + "|" + conv, Set.of());
                List<Long> want = new ArrayList<>();
                for (Map.Entry<Long, String> m : e.getValue().entrySet()) {
                    if (!own.contains(m.getKey())) {
                        want.add(m.getKey());
                    }
                }
                List<Got> got = byConv.getOrDefault(conv, List.of());
                assertEquals(want, got.stream().map(Got::seq).toList(), user + " in " + conv);
                for (Got g : got) {
                    String id = e.getValue().get(g.seq());
                    if (!id.equals("event")) {
                        assertEquals(id, g.clientMsgId(), user + " in " + conv + " seq " + g.seq());
                    }
                }
                checked++;
            }
        }
        System.out.printf("[slow] %d normal (user, conversation) streams complete, once each, in order%n", checked);
    }

    /** Each returning device got every seq of each of its conversations once, in order. */
    void verifySlowUsers() {
        Map<String, TreeMap<Long, String>> history = history();
        int messages = 0;
        for (int k = 0; k < SLOW; k++) {
            String user = slow(k);
            Map<String, List<Got>> byConv = byConversation(received.getOrDefault(user + "/" + SLOW_DEVICE, List.of()));
            int expectedConvs = 0;
            for (Map.Entry<String, TreeMap<Long, String>> e : history.entrySet()) {
                String conv = e.getKey();
                if (!members(conv).contains(user)) {
                    continue;
                }
                expectedConvs++;
                List<Got> got = byConv.getOrDefault(conv, List.of());
                assertEquals(new ArrayList<>(e.getValue().keySet()), got.stream().map(Got::seq).toList(),
                        user + " in " + conv);
                for (Got g : got) {
                    String id = e.getValue().get(g.seq());
                    if (!id.equals("event")) {
                        assertEquals(id, g.clientMsgId(), user + " in " + conv + " seq " + g.seq());
                    }
                }
                messages += got.size();
            }
            long groups = groupMembers.values().stream().filter(m -> m.contains(user)).count();
            assertEquals(NORMAL / SLOW + groups, expectedConvs, user + "'s conversations");
            assertEquals(expectedConvs, byConv.size(), user + " received messages only from its conversations");
        }
        System.out.printf("[slow] the %d returning users got all %d messages of their conversations, once, in order%n",
                SLOW, messages);
    }

    static Map<String, List<Got>> byConversation(List<Got> got) {
        Map<String, List<Got>> out = new HashMap<>();
        synchronized (got) {
            for (Got g : got) {
                out.computeIfAbsent(g.conversation(), x -> new ArrayList<>()).add(g);
            }
        }
        return out;
    }

    long countReceived(String device) {
        long n = 0;
        for (Map.Entry<String, List<Got>> e : received.entrySet()) {
            if (e.getKey().endsWith("/" + device)) {
                n += e.getValue().size();
            }
        }
        return n;
    }

    /** Prints delivery latency percentiles per phase; @return the p99 per phase, in microseconds */
    Map<String, Long> printLatencies() {
        Map<String, Long> p99 = new TreeMap<>();
        for (String p : List.of("quiet", "flood")) {
            long[] l = latenciesMicros.getOrDefault(p, new ConcurrentLinkedQueue<>()).stream()
                    .mapToLong(Long::longValue).sorted().toArray();
            assertTrue(l.length > 0, "latencies recorded in phase " + p);
            System.out.printf("[slow] delivery latency to normal users, %s phase, %d messages: p50 %.1f ms,"
                            + " p99 %.1f ms, max %.1f ms%n", p, l.length, l[l.length / 2] / 1000.0,
                    l[(int) (l.length * 0.99)] / 1000.0, l[l.length - 1] / 1000.0);
            p99.put(p, l[(int) (l.length * 0.99)]);
        }
        return p99;
    }

    static long ms(long since) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }
}
