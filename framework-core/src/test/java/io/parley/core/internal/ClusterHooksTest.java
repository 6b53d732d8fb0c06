package io.parley.core.internal;

import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Send;
import io.parley.core.proto.Typing;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.delivery.Notification;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's hooks for a cluster link, against a fake link that records what it is told: sessions announced and
 * withdrawn (and the hello waiting for the announcement, bounded), messages routed with notifications counting the
 * members online elsewhere, receipts, read updates, typing and group changes handed over, large groups' read marks
 * broadcast, kicks, and a link bound late learning the open sessions.
 */
class ClusterHooksTest extends OneNodeTest {

    private TestNode node(Map<String, Object> config) {
        node = new TestNode(store, config);
        return node;
    }

    @Test
    void aHelloIsAnsweredOnceItsSessionIsAnnouncedAndAClosedSessionIsWithdrawn() throws Exception {
        RecordingLink link = new RecordingLink();
        CompletableFuture<Void> announced = new CompletableFuture<>();
        link.opened = (who) -> announced;
        node(Map.of("cluster.route.timeout.millis", 10_000L)).engine.link(link);

        TestNode.Device alice = node.open("alice", "phone");
        assertEquals("opened alice/phone", link.next());
        assertNull(alice.poll(Frame::hasHelloOk, 200), "no HelloOk before the link confirmed");
        announced.complete(null);
        alice.awaitHelloOk();

        alice.disconnect();
        assertEquals("closed alice/phone", link.next());
        alice.disconnect(); // a second onClosed changes nothing
        assertNull(link.calls.poll(100, TimeUnit.MILLISECONDS));
    }

    @Test
    void aHelloIsAnsweredAfterTheTimeoutWhenTheLinkDoesNotConfirm() throws Exception {
        RecordingLink link = new RecordingLink();
        link.opened = who -> new CompletableFuture<>(); // never
        node(Map.of("cluster.route.timeout.millis", 150L)).engine.link(link);
        long t0 = System.nanoTime();
        node.connect("alice", "phone");
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(millis >= 140, "waited for the link: " + millis + " ms");
    }

    @Test
    void aMessageIsRoutedAndOnlyMembersWithASessionOnNoNodeAreNotifiedAsOffline() throws Exception {
        RecordingLink link = new RecordingLink();
        link.elsewhere = members -> CompletableFuture.completedFuture(Set.of("bob"));
        node(Map.of()).engine.link(link);
        TestNode.Device alice = node.connect("alice", "phone");
        String group = createGroup(alice, "bob", "carol");
        link.clear();

        alice.request(Frame.newBuilder().setSend(text("m1", group)));
        alice.await(Frame::hasSendAck);
        Routed routed = link.routed.poll(5, TimeUnit.SECONDS);
        assertNotNull(routed);
        assertEquals("m1", routed.message.getClientMsgId());
        assertEquals(2, routed.message.getSeq(), "the stored message (the group's event is seq 1)");
        assertEquals(Set.of("alice", "bob", "carol"), Set.copyOf(routed.members));
        Notification offline = node.offline.poll(5, TimeUnit.SECONDS);
        assertEquals(List.of("carol"), offline.recipients(), "bob has a session on another node");
        Notification all = node.all.poll(5, TimeUnit.SECONDS);
        assertEquals(Set.of("bob", "carol"), Set.copyOf(all.recipients()));
        assertEquals(Set.of("bob"), all.online());
    }

    @Test
    void aLinkThatDoesNotAnswerInTimeCountsTheUnknownAsOffline() throws Exception {
        RecordingLink link = new RecordingLink();
        link.elsewhere = members -> new CompletableFuture<>(); // never
        node(Map.of("cluster.route.timeout.millis", 100L)).engine.link(link);
        TestNode.Device alice = node.connect("alice", "phone");
        long t0 = System.nanoTime();
        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text")));
        alice.await(Frame::hasSendAck);
        Notification offline = node.offline.poll(5, TimeUnit.SECONDS);
        assertEquals(List.of("bob"), offline.recipients());
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(millis >= 95, "waited for the link (100 ms): " + millis + " ms");
    }

    @Test
    void receiptsReadUpdatesAndTypingAreHandedToTheLink() throws Exception {
        RecordingLink link = new RecordingLink();
        node(Map.of()).engine.link(link);
        TestNode.Device bob = node.connect("bob", "phone");
        TestNode.Device alice = node.connect("alice", "laptop");
        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text")));
        bob.await(Frame::hasDeliver);
        link.clear();

        bob.write(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation("d:alice:bob").setSeq(1)).build());
        Relayed receipt = link.relayed.poll(5, TimeUnit.SECONDS);
        assertTrue(receipt.frame.hasDeliveryUpdate(), receipt.frame.toString());
        assertEquals(List.of("alice"), receipt.users);
        assertTrue(alice.await(Frame::hasDeliveryUpdate).hasDeliveryUpdate(), "and alice here got it");

        bob.write(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation("d:alice:bob").setTyping(true)).build());
        Relayed typing = link.relayed.poll(5, TimeUnit.SECONDS);
        assertEquals("bob", typing.frame.getTyping().getUser());
        assertEquals(List.of("alice"), typing.users);

        bob.write(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation("d:alice:bob").setSeq(1)).build());
        Relayed read = link.relayed.poll(5, TimeUnit.SECONDS);
        assertEquals(1, read.frame.getReadUpdate().getSeq());
        assertEquals(Set.of("alice", "bob"), Set.copyOf(read.users), "the other member and bob's other devices");
    }

    @Test
    void aGroupChangeIsAnnouncedBeforeItsEventIsRouted() throws Exception {
        RecordingLink link = new RecordingLink();
        node(Map.of()).engine.link(link);
        TestNode.Device alice = node.connect("alice", "phone");
        link.clear();
        String group = createGroup(alice, "bob");
        assertEquals("groupChanged " + group.substring(2), link.next());
        assertTrue(link.next().startsWith("route " + group + " #1"), "then the event");
    }

    @Test
    void aReadMarkInALargeGroupIsBroadcastNotRelayedPerMember() throws Exception {
        RecordingLink link = new RecordingLink();
        node(Map.of("read.fanout.max", 2)).engine.link(link);
        TestNode.Device alice = node.connect("alice", "phone");
        String group = createGroup(alice, "bob", "carol");
        link.clear();
        alice.write(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation(group).setSeq(1)).build());
        assertEquals("readMarked " + group + " alice 1", link.next());
        assertNull(link.relayed.poll(200, TimeUnit.MILLISECONDS), "no per-member ReadUpdate through the link");
    }

    @Test
    void oneSessionPerDeviceKicksTheOlderSessionHereAndOnTheOtherNodes() throws Exception {
        RecordingLink link = new RecordingLink();
        node(Map.of("one.session.per.device", true)).engine.link(link);
        TestNode.Device first = node.connect("alice", "phone");
        TestNode.Device other = node.connect("alice", "tablet");
        link.clear();
        TestNode.Device second = node.connect("alice", "phone");
        Notice notice = first.awaitClosed();
        assertEquals(Notice.Kind.KIND_KICKED, notice.getKind());
        assertFalse(other.closed.isDone(), "another device of the user stays");
        assertFalse(second.closed.isDone());
        List<String> calls = List.of(link.next(), link.next(), link.next());
        assertTrue(calls.contains("kick alice/phone"), calls.toString());
        assertTrue(calls.contains("opened alice/phone"), calls.toString());
        assertTrue(calls.contains("closed alice/phone"), calls.toString());
    }

    @Test
    void withoutOneSessionPerDeviceBothSessionsOfADeviceStay() throws Exception {
        node(Map.of());
        TestNode.Device first = node.connect("alice", "phone");
        TestNode.Device second = node.connect("alice", "phone");
        second.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("alice").setType("text")));
        assertEquals("m1", first.await(Frame::hasDeliver).getDeliver().getMessages(0).getClientMsgId());
        assertFalse(first.closed.isDone());
    }

    @Test
    void aLinkBoundLaterLearnsTheOpenSessionsAndAnUnboundOneHearsNothingMore() throws Exception {
        node(Map.of());
        TestNode.Device alice = node.connect("alice", "phone");
        node.connect("bob", "phone");
        RecordingLink link = new RecordingLink();
        node.engine.link(link);
        assertEquals(Set.of("opened alice/phone", "opened bob/phone"), Set.of(link.next(), link.next()));
        node.engine.link(link); // bound again (a DS rebind): nobody is announced twice
        assertNull(link.calls.poll(100, TimeUnit.MILLISECONDS));

        node.engine.unlink(link);
        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text")));
        alice.await(Frame::hasSendAck);
        alice.disconnect();
        assertNull(link.calls.poll(200, TimeUnit.MILLISECONDS), "an unbound link is not called");
    }

    @Test
    void aFailingLinkNeverFailsTheEnginesOwnWork() throws Exception {
        RecordingLink link = new RecordingLink();
        link.fail = true;
        node(Map.of()).engine.link(link);
        TestNode.Device bob = node.connect("bob", "phone");
        TestNode.Device alice = node.connect("alice", "phone");
        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text")));
        alice.await(Frame::hasSendAck);
        bob.await(Frame::hasDeliver);
        bob.write(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation("d:alice:bob").setTyping(true)).build());
        alice.await(Frame::hasTyping);
        Notification all = node.all.poll(5, TimeUnit.SECONDS);
        assertNotNull(all, "notified even though route threw");
        assertEquals(Set.of("bob"), all.online());
    }

    // ---------------------------------------------------------------- helpers

    private static Send.Builder text(String clientMsgId, String conversation) {
        return Send.newBuilder().setClientMsgId(clientMsgId).setConversation(conversation).setType("text");
    }

    /** @return the new group's conversation id */
    private static String createGroup(TestNode.Device owner, String... members) throws InterruptedException {
        long rid = owner.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                .setClientRequestId("create-" + System.nanoTime())
                .setCreate(GroupRequest.Create.newBuilder().setName("team").addAllMembers(List.of(members)))));
        Frame answer = owner.await(f -> f.getRequestId() == rid);
        assertTrue(answer.hasGroupResponse(), answer.toString());
        return "g:" + answer.getGroupResponse().getGroup().getId();
    }

    record Routed(Message message, List<String> members) {
    }

    record Relayed(Frame frame, List<String> users) {
    }

    /** A link that records every call as a line (and routes and relays also as records). */
    static final class RecordingLink implements ClusterLink {
        final BlockingQueue<String> calls = new LinkedBlockingQueue<>();
        final BlockingQueue<Routed> routed = new LinkedBlockingQueue<>();
        final BlockingQueue<Relayed> relayed = new LinkedBlockingQueue<>();
        volatile Function<String, CompletionStage<Void>> opened = who -> CompletableFuture.completedFuture(null);
        volatile Function<List<String>, CompletionStage<Set<String>>> elsewhere =
                members -> CompletableFuture.completedFuture(Set.of());
        volatile boolean fail;

        String next() throws InterruptedException {
            String call = calls.poll(5, TimeUnit.SECONDS);
            assertNotNull(call, "a call of the link within 5 s");
            return call;
        }

        void clear() {
            calls.clear();
            routed.clear();
            relayed.clear();
        }

        private void failIfAsked() {
            if (fail) {
                throw new IllegalStateException("the link failed (on purpose)");
            }
        }

        @Override
        public CompletionStage<Void> sessionOpened(String user, String device) {
            calls.add("opened " + user + "/" + device);
            failIfAsked();
            return opened.apply(user + "/" + device);
        }

        @Override
        public void sessionClosed(String user, String device) {
            calls.add("closed " + user + "/" + device);
            failIfAsked();
        }

        @Override
        public CompletionStage<Set<String>> route(Message message, List<String> members) {
            calls.add("route " + message.getConversation() + " #" + message.getSeq());
            routed.add(new Routed(message, members));
            failIfAsked();
            return elsewhere.apply(members);
        }

        @Override
        public void relay(Frame frame, List<String> users) {
            calls.add("relay " + frame.getOpCase() + " " + users);
            relayed.add(new Relayed(frame, users));
            failIfAsked();
        }

        @Override
        public void readMarked(String conversation, String user, long seq) {
            calls.add("readMarked " + conversation + " " + user + " " + seq);
            failIfAsked();
        }

        @Override
        public void kick(String user, String device, long startedBefore) {
            calls.add("kick " + user + "/" + device);
            failIfAsked();
        }

        @Override
        public void groupChanged(String groupId) {
            calls.add("groupChanged " + groupId);
            failIfAsked();
        }
    }
}
