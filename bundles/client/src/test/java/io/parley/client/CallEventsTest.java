package io.parley.client;

import com.google.protobuf.Any;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Kind;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.State;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading call messages, when a device stops ringing, and the dispatch of call messages to {@link CallListener}s. */
class CallEventsTest {

    static Message event(State state, String by, List<String> invited) {
        return Message.newBuilder().setType("call").setClientMsgId("command:call:c1:0").setSeq(3)
                .setConversation("d:alice:bob").setBody(Any.pack(CallEvent.newBuilder().setCallId("c1")
                        .setState(state).setBy(by).setInitiator("alice").addAllInvited(invited).build())).build();
    }

    static Message signal(Kind kind) {
        return Message.newBuilder().setType("call.signal").setSeq(0).setConversation("d:alice:bob")
                .setBody(Any.pack(Signal.newBuilder().setCallId("c1").setFromUser("alice").setFromDevice("laptop")
                        .setKind(kind).setData("v=0").build())).build();
    }

    @Test
    void onlyServerAppendedCallMessagesReadAsEvents() {
        Message m = event(State.RINGING, "alice", List.of("bob"));
        assertEquals(Optional.of(State.RINGING), CallEvents.of(m).map(CallEvent::getState));
        Message forged = m.toBuilder().setClientMsgId("my-own-id").build();
        assertTrue(CallEvents.of(forged).isEmpty(), "a client cannot send one (no command: key)");
        assertTrue(CallEvents.of(signal(Kind.OFFER)).isEmpty());
        assertEquals(Optional.of(Kind.OFFER), CallEvents.signalOf(signal(Kind.OFFER)).map(Signal::getKind));
        assertTrue(CallEvents.signalOf(signal(Kind.OFFER).toBuilder().setSeq(4).build()).isEmpty(),
                "a signal is relayed (seq 0), never stored");
        assertTrue(CallEvents.of(m.toBuilder().setBody(Any.newBuilder().setValue(
                com.google.protobuf.ByteString.copyFrom(new byte[]{(byte) 0xff}))).build()).isEmpty());
    }

    @Test
    void aDeviceStopsRingingWhenItsUserAnsweredOrDeclinedOrTheCallIsOver() {
        CallEvent accepted = CallEvents.of(event(State.ACCEPTED, "bob", List.of("bob"))).orElseThrow();
        assertTrue(CallEvents.stopsRinging(accepted, "bob"), "bob answered on another device");
        CallEvent carolAccepted = CallEvents.of(event(State.ACCEPTED, "carol", List.of("bob", "carol"))).orElseThrow();
        assertFalse(CallEvents.stopsRinging(carolAccepted, "bob"), "in a group, carol answering does not stop bob");
        CallEvent carolDeclined = CallEvents.of(event(State.REJECTED, "carol", List.of("bob", "carol"))).orElseThrow();
        assertFalse(CallEvents.stopsRinging(carolDeclined, "bob"));
        assertTrue(CallEvents.stopsRinging(CallEvents.of(event(State.REJECTED, "bob", List.of("bob"))).orElseThrow(),
                "bob"));
        for (State s : List.of(State.MISSED, State.CANCELLED, State.ENDED, State.BUSY)) {
            assertTrue(CallEvents.stopsRinging(CallEvents.of(event(s, "", List.of("bob"))).orElseThrow(), "bob"), s.name());
            assertTrue(CallEvents.isTerminal(s));
        }
        assertFalse(CallEvents.isTerminal(State.RINGING));
        assertFalse(CallEvents.isTerminal(State.ACCEPTED));
    }

    @Test
    void listenersGetEventsAndSignalsAndNothingElse() {
        Calls calls = new Calls(null);
        List<String> heard = new ArrayList<>();
        calls.addListener(new CallListener() {
            @Override
            public void onCallEvent(Message message, CallEvent event) {
                heard.add(event.getState().name());
            }

            @Override
            public void onSignal(Message message, Signal signal) {
                heard.add(signal.getKind().name());
            }
        });
        calls.addListener(new CallListener() {
            @Override
            public void onCallEvent(Message message, CallEvent event) {
                throw new IllegalStateException("a failing listener does not stop the others");
            }
        });
        calls.onMessage(event(State.RINGING, "alice", List.of("bob")));
        calls.onMessage(signal(Kind.OFFER));
        calls.onMessage(Message.newBuilder().setType("text").setSeq(4).build());
        assertEquals(List.of("RINGING", "OFFER"), heard);
    }
}
