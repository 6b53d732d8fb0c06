package io.parley.core.internal;

import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Send;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A delivery ack whose checks are all in memory is applied on the thread that hands the frame to the core (the
 * connection's event loop; here the test thread) instead of a worker; anything the fast path cannot check goes to a
 * worker and is answered as before. The test thread is the "event loop": an ack applied by the time
 * {@code write} returns, on this thread, took the fast path.
 */
class DeliverAckOnTheEventLoopTest extends OneNodeTest {

    private static Frame ack(String conversation, long seq) {
        return Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation(conversation).setSeq(seq))
                .build();
    }


    private static long send(TestNode.Device from, Send.Builder send, TestNode.Device to) throws InterruptedException {
        long rid = from.request(Frame.newBuilder().setSend(send));
        long seq = from.await(x -> x.getRequestId() == rid && x.hasSendAck()).getSendAck().getSeq();
        to.await(x -> x.hasDeliver() && x.getDeliver().getMessages(0).getSeq() == seq);
        return seq;
    }

    @Test
    void anAckTheStoreCanCheckInMemoryIsAppliedOnTheCallingThreadAndThePeerGetsItsReceipt() throws Exception {
        node = new TestNode(store, Map.of());
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device bob = node.connect("bob", "phone");
        for (int i = 1; i <= 3; i++) {
            long seq = send(alice, Send.newBuilder().setClientMsgId("m" + i).setPeer("bob").setType("text"), bob);
            bob.awaitIdle();
            bob.write(ack("d:alice:bob", seq));
            assertEquals(Map.of("d:alice:bob", seq), store.watermarks("bob", "phone"), "applied before write returned");
            assertSame(Thread.currentThread(), store.lastWatermarkThread);
            Frame receipt = alice.await(Frame::hasDeliveryUpdate);
            assertEquals(seq, receipt.getDeliveryUpdate().getSeq());
            assertEquals("bob", receipt.getDeliveryUpdate().getUser());
        }
    }

    @Test
    void anAckInACachedGroupIsAppliedOnTheCallingThread() throws Exception {
        node = new TestNode(store, Map.of());
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device bob = node.connect("bob", "phone");
        long rid = alice.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("create")
                .setCreate(GroupRequest.Create.newBuilder().setName("team").addMembers("bob"))));
        String group = "g:" + alice.await(x -> x.getRequestId() == rid && x.hasGroupResponse())
                .getGroupResponse().getGroup().getId();
        long seq = send(alice, Send.newBuilder().setClientMsgId("g1").setConversation(group).setType("text"), bob);
        bob.awaitIdle();
        bob.write(ack(group, seq));
        assertEquals(seq, store.watermarks("bob", "phone").get(group));
        assertSame(Thread.currentThread(), store.lastWatermarkThread);
    }

    @Test
    void aStoreThatMustLookTheHeadUpHasTheAckAppliedOnAWorker() throws Exception {
        store.knowsHeads = false;
        node = new TestNode(store, Map.of());
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device bob = node.connect("bob", "phone");
        long seq = send(alice, Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text"), bob);
        bob.awaitIdle();
        bob.write(ack("d:alice:bob", seq));
        assertEquals(seq, alice.await(Frame::hasDeliveryUpdate).getDeliveryUpdate().getSeq());
        assertEquals(Map.of("d:alice:bob", seq), store.watermarks("bob", "phone"));
        assertNotSame(Thread.currentThread(), store.lastWatermarkThread);
        assertTrue(store.lastWatermarkThread.getName().startsWith("parley-engine-"), store.lastWatermarkThread.getName());
    }

    @Test
    void acksTheFastPathCannotCheckAreStillRefusedWithTheirErrors() throws Exception {
        node = new TestNode(store, Map.of());
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device bob = node.connect("bob", "phone");
        send(alice, Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text"), bob);

        bob.awaitIdle();
        long beyond = bob.request(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                .setConversation("d:alice:bob").setSeq(2)));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                bob.await(x -> x.getRequestId() == beyond).getError().getCode(), "a seq beyond the head");
        bob.awaitIdle();
        long other = bob.request(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                .setConversation("d:alice:carol").setSeq(1)));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND,
                bob.await(x -> x.getRequestId() == other).getError().getCode(), "another pair's conversation");
        bob.awaitIdle();
        long group = bob.request(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                .setConversation("g:nosuchgroup").setSeq(1)));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND,
                bob.await(x -> x.getRequestId() == group).getError().getCode(), "a group that does not exist");
        assertEquals(Map.of(), store.watermarks("bob", "phone"), "none of them moved the watermark");
    }

    @Test
    void acksOverTheConnectionsRateWaitOnAWorkerInOrderAndNoneIsLost() throws Exception {
        node = new TestNode(store, Map.of("limit.frames.per.connection.per.second", 5,
                "limit.frames.per.connection.burst", 5));
        TestNode.Device alice = node.connect("alice", "phone");
        TestNode.Device bob = node.connect("bob", "phone");
        for (int i = 1; i <= 4; i++) { // alice's own frames stay within the burst
            send(alice, Send.newBuilder().setClientMsgId("m" + i).setPeer("bob").setType("text"), bob);
        }
        bob.awaitIdle();
        int[] acked = {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}; // 5 from the burst at once, then 5 a second, in order
        for (int seq : acked) {
            bob.write(ack("d:alice:bob", seq));
        }
        for (int seq = 1; seq <= 4; seq++) { // a repeated ack tells alice nothing new: one receipt per seq
            assertEquals(seq, alice.await(Frame::hasDeliveryUpdate, 10_000).getDeliveryUpdate().getSeq(),
                    "receipts in ack order");
        }
        bob.awaitIdle();
        assertEquals(Map.of("d:alice:bob", 4L), store.watermarks("bob", "phone"));
        assertNull(alice.poll(Frame::hasDeliveryUpdate, 200), "no receipt for the repeats");
        assertTrue(store.lastWatermarkThread.getName().startsWith("parley-engine-"),
                "the acks beyond the burst were delayed on the engine: " + store.lastWatermarkThread.getName());
    }
}
