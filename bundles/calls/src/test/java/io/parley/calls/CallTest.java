package io.parley.calls;

import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Media;
import io.parley.calls.proto.State;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.command.DeviceAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every transition of {@link Call}, and every illegal one refused: the state machine alone, with explicit times. */
class CallTest {
    static final Duration RING = Duration.ofSeconds(30);
    static final long T0 = 1_000_000;

    static Call oneToOne() {
        return Call.ring("c1", "d:alice:bob", false, Media.VIDEO, "alice", "laptop", List.of("bob"), T0, RING, 4);
    }

    static Call group() {
        return Call.ring("c2", "g:team", true, Media.AUDIO, "alice", "laptop", List.of("bob", "carol"), T0, RING, 4);
    }

    static void refused(ErrorCode code, String text, Executable action) {
        ParleyException e = assertThrows(ParleyException.class, action);
        assertEquals(code, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains(text), e.getMessage());
    }

    static CallEvent only(Call.Outcome o) {
        assertEquals(1, o.events().size(), o.toString());
        return o.events().get(0);
    }

    @Test
    void ringingHasTheInitiatorsDeviceInTheRoomAndNamesEverything() {
        Call c = oneToOne();
        assertEquals(State.RINGING, c.state());
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), c.devices());
        CallEvent e = c.ringingEvent("laptop");
        assertEquals(State.RINGING, e.getState());
        assertEquals("c1", e.getCallId());
        assertEquals(Media.VIDEO, e.getMedia());
        assertEquals("alice", e.getInitiator());
        assertEquals(List.of("bob"), e.getInvitedList());
        assertEquals("alice", e.getBy());
        assertEquals("laptop", e.getByDevice());
        assertEquals(T0, e.getStartedAt());
        assertEquals(0, e.getDurationMs());
        assertFalse(c.isTerminal());
    }

    @Test
    void aCallNeedsMediaSomeoneToRingAndRoom() {
        assertThrows(IllegalArgumentException.class, () -> Call.ring("c", "d:a:b", false, Media.MEDIA_UNSPECIFIED,
                "a", "x", List.of("b"), T0, RING, 4));
        assertThrows(IllegalArgumentException.class, () -> Call.ring("c", "g:g", true, Media.AUDIO, "a", "x",
                List.of(), T0, RING, 4));
        assertThrows(IllegalArgumentException.class, () -> Call.ring("c", "g:g", true, Media.AUDIO, "a", "x",
                List.of("a", "b"), T0, RING, 4));
        assertThrows(IllegalArgumentException.class, () -> Call.ring("c", "g:g", true, Media.AUDIO, "a", "x",
                List.of("b", "c", "d", "e"), T0, RING, 4));
    }

    @Test
    void busyIsOverBeforeItBegins() {
        Call c = Call.busy("c3", "d:alice:bob", Media.AUDIO, "alice", "bob", T0);
        assertEquals(State.BUSY, c.state());
        assertTrue(c.isTerminal());
        CallEvent e = c.busyEvent(T0);
        assertEquals(State.BUSY, e.getState());
        assertEquals("bob", e.getBy());
        assertEquals("", e.getByDevice());
        assertTrue(e.getReason().contains("another call"), e.getReason());
        refused(ErrorCode.ERROR_CODE_CONFLICT, "already ended", () -> c.join("bob", "phone", T0));
        assertTrue(c.hangup("alice", "laptop", T0).events().isEmpty());
    }

    @Test
    void ringingToAcceptedToEndedWithTheDuration() {
        Call c = oneToOne();
        Call.Joined j = c.join("bob", "phone", T0 + 5_000);
        CallEvent accepted = only(j.outcome());
        assertEquals(State.ACCEPTED, accepted.getState());
        assertEquals("bob", accepted.getBy());
        assertEquals("phone", accepted.getByDevice());
        assertEquals(State.ACCEPTED, c.state());
        assertEquals(T0 + 5_000, c.acceptedAt());
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), j.others(), "the joiner offers to these");
        assertFalse(j.rejoin());
        assertEquals(Optional.empty(), j.replaced());

        Call.Outcome end = c.hangup("alice", "laptop", T0 + 88_000);
        CallEvent ended = only(end);
        assertEquals(State.ENDED, ended.getState());
        assertEquals(83_000, ended.getDurationMs(), "from the first ACCEPTED to the end");
        assertEquals("alice", ended.getBy());
        assertEquals("laptop", ended.getByDevice());
        assertEquals(List.of(new DeviceAddress("alice", "laptop"), new DeviceAddress("bob", "phone")), end.left());
        assertTrue(c.isTerminal());
        assertTrue(c.devices().isEmpty());
    }

    @Test
    void theCalleeRejectsAOneToOneCall() {
        Call c = oneToOne();
        Call.Outcome o = c.reject("bob", "phone", T0 + 1);
        CallEvent e = only(o);
        assertEquals(State.REJECTED, e.getState());
        assertEquals("bob", e.getBy());
        assertEquals(State.REJECTED, c.state());
        assertTrue(c.isTerminal());
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), o.left());
        assertTrue(c.reject("bob", "tablet", T0 + 2).events().isEmpty(), "another device of bob: nothing new");
        refused(ErrorCode.ERROR_CODE_CONFLICT, "already ended", () -> c.join("bob", "phone", T0 + 3));
        assertEquals(State.REJECTED, c.hangup("alice", "laptop", T0 + 4).state(), "idempotent hangup");
    }

    @Test
    void theInitiatorCancelsBeforeAnyoneAnswers() {
        Call c = oneToOne();
        CallEvent e = only(c.hangup("alice", "laptop", T0 + 1));
        assertEquals(State.CANCELLED, e.getState());
        assertEquals("alice", e.getBy());
        assertEquals(State.CANCELLED, c.state());
        refused(ErrorCode.ERROR_CODE_CONFLICT, "already ended", () -> c.join("bob", "phone", T0 + 2));
        refused(ErrorCode.ERROR_CODE_CONFLICT, "already ended", () -> c.reject("bob", "phone", T0 + 2));
        assertTrue(c.hangup("alice", "laptop", T0 + 3).events().isEmpty());
    }

    @Test
    void nobodyAnswersInTimeAndTheCallIsMissed() {
        Call c = oneToOne();
        Call.Outcome o = c.expire(T0 + 30_000);
        CallEvent e = only(o);
        assertEquals(State.MISSED, e.getState());
        assertEquals("", e.getBy());
        assertEquals("nobody answered within 30 s", e.getReason());
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), o.left());
        refused(ErrorCode.ERROR_CODE_CONFLICT, "the call expired: nobody joined within 30 s",
                () -> c.join("bob", "phone", T0 + 31_000));
        assertTrue(c.expire(T0 + 60_000).events().isEmpty());
    }

    @Test
    void anAnsweredCallDoesNotExpire() {
        Call c = oneToOne();
        c.join("bob", "phone", T0 + 1);
        assertTrue(c.expire(T0 + 30_000).events().isEmpty());
        assertEquals(State.ACCEPTED, c.state());
    }

    @Test
    void theLimitEndsALiveCallAndNothingElse() {
        Call c = oneToOne();
        c.join("bob", "phone", T0 + 1_000);
        CallEvent e = only(c.limit(T0 + 11_000, Duration.ofHours(12)));
        assertEquals(State.ENDED, e.getState());
        assertEquals(10_000, e.getDurationMs());
        assertTrue(e.getReason().contains("12-hour"), e.getReason());
        assertTrue(c.limit(T0 + 12_000, Duration.ofHours(12)).events().isEmpty());
    }

    @Test
    void joinRefusals() {
        Call c = oneToOne();
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, "you were not invited to this call", () -> c.join("carol", "x", T0));
        Call g = group();
        g.reject("bob", "phone", T0);
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, "you declined this call", () -> g.join("bob", "phone", T0));
    }

    @Test
    void aRejoinFromTheSameDeviceAppendsNothing() {
        Call c = oneToOne();
        c.join("bob", "phone", T0);
        Call.Joined again = c.join("bob", "phone", T0 + 1);
        assertTrue(again.rejoin());
        assertTrue(again.outcome().events().isEmpty());
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), again.others());
        Call.Joined initiator = c.join("alice", "laptop", T0 + 2);
        assertTrue(initiator.rejoin());
    }

    @Test
    void aSecondDeviceOfTheSameUserReplacesTheFirstWithoutAnEvent() {
        Call c = oneToOne();
        c.join("bob", "phone", T0);
        Call.Joined tablet = c.join("bob", "tablet", T0 + 1);
        assertEquals(Optional.of(new DeviceAddress("bob", "phone")), tablet.replaced());
        assertTrue(tablet.outcome().events().isEmpty(), "ACCEPTED once per user");
        assertEquals(Optional.of("tablet"), c.deviceOf("bob"));
        assertEquals(List.of(new DeviceAddress("alice", "laptop"), new DeviceAddress("bob", "tablet")), c.devices());
        assertTrue(c.lost("bob", "phone", T0 + 2).events().isEmpty(), "the replaced device is no longer in it");
        // the initiator's other device replaces the initiator's
        Call.Joined aliceDesk = c.join("alice", "desk", T0 + 3);
        assertEquals(Optional.of(new DeviceAddress("alice", "laptop")), aliceDesk.replaced());
    }

    @Test
    void rejectRefusalsAndIdempotence() {
        Call c = oneToOne();
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, "not invited", () -> c.reject("alice", "laptop", T0));
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, "not invited", () -> c.reject("carol", "x", T0));
        c.join("bob", "phone", T0);
        refused(ErrorCode.ERROR_CODE_CONFLICT, "hang up instead", () -> c.reject("bob", "phone", T0));
    }

    @Test
    void hangupRefusalsAndIdempotence() {
        Call c = oneToOne();
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, "you are not in this call", () -> c.hangup("carol", "x", T0));
        c.join("bob", "phone", T0);
        c.hangup("bob", "phone", T0 + 5);
        assertEquals(State.ENDED, c.state());
        Call.Outcome again = c.hangup("bob", "phone", T0 + 6);
        assertTrue(again.events().isEmpty());
        assertEquals(State.ENDED, again.state());
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, "you are not in this call", () -> c.hangup("carol", "x", T0 + 7));
    }

    @Test
    void anInvitedUserWhoHangsUpBeforeJoiningRejects() {
        Call c = oneToOne();
        CallEvent e = only(c.hangup("bob", "phone", T0));
        assertEquals(State.REJECTED, e.getState());
        assertEquals(State.REJECTED, c.state());
    }

    @Test
    void aGroupCallGoesOnUntilFewerThanTwoRemain() {
        Call g = group();
        CallEvent bob = only(g.join("bob", "phone", T0 + 1_000).outcome());
        assertEquals(State.ACCEPTED, bob.getState());
        Call.Joined carol = g.join("carol", "tablet", T0 + 2_000);
        assertEquals(State.ACCEPTED, only(carol.outcome()).getState());
        assertEquals(List.of(new DeviceAddress("alice", "laptop"), new DeviceAddress("bob", "phone")), carol.others(),
                "carol offers to both: the mesh");
        assertEquals(T0 + 1_000, g.acceptedAt(), "the first ACCEPTED starts the duration");

        Call.Outcome aliceLeaves = g.hangup("alice", "laptop", T0 + 3_000);
        assertTrue(aliceLeaves.events().isEmpty(), "three were in: the call goes on");
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), aliceLeaves.left());
        assertEquals(State.ACCEPTED, aliceLeaves.state());
        assertTrue(g.join("alice", "laptop", T0 + 4_000).outcome().events().isEmpty(), "the initiator comes back");

        g.hangup("alice", "laptop", T0 + 5_000);
        Call.Outcome bobLost = g.lost("bob", "phone", T0 + 6_000);
        CallEvent ended = only(bobLost);
        assertEquals(State.ENDED, ended.getState());
        assertEquals("", ended.getBy(), "a lost connection names nobody");
        assertEquals(5_000, ended.getDurationMs());
        assertEquals(List.of(new DeviceAddress("bob", "phone"), new DeviceAddress("carol", "tablet")), bobLost.left());
    }

    @Test
    void aGroupCallEveryoneDeclinesEnds() {
        Call g = group();
        Call.Outcome first = g.reject("bob", "phone", T0 + 1);
        assertEquals(State.REJECTED, only(first).getState());
        assertEquals(State.RINGING, g.state(), "carol is still rung");
        Call.Outcome second = g.reject("carol", "tablet", T0 + 2);
        assertEquals(List.of(State.REJECTED, State.ENDED), second.events().stream().map(CallEvent::getState).toList());
        assertEquals(0, second.events().get(1).getDurationMs());
        assertEquals(State.ENDED, g.state());
        assertEquals(List.of(new DeviceAddress("alice", "laptop")), second.left());
    }

    @Test
    void aRejectionInAnAnsweredGroupCallChangesNothingElse() {
        Call g = group();
        g.join("bob", "phone", T0);
        CallEvent e = only(g.reject("carol", "tablet", T0 + 1));
        assertEquals(State.REJECTED, e.getState());
        assertEquals(State.ACCEPTED, g.state());
    }

    @Test
    void aGroupInitiatorCancelsWhileEveryoneRings() {
        Call g = group();
        CallEvent e = only(g.hangup("alice", "laptop", T0));
        assertEquals(State.CANCELLED, e.getState());
    }

    /** A call brought to each terminal state. */
    static Call over(State state) {
        Call c = oneToOne();
        switch (state) {
            case BUSY -> c = Call.busy("c9", "d:alice:bob", Media.AUDIO, "alice", "bob", T0);
            case REJECTED -> c.reject("bob", "phone", T0);
            case CANCELLED -> c.hangup("alice", "laptop", T0);
            case MISSED -> c.expire(T0 + 30_000);
            case ENDED -> {
                c.join("bob", "phone", T0);
                c.hangup("bob", "phone", T0 + 1);
            }
            default -> throw new IllegalArgumentException(state.name());
        }
        assertEquals(state, c.state());
        return c;
    }

    @Test
    void aCallThatIsOverAcceptsNothingButIdempotentHangups() {
        for (State state : List.of(State.BUSY, State.REJECTED, State.CANCELLED, State.MISSED, State.ENDED)) {
            Call c = over(state);
            assertTrue(c.isTerminal(), state.name());
            assertTrue(c.devices().isEmpty(), state + ": nobody is left in the room");
            refused(ErrorCode.ERROR_CODE_CONFLICT, state == State.MISSED ? "expired" : "already ended",
                    () -> c.join("bob", "tablet", T0 + 40_000));
            refused(ErrorCode.ERROR_CODE_CONFLICT, state == State.MISSED ? "expired" : "already ended",
                    () -> c.join("alice", "laptop", T0 + 40_000));
            for (Call.Outcome o : List.of(c.hangup("alice", "laptop", T0 + 40_000),
                    c.hangup("bob", "phone", T0 + 40_000), c.lost("alice", "laptop", T0 + 40_000),
                    c.expire(T0 + 40_000), c.limit(T0 + 40_000, Duration.ofHours(12)))) {
                assertTrue(o.events().isEmpty(), state + ": " + o);
                assertEquals(state, o.state());
            }
            if (state == State.REJECTED) {
                assertTrue(c.reject("bob", "tablet", T0 + 40_000).events().isEmpty(), "bob's repeat");
            } else {
                refused(ErrorCode.ERROR_CODE_CONFLICT, "already ended", () -> c.reject("bob", "tablet", T0 + 40_000));
            }
            refused(ErrorCode.ERROR_CODE_FORBIDDEN, "not invited", () -> c.reject("alice", "laptop", T0 + 40_000));
            refused(ErrorCode.ERROR_CODE_FORBIDDEN, "not in this call", () -> c.hangup("carol", "x", T0 + 40_000));
            assertEquals(state, c.state(), "still " + state);
        }
    }

    @Test
    void theInitiatorsLostConnectionCancelsAnUnansweredCall() {
        Call c = oneToOne();
        CallEvent e = only(c.lost("alice", "laptop", T0 + 20_000));
        assertEquals(State.CANCELLED, e.getState());
        assertEquals("alice", e.getBy(), "CANCELLED names the initiator");
        assertEquals("", e.getByDevice());
        assertTrue(e.getReason().contains("connection was lost"), e.getReason());
        assertTrue(c.lost("alice", "laptop", T0 + 20_001).events().isEmpty());
    }
}
