package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.ParleyClient;
import io.parley.client.ReadListener;
import io.parley.core.proto.DeliveryUpdate;
import io.parley.core.proto.Group;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three copies of the assembled server as one cluster (docs/cluster.md): each its own process, ports and node id,
 * all on the Redis store and the Redis cluster link from extras/, on one redis-server this test starts (its own port
 * and directory; the test fails, not skips, without redis-server). Users on different nodes chat 1:1 and in a group,
 * with delivery and read receipts and typing crossing nodes; then the node two of them are on is killed with
 * {@code kill -9} while the others keep sending, their connections fail over (through a proxy, as through a load
 * balancer) to another node, and every device ends with every message of its conversations exactly once, in order.
 */
class ClusterIT {

    private static final int LEASE_SECONDS = 4;

    @TempDir
    Path work;

    private final List<ParleyClient> clients = new ArrayList<>();

    @Test
    void threeNodesChatAndSurviveTheKillOfOne() throws Exception {
        Process redis = startRedis(work.resolve("redis"));
        List<ServerProcess> nodes = new ArrayList<>();
        try (Failover proxy = new Failover()) {
            for (String id : List.of("n1", "n2", "n3")) {
                nodes.add(node(id, redisPort));
            }
            startAll(nodes);
            ServerProcess n1 = nodes.get(0);
            ServerProcess n2 = nodes.get(1);
            ServerProcess n3 = nodes.get(2);
            proxy.to(n1.port);

            // alice and dave are on n1 (through the proxy), bob on n2, carol on n3
            Device alice = device(n1, "alice", "a-phone", proxy.port());
            Device dave = device(n1, "dave", "d-phone", proxy.port());
            Device bob = device(n2, "bob", "b-phone", n2.port);
            Device carol = device(n3, "carol", "c-laptop", n3.port);

            // 1:1 across nodes, with the delivery receipt and the read receipt coming back
            SendAck first = alice.client.sendText("bob", "hi bob").get(15, TimeUnit.SECONDS);
            Message got = bob.next();
            assertEquals("hi bob", Bodies.textOf(got));
            DeliveryUpdate delivered = alice.delivered.poll(15, TimeUnit.SECONDS);
            assertNotNull(delivered, "bob's device (on n2) acknowledged: alice (on n1) sees delivered");
            assertEquals("bob", delivered.getUser());
            bob.client.markRead(first.getConversation(), first.getSeq());
            ReadUpdate read = alice.reads.poll(15, TimeUnit.SECONDS);
            assertNotNull(read, "read receipt across nodes");
            assertEquals(first.getSeq(), read.getSeq());
            bob.client.typing(first.getConversation(), true);
            assertNotNull(alice.typing.poll(15, TimeUnit.SECONDS), "typing across nodes");
            bob.client.sendText("alice", "hi alice").get(15, TimeUnit.SECONDS);
            assertEquals("hi alice", Bodies.textOf(alice.next()));

            // a group with a member on every node
            Group team = carol.client.createGroup("team", List.of("alice", "bob", "dave")).get(15, TimeUnit.SECONDS);
            for (Device d : List.of(alice, bob, carol, dave)) {
                assertEquals("group.event", d.next().getType(), d.user + " got the group's creation");
            }
            for (Device d : List.of(alice, bob, carol, dave)) {
                d.client.sendTextToGroup(team.getId(), "hello from " + d.user).get(15, TimeUnit.SECONDS);
            }
            for (Device d : List.of(alice, bob, carol, dave)) {
                for (int i = 0; i < 3; i++) {
                    assertTrue(Bodies.textOf(d.next()).startsWith("hello from "), d.user);
                }
            }

            // everyone keeps sending while n1 dies (alice from n1: her unacknowledged sends are re-sent after her
            // reconnect, under the same client_msg_id); alice and dave come back through n2
            ExecutorService senders = Executors.newFixedThreadPool(3);
            AtomicInteger sent = new AtomicInteger();
            List<Future<?>> sending = List.of(
                    senders.submit(() -> sendMany(bob, "alice", null, 40, sent)),
                    senders.submit(() -> sendMany(carol, null, team.getId(), 40, sent)),
                    senders.submit(() -> sendMany(alice, null, team.getId(), 30, sent)));
            awaitTrue(() -> sent.get() >= 30, 30_000, "traffic before the kill");
            n1.kill9();
            long killed = System.nanoTime();
            proxy.to(n2.port); // the load balancer sends n1's clients to n2 now
            awaitTrue(() -> alice.sessions.get() >= 2 && dave.sessions.get() >= 2, 30_000,
                    "alice and dave reconnected (to n2)");
            System.out.printf("ClusterIT: n1 killed; alice and dave had a session on n2 %d ms later%n",
                    TimeUnit.MILLISECONDS.convert(Math.max(alice.lastConnected, dave.lastConnected) - killed,
                            TimeUnit.NANOSECONDS));
            for (Future<?> f : sending) {
                f.get(60, TimeUnit.SECONDS);
            }
            senders.shutdown();
            alice.client.sendText("bob", "back").get(15, TimeUnit.SECONDS);
            awaitTrue(() -> bob.received.stream().anyMatch(m -> m.getType().equals("text")
                    && Bodies.textOf(m).equals("back")), 15_000, "alice, now on n2, reaches bob");

            // every device ends with every message of its conversations, once, in order
            ParleyClient reader = client(n3, "carol", "auditor", n3.port, null);
            for (Device d : List.of(alice, bob, carol, dave)) {
                for (String conversation : List.of(first.getConversation(), team.getConversation())) {
                    if (conversation.equals(first.getConversation()) && !(d == alice || d == bob)) {
                        continue;
                    }
                    List<Message> history = history(conversation.equals(team.getConversation()) ? reader
                            : bob.client, conversation);
                    List<Long> expected = new ArrayList<>();
                    for (Message m : history) {
                        boolean own = m.getSender().equals(d.user) && m.getSenderDevice().equals(d.device)
                                && !m.getType().equals("group.event");
                        if (!own) {
                            expected.add(m.getSeq());
                        }
                    }
                    awaitTrue(() -> d.seqs(conversation).size() >= expected.size(), 20_000,
                            d.user + " received all of " + conversation);
                    assertEquals(expected, d.seqs(conversation), d.user + "/" + d.device + " in " + conversation
                            + ": every message once, in order");
                }
            }
            // and every send, re-sent across the kill or not, is stored exactly once
            Map<String, Integer> copies = new ConcurrentHashMap<>();
            for (Message m : history(reader, team.getConversation())) {
                if (m.getType().equals("text")) {
                    copies.merge(Bodies.textOf(m), 1, Integer::sum);
                }
            }
            for (int i = 0; i < 30; i++) {
                assertEquals(1, copies.getOrDefault("alice " + i, 0), "alice " + i + " stored once");
            }
            for (int i = 0; i < 40; i++) {
                assertEquals(1, copies.getOrDefault("carol " + i, 0), "carol " + i + " stored once");
            }
        } catch (Throwable t) {
            // the nodes' homes are in a @TempDir, gone after the test: what they logged goes with the failure
            throw new AssertionError(t.getMessage() + nodeLogTails(nodes), t);
        } finally {
            clients.forEach(ParleyClient::close);
            for (ServerProcess n : nodes) {
                n.close();
            }
            redis.destroyForcibly();
            redis.waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- nodes

    private int redisPort;

    private Process startRedis(Path dir) throws Exception {
        Files.createDirectories(dir);
        redisPort = ServerProcess.freePort();
        Process p;
        try {
            p = new ProcessBuilder("redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                    "--dir", dir.toString(), "--save", "", "--appendonly", "no", "--daemonize", "no")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("redis.out").toFile()).start();
        } catch (IOException e) {
            throw new AssertionError("redis-server is not installed: ClusterIT starts its own (apt-get install "
                    + "redis-server; .ci/run installs it)", e);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), redisPort)) {
                return p;
            } catch (IOException notYet) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("redis-server did not start: " + Files.readString(dir.resolve("redis.out")));
                }
                Thread.sleep(20);
            }
        }
    }

    /** A copy of the distribution as cluster node {@code id}: the Redis store and the cluster link deployed. */
    private ServerProcess node(String id, int redisPort) throws IOException {
        ServerProcess node = new ServerProcess(Files.createDirectories(work.resolve(id)));
        String redis = "redis://127.0.0.1:" + redisPort + "/0";
        for (String jar : List.of("parley-store-redis.jar", "parley-cluster-redis.jar")) {
            Path extra = node.home.resolve("extras").resolve(jar);
            assertTrue(Files.isRegularFile(extra), "the distribution ships extras/" + jar);
            Files.copy(extra, node.home.resolve("deploy").resolve(jar));
        }
        ServerProcess.setKey(node.home.resolve("conf/parley.store.redis.cfg"), "uri", redis);
        ServerProcess.setKey(node.home.resolve("conf/parley.core.cfg"), "node.id", id);
        Path cluster = node.home.resolve("conf/parley.cluster.redis.cfg");
        ServerProcess.setKey(cluster, "node.id", id);
        ServerProcess.setKey(cluster, "redis.uri", redis);
        ServerProcess.setKey(cluster, "lease.seconds", Integer.toString(LEASE_SECONDS));
        ServerProcess.setKey(cluster, "heartbeat.seconds", "1");
        node.useStore("redis");
        return node;
    }

    /** Starts the nodes one after the other (three JVMs starting at once starve a small machine), then waits until
     *  each has joined the cluster. */
    private static void startAll(List<ServerProcess> nodes) throws Exception {
        for (ServerProcess n : nodes) {
            long millis = n.start();
            System.out.printf("ClusterIT: %s ready for clients in %d ms%n", n.home.getParent().getFileName(), millis);
        }
        for (ServerProcess n : nodes) {
            awaitTrue(() -> n.log().contains("Cluster link bound"), 30_000, "node joined the cluster: " + n.home);
        }
    }

    /** The last lines of each node's log and console output, for a failure's message. */
    private static String nodeLogTails(List<ServerProcess> nodes) {
        StringBuilder tails = new StringBuilder();
        for (ServerProcess n : nodes) {
            for (String name : List.of("logs/parley.log", "logs/test-console.log")) {
                Path file = n.home.resolve(name);
                tails.append("\n--- ").append(n.home.getParent().getFileName()).append('/').append(name).append(" (tail)\n");
                try {
                    List<String> lines = Files.exists(file) ? Files.readAllLines(file) : List.of("(none)");
                    lines.subList(Math.max(0, lines.size() - 30), lines.size())
                            .forEach(line -> tails.append(line).append('\n'));
                } catch (IOException | RuntimeException e) {
                    tails.append("(unreadable: ").append(e).append(")\n");
                }
            }
        }
        return tails.toString();
    }

    // ---------------------------------------------------------------- devices

    /** One device: what it received (per conversation, in order), its receipts, and its sessions. */
    private final class Device implements ConnectionListener, ReadListener {
        final String user;
        final String device;
        final ParleyClient client;
        final LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        final ConcurrentLinkedQueue<Message> received = new ConcurrentLinkedQueue<>();
        final LinkedBlockingQueue<DeliveryUpdate> delivered = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<ReadUpdate> reads = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<Object> typing = new LinkedBlockingQueue<>();
        final AtomicInteger sessions = new AtomicInteger();
        volatile long lastConnected;
        final Map<String, List<Long>> seqs = new ConcurrentHashMap<>();

        Device(ServerProcess server, String user, String device, int port) throws Exception {
            this.user = user;
            this.device = device;
            this.client = client(server, user, device, port, this);
        }

        void onMessage(Message m) {
            received.add(m);
            inbox.add(m);
            seqs.computeIfAbsent(m.getConversation(), c -> java.util.Collections.synchronizedList(new ArrayList<>()))
                    .add(m.getSeq());
        }

        Message next() throws InterruptedException {
            Message m = inbox.poll(15, TimeUnit.SECONDS);
            assertNotNull(m, user + " expected a message");
            return m;
        }

        List<Long> seqs(String conversation) {
            List<Long> s = seqs.get(conversation);
            return s == null ? List.of() : List.copyOf(s);
        }

        @Override
        public void onConnected(HelloOk session) {
            lastConnected = System.nanoTime();
            sessions.incrementAndGet();
        }

        @Override
        public void onDisconnected(DisconnectReason reason, boolean willRetry) {
        }

        @Override
        public void onRead(ReadUpdate update) {
            reads.add(update);
        }

        @Override
        public void onDelivered(DeliveryUpdate update) {
            delivered.add(update);
        }
    }

    private Device device(ServerProcess server, String user, String device, int port) throws Exception {
        return new Device(server, user, device, port);
    }

    private ParleyClient client(ServerProcess server, String user, String device, int port, Device d) throws Exception {
        ParleyClient.Builder b = server.clientBuilder(user, device, port)
                .reconnectBackoff(Duration.ofMillis(100), Duration.ofMillis(500));
        if (d != null) {
            b.messageListener(d::onMessage).connectionListener(d).readListener(d)
                    .typingListener(d.typing::add);
        }
        ParleyClient c = b.build();
        clients.add(c);
        c.connect().get(20, TimeUnit.SECONDS);
        return c;
    }

    /** Sends {@code count} texts to {@code peer} or the group, one after the other, each acknowledged. */
    private static Void sendMany(Device from, String peer, String groupId, int count, AtomicInteger sent) throws Exception {
        for (int i = 0; i < count; i++) {
            String text = from.user + " " + i;
            CompletableFuture<SendAck> ack = peer != null ? from.client.sendText(peer, text)
                    : from.client.sendTextToGroup(groupId, text);
            ack.get(30, TimeUnit.SECONDS);
            sent.incrementAndGet();
            Thread.sleep(25);
        }
        return null;
    }

    private static List<Message> history(ParleyClient client, String conversation) throws Exception {
        List<Message> out = new ArrayList<>();
        long from = 1;
        while (true) {
            SyncResponse page = client.syncRange(conversation, from, 0, 200).get(15, TimeUnit.SECONDS);
            out.addAll(page.getMessagesList());
            if (!page.getHasMore() || page.getMessagesCount() == 0) {
                return out;
            }
            from = page.getMessages(page.getMessagesCount() - 1).getSeq() + 1;
        }
    }

    private static void awaitTrue(BooleanSupplier condition, long millis, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what + " within " + millis + " ms");
            Thread.sleep(50);
        }
    }

    // ---------------------------------------------------------------- the "load balancer"

    /**
     * A TCP forwarder on 127.0.0.1 to whichever node it is pointed at: a connection whose node dies is closed, and a
     * new one goes to the node {@link #to} named last. Threads: one accept thread and two per connection, daemons.
     */
    static final class Failover implements AutoCloseable {
        private final ServerSocket listener;
        private final ConcurrentLinkedQueue<Socket> sockets = new ConcurrentLinkedQueue<>();
        private volatile int upstream;

        Failover() throws IOException {
            listener = new ServerSocket();
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), ServerProcess.freePort()));
            Thread accept = new Thread(this::accept, "failover-accept");
            accept.setDaemon(true);
            accept.start();
        }

        int port() {
            return listener.getLocalPort();
        }

        void to(int port) {
            upstream = port;
        }

        private void accept() {
            while (!listener.isClosed()) {
                try {
                    Socket client = listener.accept();
                    Socket server = new Socket();
                    try {
                        server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstream), 1000);
                    } catch (IOException refused) {
                        client.close();
                        continue;
                    }
                    sockets.add(client);
                    sockets.add(server);
                    pump(client, server);
                    pump(server, client);
                } catch (IOException closed) {
                    return;
                }
            }
        }

        private void pump(Socket from, Socket to) {
            Thread t = new Thread(() -> {
                byte[] buffer = new byte[16384];
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    int n;
                    while ((n = in.read(buffer)) >= 0) {
                        out.write(buffer, 0, n);
                        out.flush();
                    }
                } catch (IOException ended) {
                    // one side went away
                } finally {
                    closeQuietly(from);
                    closeQuietly(to);
                }
            }, "failover-pump");
            t.setDaemon(true);
            t.start();
        }

        private static void closeQuietly(Socket s) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            sockets.forEach(Failover::closeQuietly);
        }
    }
}
