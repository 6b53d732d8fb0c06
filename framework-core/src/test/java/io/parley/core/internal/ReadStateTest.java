package io.parley.core.internal;

import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.Typing;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Receipts ({@code DeliveryUpdate}) and read updates ({@code ReadUpdate}) only ever move forward: a repeated ack or
 * mark, or one from a device behind another of the same user, is applied (it cannot lower anything) but not relayed.
 * And a verb that names a conversation without naming one is a missing field ({@code INVALID_REQUEST}), not an
 * unknown conversation.
 */
class ReadStateTest extends OneNodeTest {
    private static final String CONVERSATION = "d:alice:bob";


    private static long send(TestNode.Device from, String id, TestNode.Device to) throws InterruptedException {
        long rid = from.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId(id).setPeer("bob")
                .setType("text")));
        long seq = from.await(x -> x.getRequestId() == rid && x.hasSendAck()).getSendAck().getSeq();
        to.await(x -> x.hasDeliver() && x.getDeliver().getMessages(0).getSeq() == seq);
        return seq;
    }

    private static Frame.Builder ack(long seq) {
        return Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation(CONVERSATION).setSeq(seq));
    }

    private static Frame.Builder read(long seq) {
        return Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation(CONVERSATION).setSeq(seq));
    }

    private TestNode.Device alice;
    private TestNode.Device bobPhone;
    private TestNode.Device bobTablet;

    /** alice, and bob on two devices, in a conversation of three messages. */
    private void threeMessages() throws InterruptedException {
        node = new TestNode(store, Map.of());
        alice = node.connect("alice", "phone");
        bobPhone = node.connect("bob", "phone");
        bobTablet = node.connect("bob", "tablet");
        for (int i = 1; i <= 3; i++) {
            send(alice, "m" + i, bobPhone);
        }
    }

    @Test
    void aReceiptIsSentOnlyWhenItPassesTheHighestSentBefore() throws Exception {
        threeMessages();
        bobPhone.request(ack(3));
        assertEquals(3, alice.await(Frame::hasDeliveryUpdate).getDeliveryUpdate().getSeq());
        bobTablet.request(ack(1)); // the tablet catches up behind the phone
        bobPhone.request(ack(3)); // a repeat
        bobTablet.awaitIdle();
        bobPhone.awaitIdle();
        assertNull(alice.poll(Frame::hasDeliveryUpdate, 200), "nothing new for alice");
        assertEquals(Map.of(CONVERSATION, 1L), store.watermarks("bob", "tablet"), "the tablet's own watermark moved");

        send(alice, "m4", bobPhone);
        bobTablet.request(ack(4));
        assertEquals(4, alice.await(Frame::hasDeliveryUpdate).getDeliveryUpdate().getSeq(), "past 3: sent");
    }

    @Test
    void aReadUpdateIsSentOnlyWhenTheCursorMovesForward() throws Exception {
        threeMessages();
        bobPhone.request(read(3));
        assertEquals(3, alice.await(Frame::hasReadUpdate).getReadUpdate().getSeq());
        assertEquals(3, bobTablet.await(Frame::hasReadUpdate).getReadUpdate().getSeq());
        bobTablet.request(read(1)); // behind the cursor
        bobPhone.request(read(3)); // the same mark again
        bobTablet.awaitIdle();
        bobPhone.awaitIdle();
        assertNull(alice.poll(Frame::hasReadUpdate, 200), "the peer is not told the cursor went back");
        assertNull(bobTablet.poll(Frame::hasReadUpdate, 0), "nor the user's other device");
        assertEquals(3L, store.readCursors("bob").get(CONVERSATION));

        send(alice, "m4", bobPhone);
        bobTablet.request(read(4));
        assertEquals(4, alice.await(Frame::hasReadUpdate).getReadUpdate().getSeq());
        assertEquals(4, bobPhone.await(Frame::hasReadUpdate).getReadUpdate().getSeq());
    }

    @Test
    void aVerbWithoutItsConversationIsAnInvalidRequestNotAnUnknownConversation() throws Exception {
        node = new TestNode(store, Map.of());
        TestNode.Device bob = node.connect("bob", "phone");
        List<Frame.Builder> missing = List.of(
                Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setSeq(1)),
                Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setSeq(1)),
                Frame.newBuilder().setTyping(Typing.newBuilder().setTyping(true)),
                Frame.newBuilder().setSync(SyncRequest.newBuilder().setRange(SyncRequest.Range.newBuilder()
                        .setFromSeq(1))),
                Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("x").setConversation("").setType("text")));
        for (Frame.Builder frame : missing) {
            long rid = bob.request(frame);
            Frame answer = bob.await(x -> x.getRequestId() == rid);
            assertAll(frame.getOpCase().name(),
                    () -> assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, answer.getError().getCode(),
                            answer.toString()),
                    () -> assertEquals("conversation is required", answer.getError().getMessage()));
        }
        long rid = bob.request(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                .setConversation("d:alice:carol").setSeq(1)));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, bob.await(x -> x.getRequestId() == rid).getError().getCode(),
                "another pair's conversation is still not found");
    }

    @Test
    void aSeqOf2To63OrMoreIsBeyondTheHeadNotIgnored() throws Exception {
        threeMessages();
        bobPhone.awaitIdle();
        for (Frame.Builder frame : List.of(ack(-1), read(-1), ack(Long.MIN_VALUE))) { // uint64 2^64-1 and 2^63
            long rid = bobPhone.request(frame);
            Frame answer = bobPhone.await(x -> x.getRequestId() == rid);
            assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, answer.getError().getCode(), answer.toString());
            assertTrue(answer.getError().getMessage().contains("beyond the head"), answer.toString());
        }
        assertEquals(Map.of(), store.watermarks("bob", "phone"), "nothing moved");
    }

    @Test
    void highestForgetsEverythingWhenFullAndAnswersPerPair() {
        Highest highest = new Highest(1); // one conversation
        assertTrue(highest.raise("c", "u", 5));
        assertFalse(highest.raise("c", "u", 5));
        assertFalse(highest.raise("c", "u", 4));
        assertTrue(highest.raise("c", "v", 1), "per user");
        assertTrue(highest.raise("c", "u", 6));
        assertTrue(highest.raise("d", "u", 1), "full: cleared, then this one held");
        assertTrue(highest.raise("c", "u", 2), "forgotten: a lower seq passes once");
        assertFalse(highest.raise("c", "u", 2));
    }
}
