package io.parley.client;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.State;
import io.parley.core.proto.Message;

import java.util.Optional;

/**
 * Reads the messages of calls (docs/protocol.md §6i): the stored {@value #EVENT_TYPE} events of a call's life
 * (RINGING, ACCEPTED, REJECTED, BUSY, CANCELLED, MISSED, ENDED), appended by the server only, and the relayed
 * {@value #SIGNAL_TYPE} messages (seq 0) carrying WebRTC offers, answers and candidates to exactly one device.
 * Stateless and thread-safe.
 *
 * <p>The bodies ({@code parley.call.v1.*}) are generated at build time from the call bundle's own {@code call.proto}
 * into a private copy here.
 *
 * @since 1.7
 */
public final class CallEvents {
    /** The message type of a call event. */
    public static final String EVENT_TYPE = "call";
    /** The message type of a relayed signal. */
    public static final String SIGNAL_TYPE = "call.signal";

    private CallEvents() {
    }

    /**
     * @return true if {@code m} is a call event: its type and the idempotency key the server gives what it appends
     *     ({@code command:…}, a prefix no client can send with), so no other message can pass for one
     */
    public static boolean isEvent(Message m) {
        return EVENT_TYPE.equals(m.getType()) && m.getClientMsgId().startsWith(Recalls.COMMAND_KEY_PREFIX);
    }

    /** @return true if {@code m} is a relayed call signal (type {@value #SIGNAL_TYPE}, seq 0) */
    public static boolean isSignal(Message m) {
        return SIGNAL_TYPE.equals(m.getType()) && m.getSeq() == 0;
    }

    /** @return the event a call message carries; empty for any other message, or if its body does not parse */
    public static Optional<CallEvent> of(Message m) {
        if (!isEvent(m)) {
            return Optional.empty();
        }
        try {
            return Optional.of(CallEvent.parseFrom(m.getBody().getValue()));
        } catch (InvalidProtocolBufferException e) {
            return Optional.empty();
        }
    }

    /** @return the signal a relayed call signal carries; empty for any other message, or if it does not parse */
    public static Optional<Signal> signalOf(Message m) {
        if (!isSignal(m)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Signal.parseFrom(m.getBody().getValue()));
        } catch (InvalidProtocolBufferException e) {
            return Optional.empty();
        }
    }

    /** @return true for the states after which nothing more happens in a call */
    public static boolean isTerminal(State state) {
        return state == State.REJECTED || state == State.BUSY || state == State.CANCELLED || state == State.MISSED
                || state == State.ENDED;
    }

    /**
     * @return true if a device of {@code user} should stop ringing for the call of {@code event}: a terminal state, or
     *     the user's own ACCEPTED or REJECTED (another of the user's devices answered or declined). A 1:1 REJECTED is
     *     terminal; in a group, someone else's REJECTED is not.
     */
    public static boolean stopsRinging(CallEvent event, String user) {
        State s = event.getState();
        if ((s == State.ACCEPTED || s == State.REJECTED) && event.getBy().equals(user)) {
            return true;
        }
        if (s == State.REJECTED) {
            return event.getInvitedCount() <= 1; // a 1:1 call ends with it; in a group the others still ring
        }
        return isTerminal(s);
    }
}
