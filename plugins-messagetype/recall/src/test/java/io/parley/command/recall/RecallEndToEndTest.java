package io.parley.command.recall;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.command.recall.proto.Recall;
import io.parley.command.recall.proto.RecallEvent;
import io.parley.command.recall.proto.RecallResult;
import io.parley.command.recall.proto.Recalled;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Command;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Hello;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.store.mvstore.MvMessageStore;
import io.parley.store.mvstore.MvStoreOptions;
import io.parley.type.text.TextRules;
import io.parley.type.text.proto.Text;
import org.h2.mvstore.MVStoreTool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The recall command on the real engine ({@link InProcessCore}, wired as the core bundle wires it) with the real text
 * type and each real store: devices online and offline converge on the tombstone, the refusals, and what is left of
 * the original in each store.
 */
class RecallEndToEndTest {
    static final String SECRET = "the password is hunter2";
    static final Duration WINDOW = Duration.ofSeconds(2);

    @TempDir
    Path dir;
    MessageStore store;
    InProcessCore core;
    final List<Device> devices = new ArrayList<>();

    void start(String kind) {
        store = switch (kind) {
            case "memory" -> new MemoryMessageStore();
            case "mvstore" -> MvMessageStore.open(MvStoreOptions.defaults(dir));
            default -> throw new IllegalArgumentException(kind);
        };
        TextRules text = new TextRules(4000);
        core = InProcessCore.start(store, Map.of())
                // the token is the user id (the authenticator is not what this test is about)
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(3600)))
                .processor("text", (MessageProcessor) (context, draft) -> CompletableFuture.completedFuture(text.check(draft)))
                .command(RecallRules.COMMAND_TYPE, new RecallHandler(new RecallRules(WINDOW)));
    }

    @AfterEach
    void stop() {
        devices.forEach(Device::close);
        if (core != null) {
            core.close();
        }
        if (store instanceof MvMessageStore mv) {
            mv.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"memory", "mvstore"})
    void onlineAndOfflineDevicesConvergeOnTheTombstoneAndTheOriginalIsGoneFromTheStore(String kind) throws Exception {
        start(kind);
        String conversation = "d:alice:bob";
        Device alicePhone = device("alice", "phone").resume();
        Device bobPhone = device("bob", "phone").resume();
        Device bobTablet = device("bob", "tablet").resume();

        Frame ack = alicePhone.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("c1").setPeer("bob")
                .setType("text").setBody(Any.pack(Text.newBuilder().setText(SECRET).build())).putExt("color", "red")));
        assertTrue(ack.hasSendAck(), ack.toString());
        assertEquals(1, ack.getSendAck().getSeq());
        bobPhone.awaitSeq(conversation, 1);
        bobTablet.awaitSeq(conversation, 1);
        assertEquals(SECRET, bobTablet.shown(conversation).get(1L));
        // the tablet acknowledges and goes offline
        bobTablet.post(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation(conversation).setSeq(1)));
        awaitWatermark("bob", "tablet", conversation, 1);
        bobTablet.close();

        // refusals: someone else's message, a seq that does not exist, a stranger, a malformed payload
        assertRefused(bobPhone.command(recall(conversation, 1), null), ErrorCode.ERROR_CODE_FORBIDDEN, "sender");
        assertRefused(alicePhone.command(recall(conversation, 9), null), ErrorCode.ERROR_CODE_NOT_FOUND, "no message 9");
        Device carol = device("carol", "phone");
        Frame stranger = carol.command(recall(conversation, 1), null);
        Frame nowhere = carol.command(recall("d:bob:zed", 1), null);
        assertRefused(stranger, ErrorCode.ERROR_CODE_NOT_FOUND, "");
        assertEquals(nowhere.getError(), stranger.getError(), "a stranger cannot tell an existing conversation from none");
        assertRefused(alicePhone.command(Any.pack(Text.newBuilder().setText("1").build()), null),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "parley.recall.v1.Recall");
        assertEquals(1, store.head(conversation), "refusals append nothing");

        // the sender recalls within the window
        Frame answer = alicePhone.command(recall(conversation, 1), "recall-1");
        assertTrue(answer.hasCommandResult(), answer.toString());
        RecallResult result = answer.getCommandResult().getPayload().unpack(RecallResult.class);
        assertEquals(conversation, result.getConversation());
        assertEquals(1, result.getSeq());
        assertEquals(2, result.getEventSeq());
        assertEquals("alice", result.getRecalledBy());

        // live: the event reaches the other online device, and the caller's own device
        bobPhone.awaitSeq(conversation, 2);
        alicePhone.awaitSeq(conversation, 2);
        // idempotent: the same request id, or another recall of the recalled message, answers the same and appends nothing
        assertEquals(result, alicePhone.command(recall(conversation, 1), "recall-1").getCommandResult().getPayload()
                .unpack(RecallResult.class));
        assertEquals(result, alicePhone.command(recall(conversation, 1), "recall-2").getCommandResult().getPayload()
                .unpack(RecallResult.class));
        assertEquals(2, store.head(conversation), "one event, however often it is asked");
        // an event is not a message
        assertRefused(alicePhone.command(recall(conversation, 2), null), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "system event");

        // the offline tablet comes back: the resume brings the event (its watermark is 1) and it converges too
        Device tabletAgain = device("bob", "tablet");
        tabletAgain.shown.putAll(bobTablet.shown); // what the tablet kept locally before it went offline
        tabletAgain.resume();
        tabletAgain.awaitSeq(conversation, 2);
        // a device that never saw the original gets the tombstone itself
        Device bobLaptop = device("bob", "laptop").resume();
        bobLaptop.awaitSeq(conversation, 2);
        Map<Long, String> expected = Map.of(1L, "[recalled by alice]", 2L, "[event: 1 recalled]");
        for (Device d : List.of(alicePhone, bobPhone, tabletAgain, bobLaptop)) {
            assertEquals(expected, d.shown(conversation), d + " shows");
        }

        // the store: a tombstone in place (id, seq, sender, time kept; type, body, ext replaced), nothing of the text
        Message tombstone = store.range(conversation, 1, 1, 1).get(0);
        assertEquals(RecallRules.TOMBSTONE_TYPE, tombstone.getType());
        assertEquals(ack.getSendAck().getMessageId(), tombstone.getId());
        assertEquals("alice", tombstone.getSender());
        assertEquals(ack.getSendAck().getServerTime(), tombstone.getServerTime());
        assertTrue(tombstone.getExtMap().isEmpty(), "ext gone: " + tombstone.getExtMap());
        assertEquals(Recalled.newBuilder().setRecalledBy("alice").setRecalledAt(result.getRecalledAt()).setEventSeq(2)
                .build(), tombstone.getBody().unpack(Recalled.class));
        assertEquals(tombstone, store.findByClientId("alice", "c1").orElseThrow(),
                "a retried send of c1 gets the tombstone's ack, never the text back");
        for (Message m : store.range(conversation, 1, 0, 100)) {
            assertFalse(new String(m.toByteArray(), StandardCharsets.ISO_8859_1).contains("hunter2"), m.toString());
        }
        Frame resent = alicePhone.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("c1")
                .setPeer("bob").setType("text").setBody(Any.pack(Text.newBuilder().setText(SECRET).build()))));
        assertTrue(resent.getSendAck().getDuplicate(), "a retry of the recalled send is a duplicate, not a new message");
        assertEquals(2, store.head(conversation));

        // the window: a message older than it is refused to its sender
        Frame second = alicePhone.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("c2")
                .setPeer("bob").setType("text").setBody(Any.pack(Text.newBuilder().setText("later").build()))));
        Thread.sleep(WINDOW.toMillis() + 300);
        assertRefused(alicePhone.command(recall(conversation, second.getSendAck().getSeq()), null),
                ErrorCode.ERROR_CODE_FORBIDDEN, "window");
        assertEquals("later", bobPhone.awaitSeq(conversation, 3).shown(conversation).get(3L));

        if (store instanceof MvMessageStore mv) {
            checkTheMvStoreFile(mv);
        }
    }

    /**
     * MVStore writes copy-on-write: the replace writes a new page and leaves the old one, with the original body, in
     * its chunk until compaction moves the chunk's live pages away and later writes reuse the space. Reads never see
     * it, but the file may still hold its bytes. Offline compaction ({@code MVStoreTool -compact}, documented in
     * docs/storage.md) rewrites the file with live data only.
     */
    private void checkTheMvStoreFile(MvMessageStore mv) throws Exception {
        Path file = mv.file();
        core.close();
        core = null;
        mv.close();
        boolean lingers = contains(Files.readAllBytes(file), "hunter2");
        System.out.println("[recall] mvstore: the recalled text is " + (lingers ? "still" : "not")
                + " in the file's dead space after the recall (copy-on-write)");
        MVStoreTool.compact(file.toString(), false);
        assertFalse(contains(Files.readAllBytes(file), "hunter2"), "offline compaction leaves live data only");
        // and the compacted file is a working store with the tombstone in place
        try (MvMessageStore reopened = MvMessageStore.open(MvStoreOptions.defaults(dir))) {
            store = reopened;
            assertEquals(3, reopened.head("d:alice:bob"));
            assertEquals(RecallRules.TOMBSTONE_TYPE, reopened.range("d:alice:bob", 1, 1, 1).get(0).getType());
            assertEquals("later", Text.parseFrom(reopened.range("d:alice:bob", 3, 3, 1).get(0).getBody().getValue())
                    .getText());
        }
        store = null;
    }

    @Test
    void groupOwnersAndAdminsRecallAnyMessageAtAnyTimePlainMembersOnlyTheirOwnInTheWindow() throws Exception {
        start("memory");
        Device olga = device("olga", "d1").resume();
        Device adam = device("adam", "d1").resume();
        Device mia = device("mia", "d1").resume();
        Device max = device("max", "d1").resume();
        Frame created = olga.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("g1")
                .setCreate(GroupRequest.Create.newBuilder().setName("team").addMembers("adam").addMembers("mia")
                        .addMembers("max"))));
        String groupId = created.getGroupResponse().getGroup().getId();
        String conversation = created.getGroupResponse().getGroup().getConversation();
        olga.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("g2")
                .setSetRole(GroupRequest.SetRole.newBuilder().setGroupId(groupId).setUser("adam")
                        .setRole(GroupRole.GROUP_ROLE_ADMIN))));
        long first = send(mia, conversation, "mia's first").getSendAck().getSeq();
        long second = send(mia, conversation, "mia's second").getSendAck().getSeq();
        long olgas = send(olga, conversation, "olga's").getSendAck().getSeq();
        Thread.sleep(WINDOW.toMillis() + 300);

        assertRefused(mia.command(recall(conversation, first), null), ErrorCode.ERROR_CODE_FORBIDDEN, "window");
        assertRefused(max.command(recall(conversation, first), null), ErrorCode.ERROR_CODE_FORBIDDEN, "owner or admins");
        assertRefused(device("zed", "d1").command(recall(conversation, first), null), ErrorCode.ERROR_CODE_NOT_FOUND,
                "no such group");
        RecallResult byAdmin = adam.command(recall(conversation, first), null).getCommandResult().getPayload()
                .unpack(RecallResult.class);
        assertEquals("adam", byAdmin.getRecalledBy());
        RecallResult byOwner = olga.command(recall(conversation, second), null).getCommandResult().getPayload()
                .unpack(RecallResult.class);
        assertEquals("olga", byOwner.getRecalledBy());
        assertEquals("adam", adam.command(recall(conversation, olgas), null).getCommandResult().getPayload()
                .unpack(RecallResult.class).getRecalledBy(), "an admin may recall the owner's message too");
        // mia asks again for her first message: it is recalled already (by adam), success with adam's recall
        assertEquals(byAdmin, mia.command(recall(conversation, first), null).getCommandResult().getPayload()
                .unpack(RecallResult.class));
        long head = store.head(conversation);
        for (Device d : List.of(olga, adam, mia, max)) {
            d.awaitSeq(conversation, head);
            assertEquals("[recalled by adam]", d.shown(conversation).get(first), d.toString());
            assertEquals("[recalled by olga]", d.shown(conversation).get(second), d.toString());
        }
        // a dissolved group's history no longer changes
        long last = send(mia, conversation, "bye").getSendAck().getSeq();
        olga.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("g3")
                .setDissolve(GroupRequest.Dissolve.newBuilder().setGroupId(groupId))));
        assertRefused(olga.command(recall(conversation, last), null), ErrorCode.ERROR_CODE_FORBIDDEN, "dissolved");
    }

    // ---------------------------------------------------------------- helpers

    static Any recall(String conversation, long seq) {
        return Any.pack(Recall.newBuilder().setConversation(conversation).setSeq(seq).build());
    }

    static Frame send(Device d, String conversation, String text) throws InterruptedException {
        Frame f = d.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("c-" + text.hashCode())
                .setConversation(conversation).setType("text").setBody(Any.pack(Text.newBuilder().setText(text).build()))));
        assertTrue(f.hasSendAck(), f.toString());
        return f;
    }

    static void assertRefused(Frame answer, ErrorCode code, String reasonPart) {
        assertTrue(answer.hasError(), "expected " + code + ", got " + answer);
        assertEquals(code, answer.getError().getCode(), answer.getError().getMessage());
        assertTrue(answer.getError().getMessage().contains(reasonPart), answer.getError().getMessage());
    }

    void awaitWatermark(String user, String device, String conversation, long seq) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (store.watermarks(user, device).getOrDefault(conversation, 0L) < seq) {
            if (System.nanoTime() > deadline) {
                fail("the watermark of " + user + "/" + device + " did not reach " + seq);
            }
            Thread.sleep(10);
        }
    }

    static boolean contains(byte[] haystack, String needle) {
        return new String(haystack, StandardCharsets.ISO_8859_1).contains(needle);
    }

    Device device(String user, String device) throws InterruptedException {
        Device d = new Device(core, user, device);
        devices.add(d);
        return d;
    }

    /**
     * One device on a connection the engine writes to, showing what a client shows: per conversation, the text of
     * each seq, a recalled message as "[recalled by X]" (from the tombstone, or from a recall event naming a message
     * it kept), an event as "[event: N recalled]". Messages it sent itself enter its view through their acks.
     */
    static final class Device implements Connection {
        private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        private final InboundSession session;
        private final String name;
        private long nextRequestId = 1;
        final Map<String, TreeMap<Long, String>> shown = new java.util.HashMap<>();
        private final Map<Long, Frame> sent = new java.util.HashMap<>();

        /** Connects and says hello (a registered session: live deliveries reach it). */
        Device(InProcessCore core, String user, String device) throws InterruptedException {
            this.name = user + "/" + device;
            this.session = core.receiver().open(this);
            Frame ok = request(Frame.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setToken(user)
                    .setDeviceId(device)));
            assertTrue(ok.hasHelloOk(), ok.toString());
        }

        Device resume() throws InterruptedException {
            long rid = post(Frame.newBuilder().setSync(SyncRequest.newBuilder().setResume(SyncRequest.Resume.newBuilder())));
            await(f -> f.getRequestId() == rid && f.hasSyncResponse() && f.getSyncResponse().getDone());
            return this;
        }

        long post(Frame.Builder frame) {
            long rid = nextRequestId++;
            Frame f = frame.setRequestId(rid).build();
            if (f.hasSend()) {
                sent.put(rid, f);
            }
            session.onFrame(f);
            return rid;
        }

        Frame request(Frame.Builder frame) throws InterruptedException {
            long rid = post(frame);
            return await(f -> f.getRequestId() == rid && !f.hasDeliver());
        }

        Frame command(Any payload, String clientRequestId) throws InterruptedException {
            Command.Builder c = Command.newBuilder().setType(RecallRules.COMMAND_TYPE).setPayload(payload);
            if (clientRequestId != null) {
                c.setClientRequestId(clientRequestId);
            }
            return request(Frame.newBuilder().setCommand(c));
        }

        Device awaitSeq(String conversation, long seq) throws InterruptedException {
            if (!shown(conversation).containsKey(seq)) {
                await(f -> shown(conversation).containsKey(seq));
            }
            return this;
        }

        TreeMap<Long, String> shown(String conversation) {
            return shown.computeIfAbsent(conversation, c -> new TreeMap<>());
        }

        /** Applies every frame until one matches (checked after applying it), waiting up to 10 s. */
        private Frame await(Predicate<Frame> until) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                Frame f = frames.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (f == null) {
                    fail(name + ": timed out; shows " + shown);
                }
                apply(f);
                if (until.test(f)) {
                    return f;
                }
            }
        }

        private void apply(Frame f) {
            if (f.hasDeliver()) {
                f.getDeliver().getMessagesList().forEach(this::show);
            } else if (f.hasSendAck() && sent.containsKey(f.getRequestId())) {
                Send s = sent.remove(f.getRequestId()).getSend();
                show(Message.newBuilder().setConversation(f.getSendAck().getConversation())
                        .setSeq(f.getSendAck().getSeq()).setType(s.getType()).setBody(s.getBody()).build());
            }
        }

        private void show(Message m) {
            TreeMap<Long, String> view = shown(m.getConversation());
            try {
                switch (m.getType()) {
                    case RecallRules.EVENT_TYPE -> {
                        long target = RecallEvent.parseFrom(m.getBody().getValue()).getSeq();
                        view.put(m.getSeq(), "[event: " + target + " recalled]");
                        if (view.containsKey(target)) {
                            view.put(target, "[recalled by " + m.getSender() + "]");
                        }
                    }
                    case RecallRules.TOMBSTONE_TYPE -> view.put(m.getSeq(), "[recalled by "
                            + Recalled.parseFrom(m.getBody().getValue()).getRecalledBy() + "]");
                    case "text" -> view.putIfAbsent(m.getSeq(), Text.parseFrom(m.getBody().getValue()).getText());
                    default -> view.put(m.getSeq(), "[" + m.getType() + "]");
                }
            } catch (InvalidProtocolBufferException e) {
                throw new AssertionError(e);
            }
        }

        private boolean closed;

        void close() {
            if (!closed) {
                closed = true;
                session.onClosed();
            }
        }

        @Override
        public void send(Frame frame) {
            frames.add(frame);
        }

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            frames.add(frame);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
        }

        @Override
        public String transport() {
            return "test";
        }

        @Override
        public String remoteAddress() {
            return name;
        }

        @Override
        public String toString() {
            return name;
        }
    }
}
