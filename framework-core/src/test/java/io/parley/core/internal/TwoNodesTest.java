package io.parley.core.internal;

import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.ReadCount;
import io.parley.core.proto.Send;
import io.parley.core.proto.Typing;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import io.parley.core.spi.delivery.Notification;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two real engines on one shared store, joined by an in-memory link that routes by presence the way a cluster
 * bundle does: what arrives through {@link LocalNode} reaches the sessions of the other node exactly as local
 * traffic does — messages, receipts, typing, read updates and read counts, group changes (the other node's cached
 * record is dropped), kicks, and a node closing all its sessions.
 */
class TwoNodesTest {

    private final TinyStore store = new TinyStore();
    private final Loopback cluster = new Loopback();
    private TestNode a;
    private TestNode b;

    @BeforeEach
    void start() {
        start(Map.of());
    }

    private void start(Map<String, Object> extra) {
        stop();
        Map<String, Object> config = new java.util.HashMap<>(extra);
        config.put("node.id", "a");
        a = new TestNode(store, config);
        config.put("node.id", "b");
        b = new TestNode(store, config);
        cluster.join(a);
        cluster.join(b);
    }

    @AfterEach
    void stop() {
        cluster.nodes.clear();
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    @Test
    void usersOnDifferentNodesChatWithReceiptsTypingAndReadUpdates() throws Exception {
        TestNode.Device alice = a.connect("alice", "phone");
        TestNode.Device bobPhone = b.connect("bob", "phone");
        TestNode.Device bobLaptop = a.connect("bob", "laptop");

        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text")));
        assertEquals(1, alice.await(Frame::hasSendAck).getSendAck().getSeq());
        Message got = bobPhone.await(Frame::hasDeliver).getDeliver().getMessages(0);
        assertEquals("m1", got.getClientMsgId());
        assertEquals(1, got.getSeq());
        assertEquals("m1", bobLaptop.await(Frame::hasDeliver).getDeliver().getMessages(0).getClientMsgId());
        assertTrue(a.offline.isEmpty() && b.offline.isEmpty(), "bob is online: nobody notified as offline");

        bobPhone.write(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation("d:alice:bob").setSeq(1)).build());
        assertEquals("bob", alice.await(Frame::hasDeliveryUpdate).getDeliveryUpdate().getUser());

        bobPhone.write(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation("d:alice:bob").setTyping(true)).build());
        assertEquals("bob", alice.await(Frame::hasTyping).getTyping().getUser());

        bobPhone.write(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation("d:alice:bob").setSeq(1)).build());
        assertEquals(1, alice.await(Frame::hasReadUpdate).getReadUpdate().getSeq());
        assertEquals("bob", bobLaptop.await(Frame::hasReadUpdate).getReadUpdate().getUser(), "bob's other device too");

        // bob answers from the other node: alice's device gets it once
        bobPhone.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("r1").setPeer("alice").setType("text")));
        assertEquals("r1", alice.await(Frame::hasDeliver).getDeliver().getMessages(0).getClientMsgId());
        assertEquals(null, alice.poll(Frame::hasDeliver, 200), "exactly once");
    }

    @Test
    void aMemberOfflineEverywhereIsNotifiedOnceByTheSendingNode() throws Exception {
        TestNode.Device alice = a.connect("alice", "phone");
        b.connect("bob", "phone");
        String group = createGroup(alice, "bob", "carol");
        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setConversation(group).setType("text")));
        Notification n = a.offline.poll(5, TimeUnit.SECONDS);
        assertNotNull(n);
        assertEquals(List.of("carol"), n.recipients());
        assertTrue(b.offline.isEmpty() && b.all.isEmpty(), "the receiving node notifies nothing");
    }

    @Test
    void aGroupChangedOnOneNodeIsNotServedFromTheOtherNodesStaleCache() throws Exception {
        TestNode.Device alice = a.connect("alice", "phone");
        TestNode.Device bob = b.connect("bob", "phone");
        String group = createGroup(alice, "bob");
        assertTrue(bob.await(Frame::hasDeliver).getDeliver().getMessages(0).getType().equals("group.event"));
        bob.request(Frame.newBuilder().setSend(text("b1", group))); // node b caches the record now
        bob.await(Frame::hasSendAck);
        alice.await(f -> f.hasDeliver() && f.getDeliver().getMessages(0).getClientMsgId().equals("b1"));

        group(alice, GroupRequest.newBuilder().setAddMembers(GroupRequest.Members.newBuilder()
                .setGroupId(group.substring(2)).addUsers("dave")));
        TestNode.Device dave = b.connect("dave", "phone");
        long rid = dave.request(Frame.newBuilder().setSend(text("d1", group)));
        Frame answer = dave.await(f -> f.getRequestId() == rid);
        assertTrue(answer.hasSendAck(), "node b knows dave joined: " + answer);
        alice.await(f -> f.hasDeliver() && f.getDeliver().getMessages(0).getClientMsgId().equals("d1"));

        group(alice, GroupRequest.newBuilder().setRemoveMembers(GroupRequest.Members.newBuilder()
                .setGroupId(group.substring(2)).addUsers("bob")));
        long refused = bob.request(Frame.newBuilder().setSend(text("b2", group)));
        Frame error = bob.await(f -> f.getRequestId() == refused);
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, error.getError().getCode(), "node b knows bob left: " + error);
    }

    @Test
    void readCountsInALargeGroupCountTheMarksMadeOnEveryNode() throws Exception {
        start(Map.of("read.fanout.max", 2, "read.counts.interval.millis", 20L));
        TestNode.Device alice = a.connect("alice", "phone");
        TestNode.Device bob = b.connect("bob", "phone");
        TestNode.Device carol = b.connect("carol", "phone");
        TestNode.Device bobLaptop = a.connect("bob", "laptop");
        String group = createGroup(alice, "bob", "carol");
        alice.request(Frame.newBuilder().setSend(text("m1", group)));
        alice.await(Frame::hasSendAck);
        alice.write(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation(group).setSeq(2)).build());
        ReadCount one = ReadCount.newBuilder().setSeq(2).setReaders(1).build();
        alice.await(f -> f.hasReadCounts() && f.getReadCounts().getCountsList().contains(one));
        // node a has its index in memory now: bob's mark on node b reaches it only through the link
        bob.write(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation(group).setSeq(2)).build());
        ReadCount two = ReadCount.newBuilder().setSeq(2).setReaders(2).build();
        alice.await(f -> f.hasReadCounts() && f.getReadCounts().getCountsList().contains(two));
        carol.await(f -> f.hasReadCounts() && f.getReadCounts().getCountsList().contains(two));
        assertEquals(2, bobLaptop.await(Frame::hasReadUpdate).getReadUpdate().getSeq(),
                "bob's device on the other node hears of his mark");
    }

    @Test
    void kicksAndCloseSessionsFromAnotherNode() throws Exception {
        TestNode.Device old = b.connect("alice", "phone");
        TestNode.Device tablet = b.connect("alice", "tablet");
        TestNode.Device carol = b.connect("carol", "phone");
        LocalNode nodeB = b.engine.localNode();
        nodeB.kick("alice", "phone", System.currentTimeMillis() + 1000);
        assertEquals(Notice.Kind.KIND_KICKED, old.awaitClosed().getKind());
        assertFalse(tablet.closed.isDone());
        nodeB.kick("alice", "tablet", 0);
        assertFalse(tablet.closed.isDone(), "a session that started after the kick's instant stays");

        nodeB.closeSessions("lease lost");
        assertEquals(Notice.Kind.KIND_RECONNECT, tablet.awaitClosed().getKind());
        assertEquals(Notice.Kind.KIND_RECONNECT, carol.awaitClosed().getKind());
        assertEquals("b", nodeB.nodeId());
    }

    @Test
    void aDeviceThatMovesToAnotherNodeResumesFromItsWatermarks() throws Exception {
        TestNode.Device alice = a.connect("alice", "phone");
        TestNode.Device bob = b.connect("bob", "phone");
        for (int i = 1; i <= 3; i++) {
            alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m" + i).setPeer("bob").setType("text")));
            bob.await(Frame::hasDeliver);
        }
        bob.write(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation("d:alice:bob").setSeq(2)).build());
        alice.await(Frame::hasDeliveryUpdate);
        bob.disconnect();
        TestNode.Device moved = a.connect("bob", "phone");
        moved.request(Frame.newBuilder().setSync(io.parley.core.proto.SyncRequest.newBuilder()
                .setResume(io.parley.core.proto.SyncRequest.Resume.getDefaultInstance())));
        Message resumed = moved.await(Frame::hasDeliver).getDeliver().getMessages(0);
        assertEquals(3, resumed.getSeq(), "from its watermark (2), on the other node");
    }

    @Test
    void aRelayToOneDeviceReachesItOnTheOtherNodeAndNoOtherDevice() throws Exception {
        TestNode.Device alice = a.connect("alice", "phone");
        TestNode.Device bobPhone = b.connect("bob", "phone");
        TestNode.Device bobLaptop = b.connect("bob", "laptop");
        TestNode.Device bobTablet = a.connect("bob", "tablet");

        a.engine.events().relay("d:alice:bob", "alice", "phone", "call.signal",
                com.google.protobuf.Any.getDefaultInstance(),
                List.of(new io.parley.core.spi.command.DeviceAddress("bob", "laptop")));
        Message got = bobLaptop.await(Frame::hasDeliver).getDeliver().getMessages(0);
        assertEquals("call.signal", got.getType());
        assertEquals(0, got.getSeq());
        assertEquals("alice", got.getSender());
        assertEquals("phone", got.getSenderDevice());
        assertTrue(got.getExtMap().isEmpty(), "the device filter is removed before delivery: " + got.getExtMap());
        assertEquals(null, bobPhone.poll(Frame::hasDeliver, 300), "the addressee's other device on that node");
        assertEquals(null, bobTablet.poll(Frame::hasDeliver, 100), "the addressee's device on the sending node");
        assertEquals(null, alice.poll(Frame::hasDeliver, 100), "the sender");
        assertTrue(a.offline.isEmpty() && a.all.isEmpty(), "a relay is not notified");
    }

    // ---------------------------------------------------------------- helpers

    private static Send.Builder text(String clientMsgId, String conversation) {
        return Send.newBuilder().setClientMsgId(clientMsgId).setConversation(conversation).setType("text");
    }

    private static String createGroup(TestNode.Device owner, String... members) throws InterruptedException {
        Frame answer = group(owner, GroupRequest.newBuilder().setCreate(GroupRequest.Create.newBuilder()
                .setName("team").addAllMembers(List.of(members))));
        return "g:" + answer.getGroupResponse().getGroup().getId();
    }

    private static Frame group(TestNode.Device actor, GroupRequest.Builder request) throws InterruptedException {
        long rid = actor.request(Frame.newBuilder().setGroup(request.setClientRequestId("op-" + System.nanoTime())));
        Frame answer = actor.await(f -> f.getRequestId() == rid);
        assertTrue(answer.hasGroupResponse(), answer.toString());
        return answer;
    }

    /** Nodes joined in memory: presence per node and user, calls handed straight to the other nodes' LocalNode. */
    static final class Loopback {
        final List<Member> nodes = new CopyOnWriteArrayList<>();

        void join(TestNode node) {
            Member m = new Member(node.engine.localNode());
            nodes.add(m);
            node.engine.link(m);
        }

        final class Member implements ClusterLink {
            final LocalNode local;
            final Map<String, Integer> presence = new ConcurrentHashMap<>();

            Member(LocalNode local) {
                this.local = local;
            }

            private List<Member> others() {
                List<Member> out = new ArrayList<>(nodes);
                out.remove(this);
                return out;
            }

            private List<String> here(List<String> users) {
                return users.stream().filter(presence::containsKey).toList();
            }

            @Override
            public CompletionStage<Void> sessionOpened(String user, String device) {
                presence.merge(user, 1, Integer::sum);
                return CompletableFuture.completedFuture(null);
            }

            @Override
            public void sessionClosed(String user, String device) {
                presence.computeIfPresent(user, (u, n) -> n == 1 ? null : n - 1);
            }

            @Override
            public CompletionStage<Set<String>> route(Message message, List<String> members) {
                Set<String> elsewhere = new HashSet<>();
                for (Member other : others()) {
                    List<String> there = other.here(members);
                    if (!there.isEmpty()) {
                        other.local.deliver(message, there);
                        elsewhere.addAll(there);
                    }
                }
                return CompletableFuture.completedFuture(elsewhere);
            }

            @Override
            public void relay(Frame frame, List<String> users) {
                for (Member other : others()) {
                    List<String> there = other.here(users);
                    if (!there.isEmpty()) {
                        other.local.relay(frame, there);
                    }
                }
            }

            @Override
            public void readMarked(String conversation, String user, long seq) {
                others().forEach(o -> o.local.readMarked(conversation, user, seq));
            }

            @Override
            public void kick(String user, String device, long startedBefore) {
                others().forEach(o -> o.local.kick(user, device, startedBefore));
            }

            @Override
            public void groupChanged(String groupId) {
                others().forEach(o -> o.local.groupChanged(groupId));
            }
        }
    }
}
