package io.parley.core.internal;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Send;
import io.parley.core.proto.Typing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The limits and the login policy on the real engine (wired as the core bundle wires it, {@link TestNode}): a send
 * flood, a frame flood, a connection flood from one address, a group-add flood, a typing burst, the device cap and
 * the operator's kick.
 */
class LimitsEndToEndTest {

    private final TinyStore store = new TinyStore();
    private TestNode node;

    private TestNode start(Map<String, Object> config) {
        node = new TestNode(store, config);
        return node;
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    /** @return the answer (ack, group response, pong or error) to each request id in {@code rids}, in order */
    private static Map<Long, Frame> answers(TestNode.Device d, List<Long> rids) throws InterruptedException {
        Map<Long, Frame> out = new HashMap<>();
        while (out.size() < rids.size()) {
            Frame f = d.await(x -> rids.contains(x.getRequestId()) && x.getRequestId() != 0, 10_000);
            out.put(f.getRequestId(), f);
        }
        return out;
    }

    @Test
    void aSendFloodIsRefusedWithRetryAfterAndNothingBeyondTheLimitIsStored() throws Exception {
        start(Map.of("limit.sends.per.user.per.second", 10, "limit.sends.per.user.burst", 50,
                "limit.sends.max.wait.millis", 0));
        TestNode.Device alice = node.connect("alice", "phone");
        List<Long> rids = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < 500; i++) {
            rids.add(alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m" + i)
                    .setPeer("bob").setType("text"))));
        }
        Map<Long, Frame> answers = answers(alice, rids);
        double seconds = (System.nanoTime() - t0) / 1e9;
        int acked = 0;
        int limited = 0;
        for (Frame f : answers.values()) {
            if (f.hasSendAck()) {
                acked++;
            } else {
                assertEquals(ErrorCode.ERROR_CODE_RATE_LIMITED, f.getError().getCode(), f.toString());
                assertTrue(f.getError().getRetryable());
                assertTrue(f.getError().getRetryAfterMs() >= 1 && f.getError().getRetryAfterMs() <= 100,
                        "retry_after_ms of a 10/s bucket: " + f.getError().getRetryAfterMs());
                limited++;
            }
        }
        assertEquals(500, acked + limited);
        assertTrue(acked >= 50 && acked <= 50 + 10 * seconds + 1, acked + " acked in " + seconds + " s");
        assertEquals(acked, store.head("d:alice:bob"), "exactly the admitted sends are stored");

        // after retry_after_ms the next send is admitted
        Thread.sleep(110);
        long rid = alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("late")
                .setPeer("bob").setType("text")));
        assertTrue(alice.await(x -> x.getRequestId() == rid).hasSendAck());
    }

    @Test
    void sendsALittleTooFastAreSlowedDownNotRefused() throws Exception {
        start(Map.of("limit.sends.per.user.per.second", 10, "limit.sends.per.user.burst", 10)); // max wait 1 s
        TestNode.Device alice = node.connect("alice", "phone");
        List<Long> rids = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < 25; i++) { // pipelined: each waits at most 100 ms for its token, in order
            rids.add(alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m" + i)
                    .setPeer("bob").setType("text"))));
        }
        Map<Long, Frame> answers = answers(alice, rids);
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (int i = 0; i < rids.size(); i++) {
            Frame f = answers.get(rids.get(i));
            assertTrue(f.hasSendAck(), f.toString());
            assertEquals(i + 1, f.getSendAck().getSeq(), "order kept");
        }
        assertTrue(seconds >= 1.3, "15 beyond the burst at 10/s take 1.5 s: " + seconds);
        assertEquals(25, store.head("d:alice:bob"));

        // one waiting send per connection: a client pipelining on one connection is slowed, never refused; many
        // connections of one user together wait longer than limit.sends.max.wait.millis and are refused (unit test)
    }

    @Test
    void aFrameFloodOnOneConnectionIsRefused() throws Exception {
        start(Map.of("limit.frames.per.connection.per.second", 5, "limit.frames.per.connection.burst", 20));
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device laptop = node.connect("alice", "laptop");
        List<Long> rids = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            rids.add(alice.request(Frame.newBuilder().setPing(Ping.newBuilder().setClientTime(i))));
        }
        long pongs = answers(alice, rids).values().stream().filter(Frame::hasPong).count();
        assertTrue(pongs >= 20 && pongs <= 25, pongs + " pongs");
        long rid = laptop.request(Frame.newBuilder().setPing(Ping.newBuilder()));
        assertTrue(laptop.await(x -> x.getRequestId() == rid).hasPong(), "the other connection has its own bucket");
    }

    @Test
    void readMarksOverTheConnectionsLimitAreSlowedDownNeverRefused() throws Exception {
        // "mark everything read" after a catch-up: one mark per conversation, far past the connection's burst
        start(Map.of("limit.frames.per.connection.per.second", 10, "limit.frames.per.connection.burst", 10));
        int conversations = 30;
        for (int i = 0; i < conversations; i++) {
            TestNode.Device peer = node.connect(String.format("peer%02d", i), "phone");
            long rid = peer.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("hello")
                    .setPeer("bob").setType("text")));
            assertTrue(peer.await(x -> x.getRequestId() == rid).hasSendAck());
        }
        TestNode.Device bob = node.connect("bob", "phone");
        long t0 = System.nanoTime();
        for (int i = 0; i < conversations; i++) {
            String peer = String.format("peer%02d", i);
            bob.write(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation("bob".compareTo(peer) < 0
                    ? "d:bob:" + peer : "d:" + peer + ":bob").setSeq(1)).build());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (store.readCursors("bob").size() < conversations && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(conversations, store.readCursors("bob").size(), "every read mark applied");
        assertNull(bob.poll(Frame::hasError, 200), "no read mark was refused");
        long pingRid = bob.request(Frame.newBuilder().setPing(Ping.newBuilder()));
        assertTrue(bob.await(x -> x.getRequestId() == pingRid).hasPong(), "nor the request after them");
        assertTrue(seconds > 1.5, "slowed to 10 a second after the burst of 10: " + seconds + " s");
    }

    @Test
    void aConnectionFloodFromOneAddressIsRefused() throws Exception {
        start(Map.of("limit.connections.per.ip.per.second", 1, "limit.connections.per.ip.burst", 5));
        List<TestNode.Device> devices = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            devices.add(node.open("user" + i, "d", "203.0.113.9:" + (40000 + i)));
        }
        int admitted = 0;
        for (TestNode.Device d : devices) {
            Frame first = d.await(x -> x.hasHelloOk() || x.hasError());
            if (first.hasHelloOk()) {
                admitted++;
            } else {
                assertEquals(ErrorCode.ERROR_CODE_RATE_LIMITED, first.getError().getCode());
                assertEquals(0, first.getRequestId(), "refused before any request");
                assertTrue(first.getError().getRetryAfterMs() >= 1 && first.getError().getRetryAfterMs() <= 1000);
                assertTrue(d.closed.isDone(), "closed");
                assertNull(d.poll(Frame::hasHelloOk, 100), "its hello is not answered");
            }
        }
        assertTrue(admitted >= 5 && admitted <= 6, admitted + " admitted");
        node.connect("other", "d"); // another address ("test") is not affected
        for (int i = 0; i < 30; i++) { // loopback is exempt by default
            TestNode.Device d = node.open("local" + i, "d", "127.0.0.1:" + (50000 + i));
            d.awaitHelloOk();
        }
    }

    @Test
    void theEleventhDeviceSignsOutTheOldestWithKicked() throws Exception {
        start(Map.of()); // max.devices.per.user = 10 by default
        List<TestNode.Device> devices = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            devices.add(node.connect("alice", "dev" + i));
        }
        TestNode.Device second = node.connect("alice", "dev3"); // a second session of a device is no new device
        assertFalse(devices.get(0).closed.isDone());
        TestNode.Device eleventh = node.connect("alice", "dev10");
        Notice notice = devices.get(0).awaitClosed();
        assertEquals(Notice.Kind.KIND_KICKED, notice.getKind());
        assertTrue(notice.getText().contains("more than 10 devices"), notice.getText());
        for (int i = 1; i < 10; i++) {
            assertFalse(devices.get(i).closed.isDone(), "dev" + i + " stays");
        }
        assertFalse(second.closed.isDone());
        assertFalse(eleventh.closed.isDone());
        long rid = eleventh.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("hi")
                .setPeer("bob").setType("text")));
        assertTrue(eleventh.await(x -> x.getRequestId() == rid).hasSendAck());
        node.connect("bob", "phone"); // other users are not counted with alice
    }

    @Test
    void oneUserAddingAVictimToManyGroupsIsLimited() throws Exception {
        start(Map.of()); // the shipped defaults: 10 group additions a second, burst 100
        TestNode.Device mallory = node.connect("mallory", "phone");
        List<Long> rids = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < 400; i++) {
            rids.add(mallory.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                    .setClientRequestId("g" + i).setCreate(GroupRequest.Create.newBuilder().setName("spam " + i)
                            .addMembers("victim")))));
        }
        Map<Long, Frame> answers = answers(mallory, rids);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long created = answers.values().stream().filter(Frame::hasGroupResponse).count();
        long limited = answers.values().stream()
                .filter(f -> f.hasError() && f.getError().getCode() == ErrorCode.ERROR_CODE_RATE_LIMITED).count();
        assertEquals(400, created + limited);
        assertTrue(created >= 100 && created <= 100 + 10 * seconds + 1, created + " created in " + seconds + " s");
        long victimGroups = store.conversations("victim").size();
        assertEquals(created, victimGroups, "the victim is in exactly the groups admitted");
        // a group of one's own is not an addition of others
        long rid = mallory.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                .setCreate(GroupRequest.Create.newBuilder().setName("notes"))));
        assertTrue(mallory.await(x -> x.getRequestId() == rid).hasGroupResponse());
    }

    @Test
    void aTypingBurstIsRelayedOnlyUpToTheLimit() throws Exception {
        start(Map.of()); // typing: 2 a second, burst 5
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device bob = node.connect("bob", "phone");
        for (int i = 0; i < 18; i++) {
            alice.write(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation("d:alice:bob")
                    .setTyping(true)).build());
        }
        int relayed = 0;
        while (bob.poll(Frame::hasTyping, 300) != null) {
            relayed++;
        }
        assertTrue(relayed >= 5 && relayed <= 6, relayed + " typing notices relayed of 18");
        assertNull(alice.poll(Frame::hasError, 0), "dropped silently");
    }

    @Test
    void theOperatorKicksOneDeviceOrEveryDevice() throws Exception {
        start(Map.of());
        TestNode.Device phone = node.connect("alice", "phone");
        TestNode.Device laptop = node.connect("alice", "laptop");
        TestNode.Device bob = node.connect("bob", "phone");
        assertEquals(0, node.engine.kick("alice", "tablet", "nope"));
        assertEquals(0, node.engine.kick("nobody", null, "nope"));
        assertEquals(1, node.engine.kick("alice", "phone", "abuse report 17"));
        Notice notice = phone.awaitClosed();
        assertEquals(Notice.Kind.KIND_KICKED, notice.getKind());
        assertEquals("abuse report 17", notice.getText());
        assertFalse(laptop.closed.isDone());
        TestNode.Device tablet = node.connect("alice", "tablet");
        assertEquals(2, node.engine.kick("alice", null, "account suspended"));
        assertEquals(Notice.Kind.KIND_KICKED, laptop.awaitClosed().getKind());
        assertEquals(Notice.Kind.KIND_KICKED, tablet.awaitClosed().getKind());
        assertFalse(bob.closed.isDone());
    }
}
