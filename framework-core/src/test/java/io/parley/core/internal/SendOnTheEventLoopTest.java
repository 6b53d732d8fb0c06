package io.parley.core.internal;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A send of a {@linkplain MessageProcessor#pure() pure} type is handled on the thread that hands the frame to the core
 * (the connection's event loop; here the test thread) up to the store's append, when nothing in it has to wait; every
 * other send goes to a worker, and every answer is what a worker would have given. The {@link TinyStore} completes
 * appends on the caller's thread, so a send handled on the fast path is acked by the time {@code write} returns.
 */
class SendOnTheEventLoopTest extends OneNodeTest {

    /** A processor that records the thread it ran on and answers with {@code answer}. */
    private static final class Recording implements MessageProcessor {
        final boolean pure;
        final Function<Message, CompletionStage<ProcessResult>> answer;
        volatile Thread lastThread;
        volatile Message lastDraft;
        final java.util.List<Thread> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile int calls;

        Recording(boolean pure, Function<Message, CompletionStage<ProcessResult>> answer) {
            this.pure = pure;
            this.answer = answer;
        }

        Recording(boolean pure) {
            this(pure, draft -> CompletableFuture.completedFuture(ProcessResult.store(draft, "preview")));
        }

        @Override
        public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
            lastThread = Thread.currentThread();
            lastDraft = draft;
            threads.add(Thread.currentThread());
            calls++;
            return answer.apply(draft);
        }

        @Override
        public boolean pure() {
            return pure;
        }
    }

    private TestNode.Device alice;
    private TestNode.Device bob;

    /** Starts the node with {@code config}, {@code text} served by {@code processor}, alice and bob connected. */
    private void start(Map<String, Object> config, MessageProcessor processor) throws InterruptedException {
        node = new TestNode(store, config);
        serve("text", processor);
        alice = node.connect("alice", "phone");
        bob = node.connect("bob", "phone");
    }

    /** Serves {@code type} with {@code processor}, ranked above the node's own {@code text} processor. */
    private void serve(String type, MessageProcessor processor) {
        node.engine.processors().add(type, 1_000 + type.length(), 100, -1, processor);
    }


    private static Send.Builder text(String clientMsgId, String peer) {
        return Send.newBuilder().setClientMsgId(clientMsgId).setPeer(peer).setType("text");
    }

    /** The frame answering {@code rid} if it is already there (the send was handled before write returned), else null. */
    private static Frame answeredAlready(TestNode.Device d, long rid) {
        for (Frame f : d.frames) {
            if (f.getRequestId() == rid) {
                return f;
            }
        }
        return null;
    }

    @Test
    void aPureTypesSendIsHandledOnTheCallingThreadAndDelivered() throws Exception {
        Recording pure = new Recording(true);
        start(Map.of(), pure);
        for (int i = 1; i <= 3; i++) {
            alice.awaitIdle();
            long rid = alice.request(Frame.newBuilder().setSend(text("m" + i, "bob")));
            Frame ack = answeredAlready(alice, rid);
            assertTrue(ack != null && ack.hasSendAck(), "acked before write returned: " + ack);
            assertEquals(i, ack.getSendAck().getSeq());
            assertSame(Thread.currentThread(), pure.lastThread, "processed on the calling thread");
            assertSame(Thread.currentThread(), store.lastAppendThread, "appended on the calling thread");
            Message delivered = bob.await(Frame::hasDeliver).getDeliver().getMessages(0);
            assertEquals(i, delivered.getSeq());
            assertEquals("alice", delivered.getSender());
            assertEquals("m" + i, delivered.getClientMsgId());
        }
        assertEquals(0, store.lookups.get(), "a pure type's send is not looked up before the append");
    }

    @Test
    void aRepeatedSendOfAPureTypeGetsTheOriginalsAckAndStoresNothing() throws Exception {
        start(Map.of(), new Recording(true));
        alice.awaitIdle();
        long first = alice.request(Frame.newBuilder().setSend(text("once", "bob")));
        SendAck original = alice.await(x -> x.getRequestId() == first).getSendAck();
        bob.await(Frame::hasDeliver);
        alice.awaitIdle();
        long again = alice.request(Frame.newBuilder().setSend(text("once", "bob")));
        SendAck repeat = alice.await(x -> x.getRequestId() == again).getSendAck();
        assertTrue(repeat.getDuplicate());
        assertEquals(original.getMessageId(), repeat.getMessageId());
        assertEquals(original.getSeq(), repeat.getSeq());
        assertEquals(original.getServerTime(), repeat.getServerTime());
        assertEquals(1, store.head("d:alice:bob"), "stored once");
        assertEquals(0, store.lookups.get());
        assertNull(bob.frames.poll(200, java.util.concurrent.TimeUnit.MILLISECONDS), "delivered once");
    }

    @Test
    void aRepeatThatAPureTypeNowRefusesStillGetsTheOriginalsAck() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean strict = new java.util.concurrent.atomic.AtomicBoolean();
        start(Map.of(), new Recording(true, draft -> CompletableFuture.completedFuture(strict.get()
                ? ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, "stricter rules now")
                : ProcessResult.store(draft, "preview"))));
        alice.awaitIdle();
        long first = alice.request(Frame.newBuilder().setSend(text("kept", "bob")));
        SendAck original = alice.await(x -> x.getRequestId() == first).getSendAck();
        strict.set(true); // the type's rules changed (a smaller limit, say) after the message was stored
        alice.awaitIdle();
        long again = alice.request(Frame.newBuilder().setSend(text("kept", "bob")));
        Frame repeat = alice.await(x -> x.getRequestId() == again);
        assertTrue(repeat.hasSendAck(), "the same client_msg_id gets the same ack: " + repeat);
        assertTrue(repeat.getSendAck().getDuplicate());
        assertEquals(original.getMessageId(), repeat.getSendAck().getMessageId());
        assertEquals(original.getSeq(), repeat.getSendAck().getSeq());
        alice.awaitIdle();
        long fresh = alice.request(Frame.newBuilder().setSend(text("new", "bob")));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, alice.await(x -> x.getRequestId() == fresh).getError().getCode(),
                "a send that repeats nothing is refused");
        assertEquals(1, store.head("d:alice:bob"));
    }

    @Test
    void aTypeThatIsNotPureIsLookedUpAndProcessedOnAWorker() throws Exception {
        Recording impure = new Recording(false);
        start(Map.of(), impure);
        alice.awaitIdle();
        long rid = alice.request(Frame.newBuilder().setSend(text("m1", "bob")));
        assertEquals(1, alice.await(x -> x.getRequestId() == rid).getSendAck().getSeq());
        bob.await(Frame::hasDeliver);
        assertNotSame(Thread.currentThread(), impure.lastThread);
        assertTrue(impure.lastThread.getName().startsWith("parley-engine-"), impure.lastThread.getName());
        assertEquals(1, store.lookups.get(), "looked up before processing");

        alice.awaitIdle();
        long again = alice.request(Frame.newBuilder().setSend(text("m1", "bob")));
        assertTrue(alice.await(x -> x.getRequestId() == again).getSendAck().getDuplicate());
        assertEquals(1, impure.calls, "a repeat found by the lookup is not processed again");
    }

    @Test
    void aSendToACachedGroupIsHandledOnTheCallingThread() throws Exception {
        Recording pure = new Recording(true);
        start(Map.of(), pure);
        TestNode.Device carol = node.connect("carol", "phone");
        long create = alice.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("c")
                .setCreate(GroupRequest.Create.newBuilder().setName("team").addMembers("bob"))));
        String group = "g:" + alice.await(x -> x.getRequestId() == create && x.hasGroupResponse())
                .getGroupResponse().getGroup().getId();
        alice.awaitIdle();
        long rid = alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("g1")
                .setConversation(group).setType("text")));
        Frame ack = answeredAlready(alice, rid);
        assertTrue(ack != null && ack.hasSendAck(), "acked before write returned: " + ack);
        assertSame(Thread.currentThread(), store.lastAppendThread);
        bob.await(x -> x.hasDeliver() && x.getDeliver().getMessages(0).getClientMsgId().equals("g1"));

        carol.awaitIdle(); // not a member: refused as on a worker, and nothing is stored
        long head = store.head(group);
        long outsider = carol.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("x1")
                .setConversation(group).setType("text")));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, carol.await(x -> x.getRequestId() == outsider).getError().getCode());
        assertEquals(head, store.head(group));
    }

    @Test
    void refusedSendsGetTheSameErrorsAndStoreNothing() throws Exception {
        node = new TestNode(store, Map.of("max.body.bytes", 64));
        serve("text", new Recording(true));
        serve("nope", new Recording(true, draft -> CompletableFuture.completedFuture(
                ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_REQUEST, "not today"))));
        TestNode.Device alice = node.connect("alice", "phone");
        Map<Send.Builder, ErrorCode> refused = Map.of(
                text("p1", "not a valid id!"), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                text("", "bob"), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                text("p3", "bob").setBody(Any.newBuilder().setValue(ByteString.copyFrom(new byte[100]))),
                ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                text("p4", "bob").setType("nope"), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                text("p5", "bob").setType("unknown"), ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE);
        for (Map.Entry<Send.Builder, ErrorCode> e : refused.entrySet()) {
            alice.awaitIdle();
            long rid = alice.request(Frame.newBuilder().setSend(e.getKey()));
            Frame answer = alice.await(x -> x.getRequestId() == rid);
            assertEquals(e.getValue(), answer.getError().getCode(), e.getKey() + " -> " + answer);
        }
        assertEquals(0, store.head("d:alice:bob"), "nothing stored");
    }

    @Test
    void sendsOverTheUsersRateWaitOnAWorkerAndKeepTheirOrder() throws Exception {
        Recording pure = new Recording(true);
        start(Map.of("limit.sends.per.user.per.second", 4, "limit.sends.per.user.burst", 4,
                "limit.sends.max.wait.millis", 2_000), pure);
        alice.awaitIdle();
        long[] rids = new long[6];
        for (int i = 0; i < rids.length; i++) { // 4 from the burst at once, the rest as tokens come
            rids[i] = alice.request(Frame.newBuilder().setSend(text("r" + i, "bob")));
        }
        for (int i = 0; i < rids.length; i++) {
            long rid = rids[i];
            assertEquals(i + 1, alice.await(x -> x.getRequestId() == rid, 5_000).getSendAck().getSeq(),
                    "acked in order, none refused");
        }
        assertEquals(java.util.List.of("main", "main", "main", "main", "engine", "engine"), pure.threads.stream()
                .map(t -> t == Thread.currentThread() ? "main" : t.getName().replaceFirst("^parley-(engine)-.*", "$1"))
                .toList(), "the sends beyond the burst waited on the engine");
    }

    @Test
    void aPureProcessorThatAnswersLaterHoldsTheSessionsNextFramesBack() throws Exception {
        CompletableFuture<ProcessResult> late = new CompletableFuture<>();
        Recording slow = new Recording(true, draft -> draft.getClientMsgId().equals("first")
                ? late : CompletableFuture.completedFuture(ProcessResult.store(draft, "")));
        start(Map.of(), slow);
        alice.awaitIdle();
        long first = alice.request(Frame.newBuilder().setSend(text("first", "bob")));
        long second = alice.request(Frame.newBuilder().setSend(text("second", "bob")));
        assertEquals(1, slow.calls, "the second send waits for the first's admission");
        assertFalse(((ServerSession) alice.session).pendingFrames() == 0);
        late.complete(ProcessResult.store(slow.lastDraft, "")); // the processor answers at last
        assertEquals(1, alice.await(x -> x.getRequestId() == first).getSendAck().getSeq());
        assertEquals(2, alice.await(x -> x.getRequestId() == second).getSendAck().getSeq());
        alice.awaitIdle();
    }
}
