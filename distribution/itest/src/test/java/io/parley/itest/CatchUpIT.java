package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.core.proto.ConversationState;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One device offline while its user gets many messages in many conversations (1:1 with many peers, and groups),
 * then it connects and catches up through resume on the assembled server (mvstore): every message exactly once,
 * in seq order per conversation, while a few peers keep sending live; the server streams the backlog page by page
 * instead of loading it (checked with a reader that stalls mid-resume); the conversation list shows every
 * conversation with its unread count. Size: {@code -Dcatchup.messages} (default 20,000) in
 * {@code -Dcatchup.conversations} (default 1,000); the full size is 50,000 in 2,000.
 */
class CatchUpIT {
    static final int MESSAGES = Integer.getInteger("catchup.messages", 20_000);
    static final int CONVERSATIONS = Integer.getInteger("catchup.conversations", 1_000);
    /** One conversation in GROUP_EVERY is a group (owned by one of OWNERS users); the rest are 1:1. */
    static final int GROUP_EVERY = 20;
    static final int OWNERS = 5;
    /** Peers that keep sending to the target while it catches up, and how many each. */
    static final int LIVE_PEERS = 5;
    static final int LIVE_EACH = 20;
    static final String TARGET = "target";
    static final String DEVICE = "t1";

    @TempDir
    Path work;
    ServerProcess server;
    ClientResources resources;
    final List<ParleyClient> clients = new ArrayList<>();

    /** Each conversation's messages by seq: client message id (or "event" for a group event). */
    final Map<String, Map<Long, String>> history = new ConcurrentHashMap<>();

    @AfterEach
    void stop() throws Exception {
        clients.forEach(ParleyClient::closeAsync);
        if (resources != null) {
            resources.close();
        }
        if (server != null) {
            server.close();
        }
    }

    record Got(String conversation, long seq, String clientMsgId) {
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void anOfflineDeviceCatchesUpOnItsWholeBacklogOnceInOrderStreamedByTheServer() throws Exception {
        assertTrue(MESSAGES >= CONVERSATIONS, "at least one message per conversation");
        long t0 = System.nanoTime();
        server = new ServerProcess(work);
        server.start();
        long pid = server.pid();
        resources = ClientResources.nio(2);
        System.out.printf("[catchup] %d messages in %d conversations; server up in %d ms%n", MESSAGES, CONVERSATIONS,
                ms(t0));

        // the device exists: it was online once, then goes offline
        ParleyClient once = client(TARGET, DEVICE);
        once.connect().get(30, TimeUnit.SECONDS);
        once.close();

        // who talks to the target: groups (owned by a few users) and 1:1 peers
        int groups = CONVERSATIONS / GROUP_EVERY;
        int peers = CONVERSATIONS - groups;
        int[] perConversation = new int[CONVERSATIONS];
        for (int c = 0; c < CONVERSATIONS; c++) {
            perConversation[c] = MESSAGES / CONVERSATIONS + (c < MESSAGES % CONVERSATIONS ? 1 : 0);
        }

        long tConnect = System.nanoTime();
        List<ParleyClient> senders = new ArrayList<>();
        List<CompletableFuture<Void>> connects = new ArrayList<>();
        for (int p = 0; p < peers; p++) {
            ParleyClient c = client(peer(p), "d");
            senders.add(c);
            connects.add(c.connect());
        }
        List<ParleyClient> owners = new ArrayList<>();
        for (int o = 0; o < Math.min(OWNERS, Math.max(1, groups)); o++) {
            ParleyClient c = client("owner" + o, "d");
            owners.add(c);
            connects.add(c.connect());
        }
        CompletableFuture.allOf(connects.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        System.out.printf("[catchup] %d sender clients connected in %d ms%n", connects.size(), ms(tConnect));

        // the backlog: every sender pipelines all its messages at once
        long tBacklog = System.nanoTime();
        List<CompletableFuture<?>> work = new ArrayList<>();
        for (int p = 0; p < peers; p++) {
            ParleyClient c = senders.get(p);
            for (int m = 0; m < perConversation[p]; m++) {
                work.add(send(c, Send.newBuilder().setPeer(TARGET), "m" + m));
            }
        }
        for (int g = 0; g < groups; g++) {
            ParleyClient owner = owners.get(g % owners.size());
            int count = perConversation[peers + g];
            work.add(owner.groupRequest(GroupRequest.newBuilder().setCreate(GroupRequest.Create.newBuilder()
                    .setName("group " + g).addMembers(TARGET)).build()).thenCompose(r -> {
                record(r);
                List<CompletableFuture<SendAck>> fs = new ArrayList<>();
                for (int m = 1; m < count; m++) { // the group's creation is its first message
                    fs.add(send(owner, Send.newBuilder().setConversation(r.getGroup().getConversation()), "g" + m));
                }
                return CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new));
            }));
        }
        CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).get(180, TimeUnit.SECONDS);
        long backlogMillis = ms(tBacklog);
        int backlog = history.values().stream().mapToInt(Map::size).sum();
        assertEquals(MESSAGES, backlog, "messages stored for the target");
        assertEquals(CONVERSATIONS, history.size(), "conversations of the target");
        System.out.printf("[catchup] backlog of %d messages produced in %d ms (%.0f msgs/s)%n", backlog,
                backlogMillis, backlog * 1000.0 / backlogMillis);
        for (int p = LIVE_PEERS; p < senders.size(); p++) {
            senders.get(p).closeAsync();
        }
        for (ParleyClient o : owners) {
            o.closeAsync();
        }

        // a reader that stalls mid-resume: the server holds a page or so, never the backlog
        ServerMemory.Histogram before = ServerMemory.liveHistogram(pid);
        long stalledLive;
        try (RawDevice stalled = new RawDevice(server.port, 64 * 1024)) {
            stalled.hello(server.tokens().mint(TARGET, null, Duration.ofMinutes(30)), DEVICE);
            SyncResponse list = stalled.resume(0);
            assertEquals(CONVERSATIONS, list.getConversationsCount(), "the resume lists every conversation");
            for (ConversationState s : list.getConversationsList()) {
                assertEquals(0, s.getWatermark(), "nothing acknowledged yet in " + s.getConversation());
                assertEquals(history.get(s.getConversation()).size(), s.getHead(), "head of " + s.getConversation());
            }
            int pages = 0;
            while (pages < 3) {
                Frame f = stalled.read();
                if (f.hasDeliver()) {
                    pages++;
                }
            }
            ServerMemory.Histogram during = ServerMemory.liveHistogram(pid);
            stalledLive = during.instances("io.parley.core.proto.Message");
            System.out.printf("[catchup] reader stalled after %d pages: server live heap %d MiB (before the resume"
                            + " %d MiB), %d live Message objects for a backlog of %d%n", pages,
                    during.totalBytes() >> 20, before.totalBytes() >> 20, stalledLive, backlog);
            // a page is 200 messages; a server that loaded the backlog would hold all of them
            assertTrue(stalledLive < 1_000, "live Message objects while the reader stalls: " + stalledLive);
        }

        // the device comes back with the SDK, while a few peers keep sending
        List<Got> got = Collections.synchronizedList(new ArrayList<>());
        AtomicLong delivered = new AtomicLong();
        ParleyClient target = server.clientBuilder(TARGET, DEVICE, server.port).resources(resources)
                .messageListener(m -> {
                    got.add(new Got(m.getConversation(), m.getSeq(), m.getClientMsgId()));
                    delivered.incrementAndGet();
                }).build();
        clients.add(target);
        long rssBefore = ServerMemory.rssKib(pid);
        List<CompletableFuture<?>> live = new ArrayList<>();
        long tCatchUp;
        long catchUpMillis;
        long rssMax;
        try (ServerMemory.RssSampler rss = new ServerMemory.RssSampler(pid, 50)) {
            tCatchUp = System.nanoTime();
            CompletableFuture<Void> connected = target.connect();
            for (int m = 0; m < LIVE_EACH; m++) {
                for (int p = 0; p < LIVE_PEERS; p++) {
                    live.add(send(senders.get(p), Send.newBuilder().setPeer(TARGET), "live" + m));
                }
                Thread.sleep(20); // spreads the live messages over the catch-up
            }
            connected.get(120, TimeUnit.SECONDS);
            catchUpMillis = ms(tCatchUp);
            CompletableFuture.allOf(live.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            rssMax = rss.maxKib();
        }
        int expected = MESSAGES + LIVE_PEERS * LIVE_EACH;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (delivered.get() < expected && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        System.out.printf("[catchup] resume of %d messages done in %d ms (%.0f msgs/s), %d live messages beside it;"
                        + " server RSS %d MiB before, max %d MiB during%n", MESSAGES, catchUpMillis,
                MESSAGES * 1000.0 / catchUpMillis, LIVE_PEERS * LIVE_EACH, rssBefore / 1024, rssMax / 1024);
        assertTrue(rssMax < 900 * 1024, "server RSS peaked at " + rssMax / 1024 + " MiB");

        // exactly once, in order, per conversation
        Map<String, List<Got>> byConv = new HashMap<>();
        synchronized (got) {
            for (Got g : got) {
                byConv.computeIfAbsent(g.conversation(), x -> new ArrayList<>()).add(g);
            }
        }
        assertEquals(expected, got.size(), "messages handed to the target's listener");
        assertEquals(CONVERSATIONS, byConv.size(), "conversations the target received messages in");
        for (Map.Entry<String, Map<Long, String>> e : history.entrySet()) {
            TreeMap<Long, String> want = new TreeMap<>(e.getValue());
            assertEquals(want.size(), want.lastKey(), e.getKey() + " is gapless: only this test writes to it");
            List<Got> g = byConv.getOrDefault(e.getKey(), List.of());
            assertEquals(new ArrayList<>(want.keySet()), g.stream().map(Got::seq).toList(), "seqs in " + e.getKey());
            for (Got m : g) {
                String id = want.get(m.seq());
                if (!id.equals("event")) {
                    assertEquals(id, m.clientMsgId(), e.getKey() + " seq " + m.seq());
                }
            }
        }
        System.out.printf("[catchup] %d messages in %d conversations delivered once each, in order%n", got.size(),
                byConv.size());

        // the conversation list: every conversation, everything unread; then read up to the head
        long tList = System.nanoTime();
        List<ConversationSummary> list = target.conversations().get(30, TimeUnit.SECONDS);
        long listMillis = ms(tList);
        assertEquals(CONVERSATIONS, list.size(), "conversation list entries");
        long unread = 0;
        for (ConversationSummary s : list) {
            Map<Long, String> h = history.get(s.getConversation());
            assertEquals(h.size(), s.getHead(), "head of " + s.getConversation());
            assertEquals(0, s.getReadSeq(), "read cursor of " + s.getConversation());
            assertEquals(h.size(), s.getUnread(), "unread in " + s.getConversation());
            assertEquals(s.getHead(), s.getLast().getSeq(), "last message of " + s.getConversation());
            unread += s.getUnread();
        }
        for (int i = 1; i < list.size(); i++) {
            assertTrue(list.get(i - 1).getLast().getServerTime() >= list.get(i).getLast().getServerTime(),
                    "most recent first");
        }
        assertEquals(expected, unread, "unread in all");
        for (ConversationSummary s : list) {
            target.markRead(s.getConversation(), s.getHead());
        }
        long tRead = System.nanoTime();
        long stillUnread;
        do {
            stillUnread = target.conversations().get(30, TimeUnit.SECONDS).stream()
                    .mapToLong(ConversationSummary::getUnread).sum();
        } while (stillUnread > 0 && System.nanoTime() - tRead < TimeUnit.SECONDS.toNanos(15));
        assertEquals(0, stillUnread, "unread after marking every conversation read");
        System.out.printf("[catchup] conversation list of %d entries in %d ms, %d unread; all read %d ms after"
                + " marking; test done in %d ms%n", list.size(), listMillis, unread, ms(tRead), ms(t0));
    }

    static String peer(int p) {
        return String.format("p%05d", p);
    }

    ParleyClient client(String user, String device) {
        ParleyClient c = server.clientBuilder(user, device, server.port).resources(resources)
                .requestTimeout(Duration.ofSeconds(60)).sendTimeout(Duration.ofSeconds(150)).build();
        clients.add(c);
        return c;
    }

    CompletableFuture<SendAck> send(ParleyClient c, Send.Builder to, String text) {
        String id = c.newClientMsgId();
        return c.send(to.setClientMsgId(id).setType(Bodies.TEXT_TYPE).setBody(Bodies.text(text)).build())
                .whenComplete((ack, e) -> {
                    if (ack != null) {
                        String previous = history.computeIfAbsent(ack.getConversation(), x -> new ConcurrentHashMap<>())
                                .putIfAbsent(ack.getSeq(), id);
                        if (previous != null && !previous.equals(id)) {
                            throw new AssertionError("seq " + ack.getSeq() + " of " + ack.getConversation()
                                    + " acknowledged for two messages");
                        }
                    }
                });
    }

    void record(GroupResponse r) {
        history.computeIfAbsent(r.getGroup().getConversation(), x -> new ConcurrentHashMap<>())
                .put(r.getEventSeq(), "event");
        assertTrue(Groups.isGroupConversation(r.getGroup().getConversation()));
    }

    static long ms(long since) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }
}
