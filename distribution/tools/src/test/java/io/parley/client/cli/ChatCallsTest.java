package io.parley.client.cli;

import com.google.protobuf.Any;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Kind;
import io.parley.calls.proto.Media;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.State;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How the chat prints call events and signals, and which lines are call commands. */
class ChatCallsTest {

    static CallEvent.Builder event(State state) {
        return CallEvent.newBuilder().setCallId("c1").setState(state).setInitiator("alice").addInvited("bob")
                .setMedia(Media.VIDEO);
    }

    @Test
    void callEventsPrintAsSentences() {
        assertEquals("📞 alice is calling (video) — /accept or /reject", ChatCalls.describe(event(State.RINGING).build(), null));
        assertEquals("📞 alice is calling (video) — /accept or /reject", ChatCalls.describe(event(State.RINGING).build(), "bob"));
        assertEquals("📞 alice is calling bob (video)", ChatCalls.describe(event(State.RINGING).build(), "alice"));
        assertEquals("bob answered", ChatCalls.describe(event(State.ACCEPTED).setBy("bob").build(), null));
        assertEquals("bob declined", ChatCalls.describe(event(State.REJECTED).setBy("bob").build(), null));
        assertEquals("bob is busy", ChatCalls.describe(event(State.BUSY).setBy("bob").build(), null));
        assertEquals("missed call from alice", ChatCalls.describe(event(State.MISSED).build(), null));
        assertEquals("call from alice cancelled", ChatCalls.describe(event(State.CANCELLED).build(), null));
        assertEquals("call ended 1:23", ChatCalls.describe(event(State.ENDED).setDurationMs(83_400).build(), null));
        assertEquals("call ended 1:00:05", ChatCalls.describe(event(State.ENDED).setDurationMs(3_605_000).build(),
                null));
    }

    @Test
    void signalsPrintWithTheirKindAndSender() {
        Message m = Message.newBuilder().setType("call.signal").setSeq(0).setBody(Any.pack(Signal.newBuilder()
                .setCallId("c1").setFromUser("bob").setFromDevice("phone").setKind(Kind.OFFER).setData("v=0")
                .build())).build();
        assertEquals(Optional.of("📶 OFFER from bob/phone (3 bytes)"), ChatCalls.describe(m, null));
        assertTrue(ChatCalls.describe(Message.newBuilder().setType("text").build(), null).isEmpty());
    }

    @Test
    void callCommandLines() {
        for (String line : List.of("/call", "/call @bob video", "/accept", "/reject", "/hangup")) {
            assertTrue(ChatCalls.handles(line), line);
        }
        for (String line : List.of("/calls", "/callbob", "/recall 3", "hello /call")) {
            assertFalse(ChatCalls.handles(line), line);
        }
    }
}
