package io.parley.core.internal;

import com.google.protobuf.Any;
import com.google.protobuf.StringValue;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.Command;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.command.DeviceAddress;
import io.parley.core.spi.command.SessionListener;
import io.parley.core.spi.delivery.Notification;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command SPI 1.4 on the real engine: notifying appends, device-addressed relays, the {@code ConversationEvents}
 * facade (authorized as the member it names) and the {@link SessionListener} whiteboard.
 */
class ConversationEventsTest {
    final TestNode node = new TestNode(new TinyStore(), Map.<String, Object>of("node.id", "n"));

    @AfterEach
    void stop() {
        node.close();
    }

    static Any body(String s) {
        return Any.pack(StringValue.of(s));
    }

    @Test
    void anAppendWithAPreviewIsNotifiedAndDeliveredToEveryDeviceOneWithoutIsNot() throws Exception {
        TestNode.Device alice = node.connect("alice", "laptop");
        Events events = node.engine.events();

        Message ringing = events.append("d:alice:bob", "alice", "laptop", "call", body("ring"), "call:c1:0",
                "📞 Incoming call from alice").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(1, ringing.getSeq());
        assertEquals("command:call:c1:0", ringing.getClientMsgId());
        assertEquals("alice", ringing.getSender());
        assertEquals("laptop", ringing.getSenderDevice());
        assertEquals(1, alice.await(Frame::hasDeliver).getDeliver().getMessages(0).getSeq(),
                "the acting device gets it too");
        Notification n = node.offline.poll(5, TimeUnit.SECONDS);
        assertNotNull(n, "notified like a stored message");
        assertEquals("📞 Incoming call from alice", n.preview());
        assertEquals(List.of("bob"), n.recipients());

        Message again = events.append("d:alice:bob", "alice", "laptop", "call", body("ring"), "call:c1:0",
                "📞 Incoming call from alice").toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(ringing.getId(), again.getId(), "stored once per key");

        events.append("d:alice:bob", "alice", "", "call", body("end"), "call:c1:1", null)
                .toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals(2, alice.await(Frame::hasDeliver).getDeliver().getMessages(0).getSeq());
        assertNull(node.offline.poll(300, TimeUnit.MILLISECONDS), "no preview: a system event, not notified");
    }

    @Test
    void theFacadeIsAuthorizedAsTheMemberItNames() {
        Events events = node.engine.events();
        CompletionException stranger = assertThrows(CompletionException.class, () -> events.append("d:alice:bob",
                "mallory", "", "call", body("x"), "k", null).toCompletableFuture().join());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, ((ParleyException) stranger.getCause()).code());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, assertThrows(ParleyException.class,
                () -> events.relay("d:alice:bob", "mallory", "x", "call.signal", body("x"),
                        List.of(new DeviceAddress("bob", "phone")))).code());
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, assertThrows(ParleyException.class,
                () -> events.relay("d:alice:bob", "alice", "x", "call.signal", body("x"),
                        List.of(new DeviceAddress("carol", "phone")))).code(), "only to members' devices");
        assertEquals(List.of("alice", "bob"), events.members("d:alice:bob", "bob"));
        CompletionException noKey = assertThrows(CompletionException.class, () -> events.append("d:alice:bob",
                "alice", "", "call", body("x"), "", null).toCompletableFuture().join());
        assertTrue(noKey.getCause() instanceof IllegalArgumentException, noKey.toString());
    }

    @Test
    void aCommandRelaysToExactlyTheNamedDevicesAndAppendsSeveralEventsWithDistinctKeys() throws Exception {
        node.engine.commandHandlers().add("twice", 7, 0, -1, (CommandHandler) (ctx, payload) -> {
            ctx.relayTo("d:alice:bob", "call.signal", body("offer"), List.of(new DeviceAddress("bob", "tablet")));
            return ctx.appendEvent("d:alice:bob", "call", body("first"), "preview")
                    .thenCompose(first -> ctx.appendEvent("d:alice:bob", "call", body("second")))
                    .thenApply(second -> Any.getDefaultInstance());
        });
        TestNode.Device alice = node.connect("alice", "laptop");
        TestNode.Device aliceOther = node.connect("alice", "phone");
        TestNode.Device bobPhone = node.connect("bob", "phone");
        TestNode.Device bobTablet = node.connect("bob", "tablet");
        for (int round = 0; round < 2; round++) { // the same client_request_id twice: nothing new the second time
            long rid = alice.request(Frame.newBuilder().setCommand(Command.newBuilder().setType("twice")
                    .setClientRequestId("req-1")));
            assertTrue(alice.await(f -> f.getRequestId() == rid).hasCommandResult());
        }
        Message relayed = bobTablet.await(Frame::hasDeliver).getDeliver().getMessages(0);
        assertEquals("call.signal", relayed.getType());
        assertEquals(0, relayed.getSeq());
        assertEquals("laptop", relayed.getSenderDevice());
        List<Message> stored = node.engine.store().range("d:alice:bob", 1, 10, 10);
        assertEquals(2, stored.size(), "two events, each once");
        assertEquals("command:twice:req-1", stored.get(0).getClientMsgId());
        assertEquals("command:twice:req-1#1", stored.get(1).getClientMsgId());
        assertNotEquals(stored.get(0).getId(), stored.get(1).getId());
        // the signal reached bob's tablet only (twice: relays are not de-duplicated)
        assertEquals("call.signal", bobTablet.await(f -> f.hasDeliver() && f.getDeliver().getMessages(0).getSeq() == 0)
                .getDeliver().getMessages(0).getType());
        assertNull(bobPhone.poll(f -> f.hasDeliver() && f.getDeliver().getMessages(0).getSeq() == 0, 300));
        assertNull(aliceOther.poll(f -> f.hasDeliver() && f.getDeliver().getMessages(0).getSeq() == 0, 100));
        Notification n = node.offline.poll(100, TimeUnit.MILLISECONDS);
        assertNull(n, "everyone is online: no offline notification");
        assertEquals("preview", node.all.poll(5, TimeUnit.SECONDS).preview(), "the first event is notified");
        assertNull(node.all.poll(300, TimeUnit.MILLISECONDS), "the second is not");
    }

    @Test
    void sessionListenersHearADevicesFirstOpenAndLastClose() throws Exception {
        List<String> heard = new CopyOnWriteArrayList<>();
        node.engine.sessionListeners().add(new SessionListener() {
            @Override
            public void opened(String user, String device) {
                heard.add("+" + user + "/" + device);
            }

            @Override
            public void closed(String user, String device) {
                heard.add("-" + user + "/" + device);
            }
        });
        TestNode.Device tab1 = node.connect("alice", "browser");
        TestNode.Device tab2 = node.connect("alice", "browser");
        TestNode.Device phone = node.connect("alice", "phone");
        assertEquals(List.of("+alice/browser", "+alice/phone"), heard);
        tab1.disconnect();
        assertEquals(List.of("+alice/browser", "+alice/phone"), heard, "the device still has a session");
        tab2.disconnect();
        phone.disconnect();
        assertEquals(List.of("+alice/browser", "+alice/phone", "-alice/browser", "-alice/phone"), heard,
                "told synchronously, once the last session of the device closed");
    }
}
