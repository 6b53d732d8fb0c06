package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.core.proto.ConversationListRequest;
import io.parley.core.proto.ConversationState;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Hello;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol edges a client written from docs/protocol.md alone ran into, on the assembled server over raw TCP:
 * acknowledgements and read marks beyond the head, live deliveries racing a paged resume, acks sent just before a
 * close, one answer for conversations and groups one cannot see, unread counts, limits of {@code ext}.
 */
class ProtocolEdgesIT {
    @TempDir
    static Path work;
    static ServerProcess server;
    private static final AtomicLong ids = new AtomicLong();

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    /** One raw connection with request ids and a helper to wait for the answer to a request. */
    static final class Device implements AutoCloseable {
        final RawConnection c;
        final List<Frame> other = new ArrayList<>();
        long rid = 100;

        Device(String user, String device) throws IOException {
            c = new RawConnection("127.0.0.1", server.port);
            c.send(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                    .setToken(server.tokens().mint(user, null, Duration.ofMinutes(10))).setDeviceId(device)).build());
            Frame ok = c.read();
            assertTrue(ok.hasHelloOk(), ok.toString());
        }

        /** Sends the frame with a fresh request id and returns the answer to it; other frames are kept. */
        Frame call(Frame.Builder frame) throws IOException {
            long id = ++rid;
            c.send(frame.setRequestId(id).build());
            while (true) {
                Frame f = c.read();
                if (f.getRequestId() == id) {
                    return f;
                }
                other.add(f);
            }
        }

        /**
         * Sends a frame that is answered only when refused (an ack, a read mark), then a ping.
         *
         * @return the refusal, or null if there was none by the time the ping was answered
         */
        Frame tell(Frame.Builder frame) throws IOException {
            long id = ++rid;
            c.send(frame.setRequestId(id).build());
            int before = other.size();
            Frame pong = call(Frame.newBuilder().setPing(io.parley.core.proto.Ping.newBuilder().setClientTime(1)));
            assertTrue(pong.hasPong(), pong.toString());
            for (Frame f : other.subList(before, other.size())) {
                if (f.getRequestId() == id) {
                    return f;
                }
            }
            return null;
        }

        long send(String peer, String text) throws IOException {
            Frame ack = call(Frame.newBuilder().setSend(Send.newBuilder().setPeer(peer).setType(Bodies.TEXT_TYPE)
                    .setClientMsgId("c" + ids.incrementAndGet()).setBody(Bodies.text(text))));
            assertTrue(ack.hasSendAck(), ack.toString());
            return ack.getSendAck().getSeq();
        }

        /** Resume: the states, then every delivered message in arrival order, until done. */
        Map<String, Long> resume(int pageSize, List<Message> delivered, Runnable afterStates) throws IOException {
            long id = ++rid;
            c.send(Frame.newBuilder().setRequestId(id).setSync(SyncRequest.newBuilder()
                    .setResume(SyncRequest.Resume.newBuilder().setPageSize(pageSize))).build());
            Map<String, Long> watermarks = new HashMap<>();
            while (true) {
                Frame f = c.read();
                if (f.getRequestId() == id && f.hasSyncResponse()) {
                    if (f.getSyncResponse().getDone()) {
                        return watermarks;
                    }
                    for (ConversationState s : f.getSyncResponse().getConversationsList()) {
                        watermarks.put(s.getConversation(), s.getWatermark());
                    }
                    if (afterStates != null) {
                        afterStates.run();
                    }
                } else if (f.hasDeliver()) {
                    delivered.addAll(f.getDeliver().getMessagesList());
                } else {
                    other.add(f);
                }
            }
        }

        @Override
        public void close() throws IOException {
            c.close();
        }
    }

    @Test
    void acksAndReadMarksBeyondTheHeadAreRefusedAndMoveNothing() throws Exception {
        try (Device alice = new Device("ack-alice", "a1"); Device bob = new Device("ack-bob", "b1")) {
            alice.send("ack-bob", "one");
            alice.send("ack-bob", "two");
            String conversation = "d:ack-alice:ack-bob";
            for (long seq : new long[] {3, 999, Long.MAX_VALUE}) {
                Frame refused = bob.tell(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                        .setConversation(conversation).setSeq(seq)));
                assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refused.getError().getCode(), String.valueOf(refused));
                assertTrue(refused.getError().getMessage().contains("beyond the head"), refused.toString());
                Frame read = bob.tell(Frame.newBuilder().setMarkRead(MarkRead.newBuilder()
                        .setConversation(conversation).setSeq(seq)));
                assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, read.getError().getCode(), String.valueOf(read));
            }
            // the connection stays usable and an ack within the head is taken without an answer
            assertNull(bob.tell(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                    .setConversation(conversation).setSeq(2))));
            // alice heard of the valid ack only
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (alice.other.stream().noneMatch(Frame::hasDeliveryUpdate) && System.nanoTime() < deadline) {
                alice.tell(Frame.newBuilder().setPing(io.parley.core.proto.Ping.newBuilder()));
            }
            assertTrue(alice.other.stream().anyMatch(f -> f.hasDeliveryUpdate() && f.getDeliveryUpdate().getSeq() == 2));
            for (Frame f : alice.other) {
                assertFalse(f.hasDeliveryUpdate() && f.getDeliveryUpdate().getSeq() > 2, f.toString());
                assertFalse(f.hasReadUpdate() && f.getReadUpdate().getSeq() > 2, f.toString());
            }
        }
        // alice never heard of a delivery or read past 2
        try (Device alice = new Device("ack-alice", "a2")) {
            alice.send("ack-bob", "three");
        }
        try (Device alice = new Device("ack-alice", "a2"); Device bob = new Device("ack-bob", "b1")) {
            List<Message> got = new ArrayList<>();
            Map<String, Long> wm = bob.resume(50, got, null);
            assertEquals(2, wm.get("d:ack-alice:ack-bob"), "the watermark stayed at the last valid ack");
            assertEquals(List.of(3L), got.stream().map(Message::getSeq).toList(), "the later message reaches the device");
        }
    }

    @Test
    void liveMessagesDuringAPagedResumeArriveInSeqOrder() throws Exception {
        String conversation = "d:order-alice:order-bob";
        try (Device alice = new Device("order-alice", "a1")) {
            for (int i = 0; i < 300; i++) {
                alice.send("order-bob", "backlog " + i);
            }
        }
        for (int round = 0; round < 3; round++) {
            List<Message> got = new ArrayList<>();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            long head;
            try (Device alice = new Device("order-alice", "a-" + round);
                 Device bob = new Device("order-bob", "b-" + round)) {
                Thread sender = new Thread(() -> {
                    try {
                        for (int i = 0; i < 40; i++) {
                            alice.send("order-bob", "live " + i);
                        }
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                });
                // live sends start as soon as the states are in, while the pages stream
                bob.resume(10, got, sender::start);
                sender.join(30_000);
                assertNull(failed.get());
                head = 300 + 40L * (round + 1);
                // whatever was delivered live after the resume, in order too
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while ((got.isEmpty() || got.get(got.size() - 1).getSeq() < head) && System.nanoTime() < deadline) {
                    Frame f = bob.c.read();
                    if (f.hasDeliver()) {
                        got.addAll(f.getDeliver().getMessagesList());
                    }
                }
            }
            long expected = 1;
            for (Message m : got) {
                assertEquals(conversation, m.getConversation());
                assertEquals(expected, m.getSeq(), "round " + round + ": seq order broken after " + (expected - 1));
                expected++;
            }
            assertEquals(head, expected - 1, "every message once");
        }
    }

    @Test
    void acksSentJustBeforeClosingAreKept() throws Exception {
        String conversation = "d:close-alice:close-bob";
        long acked = 0;
        try (Device alice = new Device("close-alice", "a1")) {
            for (int round = 0; round < 20; round++) {
                for (int i = 0; i < 5; i++) {
                    alice.send("close-bob", "r" + round + "m" + i);
                }
                long head = (round + 1) * 5L;
                assertEquals(acked, watermarkSettlingAt(conversation, acked), "round " + round + ": the watermark");
                try (Device bob = new Device("close-bob", "b1")) {
                    List<Message> got = new ArrayList<>();
                    bob.resume(50, got, null);
                    assertEquals(head - acked, got.size(), "round " + round + ": what the device missed");
                    for (Message m : got) {
                        bob.c.send(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                                .setConversation(conversation).setSeq(m.getSeq())).build());
                    }
                    if (round % 2 == 0) {
                        bob.c.shutdownOutput(); // half-close, then close
                    }
                }
                acked = head;
            }
        }
        assertEquals(acked, watermarkSettlingAt(conversation, acked));
    }

    /**
     * The device's watermark as a resume reports it, asked again for up to 2 s until it reaches {@code expected}: the
     * server applies a closed session's last acks on its workers, a new session may look a moment earlier. A lost
     * ack never arrives, so the result stays short of {@code expected}.
     */
    private static long watermarkSettlingAt(String conversation, long expected) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        long wm;
        do {
            try (Device probe = new Device("close-bob", "b1")) {
                wm = probe.resume(1, new ArrayList<>(), null).getOrDefault(conversation, 0L);
            }
            if (wm < expected) {
                Thread.sleep(50);
            }
        } while (wm < expected && System.nanoTime() < deadline);
        return wm;
    }

    @Test
    void conversationsAndGroupsOneCannotSeeAnswerAlike() throws Exception {
        try (Device alice = new Device("vis-alice", "a1"); Device carol = new Device("vis-carol", "c1")) {
            alice.send("vis-bob", "exists");
            Frame group = alice.call(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                    .setCreate(GroupRequest.Create.newBuilder().setName("private").addMembers("vis-bob"))));
            String groupId = group.getGroupResponse().getGroup().getId();
            List<Frame> answers = new ArrayList<>();
            for (String conversation : new String[] {"d:vis-alice:vis-bob", "d:vis-alice:vis-nobody",
                    "d:vis-bob:vis-alice", "g:" + groupId, "g:no-such-group"}) {
                answers.add(carol.call(Frame.newBuilder().setSync(SyncRequest.newBuilder().setRange(
                        SyncRequest.Range.newBuilder().setConversation(conversation).setFromSeq(1)))));
            }
            for (Frame a : answers) {
                assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, a.getError().getCode(), a.toString());
            }
            assertEquals(answers.get(0).getError().getMessage(), answers.get(1).getError().getMessage());
            assertEquals(answers.get(3).getError().getMessage(), answers.get(4).getError().getMessage());
            Frame existing = carol.call(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                    .setGet(GroupRequest.Get.newBuilder().setGroupId(groupId))));
            Frame missing = carol.call(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                    .setGet(GroupRequest.Get.newBuilder().setGroupId("no-such-group"))));
            assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, existing.getError().getCode(), existing.toString());
            assertEquals(missing.getError().getCode(), existing.getError().getCode());
            assertEquals(missing.getError().getMessage(), existing.getError().getMessage());
        }
    }

    @Test
    void unreadCountsCountOnlyWhatOthersSent() throws Exception {
        try (Device alice = new Device("unread-alice", "a1"); Device bob = new Device("unread-bob", "b1")) {
            for (int i = 0; i < 3; i++) {
                alice.send("unread-bob", "from alice " + i);
            }
            for (int i = 0; i < 2; i++) {
                bob.send("unread-alice", "from bob " + i);
            }
            assertEquals(2, unread(alice, "d:unread-alice:unread-bob"));
            assertEquals(3, unread(bob, "d:unread-alice:unread-bob"));
            assertNull(bob.tell(Frame.newBuilder().setMarkRead(MarkRead.newBuilder()
                    .setConversation("d:unread-alice:unread-bob").setSeq(2))));
        }
        try (Device bob = new Device("unread-bob", "b2")) {
            assertEquals(1, unread(bob, "d:unread-alice:unread-bob"), "one of alice's after the read mark");
        }
    }

    private static long unread(Device d, String conversation) throws IOException {
        Frame list = d.call(Frame.newBuilder().setConversationList(ConversationListRequest.newBuilder()));
        for (ConversationSummary s : list.getConversationListResponse().getConversationsList()) {
            if (s.getConversation().equals(conversation)) {
                return s.getUnread();
            }
        }
        throw new AssertionError("no " + conversation + " in " + list);
    }

    @Test
    void hugeLimitsAndPageSizesMeanTheServersMaximum() throws Exception {
        try (Device alice = new Device("limit-alice", "a1")) {
            for (int i = 0; i < 5; i++) {
                alice.send("limit-bob", "m" + i);
            }
        }
        try (Device bob = new Device("limit-bob", "b1")) {
            for (int limit : new int[] {Integer.MIN_VALUE, -1}) { // 2^31 and 2^32-1 as uint32
                Frame range = bob.call(Frame.newBuilder().setSync(SyncRequest.newBuilder().setRange(SyncRequest.Range
                        .newBuilder().setConversation("d:limit-alice:limit-bob").setFromSeq(1).setLimit(limit))));
                assertEquals(5, range.getSyncResponse().getMessagesCount(), range.toString());
            }
            Frame all = bob.call(Frame.newBuilder().setSync(SyncRequest.newBuilder().setRange(SyncRequest.Range
                    .newBuilder().setConversation("d:limit-alice:limit-bob").setFromSeq(2).setToSeq(-1))));
            assertEquals(4, all.getSyncResponse().getMessagesCount(), "to_seq 2^64-1: up to the head");
            List<Message> got = new ArrayList<>();
            bob.resume(-1, got, null);
            assertEquals(5, got.size(), "a resume with page_size 2^32-1 still streams everything");
        }
    }

    @Test
    void groupRequestIdsAndMessageIdsDoNotShareANamespace() throws Exception {
        try (Device alice = new Device("ns-alice", "a1")) {
            Frame refused = alice.call(Frame.newBuilder().setSend(Send.newBuilder().setPeer("ns-bob")
                    .setType(Bodies.TEXT_TYPE).setClientMsgId("group:k1").setBody(Bodies.text("x"))));
            assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refused.getError().getCode(), refused.toString());
            Frame created = alice.call(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("k1")
                    .setCreate(GroupRequest.Create.newBuilder().setName("ns").addMembers("ns-bob"))));
            assertTrue(created.hasGroupResponse(), created.toString());
            assertTrue(alice.call(Frame.newBuilder().setSend(Send.newBuilder().setPeer("ns-bob")
                    .setType(Bodies.TEXT_TYPE).setClientMsgId("k1").setBody(Bodies.text("x")))).hasSendAck());
        }
    }

    @Test
    void extIsLimited() throws Exception {
        try (Device alice = new Device("ext-alice", "a1")) {
            Send.Builder base = Send.newBuilder().setPeer("ext-bob").setType(Bodies.TEXT_TYPE).setBody(Bodies.text("x"));
            Send.Builder many = base.clone().setClientMsgId("many");
            for (int i = 0; i < 33; i++) {
                many.putExt("k" + i, "v");
            }
            Send.Builder big = base.clone().setClientMsgId("big").putExt("k", "v".repeat(5000));
            Send.Builder emptyKey = base.clone().setClientMsgId("empty").putExt("", "v");
            for (Send.Builder bad : List.of(many, big, emptyKey)) {
                Frame refused = alice.call(Frame.newBuilder().setSend(bad));
                assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refused.getError().getCode(), refused.toString());
                assertTrue(refused.getError().getMessage().contains("ext"), refused.toString());
            }
            Send.Builder fine = base.clone().setClientMsgId("fine");
            for (int i = 0; i < 32; i++) {
                fine.putExt("k" + i, "v".repeat(100));
            }
            assertTrue(alice.call(Frame.newBuilder().setSend(fine)).hasSendAck());
        }
    }
}
