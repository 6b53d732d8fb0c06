package io.parley.calls;

import com.google.protobuf.Any;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.CallHangup;
import io.parley.calls.proto.CallJoin;
import io.parley.calls.proto.CallJoined;
import io.parley.calls.proto.CallReject;
import io.parley.calls.proto.CallSignal;
import io.parley.calls.proto.CallStart;
import io.parley.calls.proto.CallStarted;
import io.parley.calls.proto.CallUpdate;
import io.parley.calls.proto.Kind;
import io.parley.calls.proto.Media;
import io.parley.calls.proto.Participant;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.State;
import io.parley.calls.proto.TurnCredentials;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.spi.command.SessionListener;
import io.parley.core.spi.delivery.Notification;
import io.parley.store.memory.MemoryMessageStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The call service on the real engine ({@link InProcessCore} on the memory store, wired as the core bundle wires it):
 * its commands, events, signals, timers and session hooks as devices see them.
 */
class CallServiceTest {
    static final Duration SETTLE = Duration.ofMillis(300);

    MemoryMessageStore store = new MemoryMessageStore();
    InProcessCore core;
    CallService service;
    /** Added to the wall clock: a test moves the service's time forward (token expiry). */
    final AtomicLong skew = new AtomicLong();
    /** What the offline channel (push) was given. */
    final LinkedBlockingQueue<Notification> pushes = new LinkedBlockingQueue<>();
    /** What an all-recipients channel (webhooks) was given: every notified message, online members or not. */
    final LinkedBlockingQueue<Notification> notified = new LinkedBlockingQueue<>();
    final List<Device> devices = new ArrayList<>();

    void start(CallSettings settings) {
        core = InProcessCore.start(store, Map.of())
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(3600)))
                .dispatcher("push", false, n -> {
                    pushes.add(n);
                    return CompletableFuture.completedFuture(null);
                })
                .dispatcher("all", true, n -> {
                    notified.add(n);
                    return CompletableFuture.completedFuture(null);
                });
        service = new CallService(core.conversationEvents(), settings, () -> System.currentTimeMillis() + skew.get());
        CallCommands.handlers(service).forEach(core::command);
        CallCommands.processors().forEach(core::processor);
        core.sessionListener(new SessionListener() {
            @Override
            public void closed(String user, String device) {
                service.deviceOffline(user, device);
            }
        });
    }

    void start() {
        start(CallSettings.defaults().withRingTimeout(Duration.ofSeconds(2)).withLeaveGrace(Duration.ofSeconds(1)));
    }

    @AfterEach
    void stop() {
        devices.forEach(Device::close);
        if (service != null) {
            service.close();
        }
        if (core != null) {
            core.close();
        }
    }

    Device device(String user, String device) {
        Device d = new Device(core, user, device).resume();
        devices.add(d);
        return d;
    }

    String group(Device owner, String name, String... members) {
        Frame f = owner.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("g-" + name)
                .setCreate(GroupRequest.Create.newBuilder().setName(name).addAllMembers(List.of(members)))));
        assertTrue(f.hasGroupResponse(), f.toString());
        return f.getGroupResponse().getGroup().getConversation();
    }

    static CallStart call(String peer, Media media) {
        return CallStart.newBuilder().setPeer(peer).setMedia(media).build();
    }

    static CallJoin join(String id) {
        return CallJoin.newBuilder().setCallId(id).build();
    }

    static CallSignal signal(String id, String toUser, String toDevice, Kind kind, String data, String token) {
        return CallSignal.newBuilder().setCallId(id).setToUser(toUser).setToDevice(toDevice).setKind(kind)
                .setData(data).setToken(token).build();
    }

    static java.util.function.Predicate<CallEvent> is(String id, State state) {
        return e -> e.getCallId().equals(id) && e.getState() == state;
    }

    @Test
    void ringingAcceptedEndedWithBothCalleeDevicesRingingAndTheSecondJoinReplacingTheFirst() {
        start();
        Device aliceLaptop = device("alice", "laptop");
        Device alicePhone = device("alice", "phone");
        Device bobPhone = device("bob", "phone");
        Device bobTablet = device("bob", "tablet");

        CallStarted started = aliceLaptop.ok("call.start", call("bob", Media.VIDEO), CallStarted.class);
        assertFalse(started.getBusy());
        assertEquals("d:alice:bob", started.getConversation());
        assertFalse(started.getToken().isEmpty());
        String id = started.getCallId();
        // both of bob's devices ring, and alice's devices see the call too
        for (Device d : List.of(bobPhone, bobTablet, aliceLaptop, alicePhone)) {
            CallEvent ringing = d.awaitEvent(is(id, State.RINGING));
            assertEquals(List.of("bob"), ringing.getInvitedList());
            assertEquals(Media.VIDEO, ringing.getMedia());
        }
        Message ringingMessage = store.range("d:alice:bob", started.getRingingSeq(), started.getRingingSeq(), 1).get(0);
        assertEquals("alice", ringingMessage.getSender());
        assertEquals("laptop", ringingMessage.getSenderDevice());
        assertTrue(ringingMessage.getClientMsgId().startsWith("command:"), ringingMessage.getClientMsgId());

        CallJoined joined = bobPhone.ok("call.join", join(id), CallJoined.class);
        assertEquals(List.of(Participant.newBuilder().setUser("alice").setDevice("laptop").build()),
                joined.getParticipantsList());
        assertEquals(Media.VIDEO, joined.getMedia());
        for (Device d : List.of(bobPhone, bobTablet, aliceLaptop, alicePhone)) {
            CallEvent accepted = d.awaitEvent(is(id, State.ACCEPTED));
            assertEquals("bob", accepted.getBy());
            assertEquals("phone", accepted.getByDevice());
        }

        // the tablet joins too: it replaces the phone, which is told with a BYE; alice loses the phone the same way
        CallJoined tablet = bobTablet.ok("call.join", join(id), CallJoined.class);
        assertEquals(joined.getParticipantsList(), tablet.getParticipantsList());
        Signal byeToPhone = Device.signal(bobPhone.awaitSignal(s -> s.getKind() == Kind.BYE));
        assertEquals("tablet", byeToPhone.getFromDevice());
        Signal byeToAlice = Device.signal(aliceLaptop.awaitSignal(s -> s.getKind() == Kind.BYE));
        assertEquals("phone", byeToAlice.getFromDevice());
        bobPhone.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "v=0", joined.getToken()),
                ErrorCode.ERROR_CODE_FORBIDDEN, "this device is not in the call");

        // the joiner offers; alice answers
        bobTablet.done("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "v=0 offer", tablet.getToken()));
        Signal offer = Device.signal(aliceLaptop.awaitSignal(s -> s.getKind() == Kind.OFFER));
        assertEquals("bob", offer.getFromUser());
        assertEquals("tablet", offer.getFromDevice());
        assertEquals("v=0 offer", offer.getData());
        aliceLaptop.done("call.signal", signal(id, "bob", "tablet", Kind.ANSWER, "v=0 answer", started.getToken()));
        assertEquals("v=0 answer", Device.signal(bobTablet.awaitSignal(s -> s.getKind() == Kind.ANSWER)).getData());

        CallUpdate hungUp = aliceLaptop.ok("call.hangup", CallHangup.newBuilder().setCallId(id).build(),
                CallUpdate.class);
        assertEquals(State.ENDED, hungUp.getState());
        assertTrue(hungUp.getEventSeq() > 0);
        for (Device d : List.of(bobPhone, bobTablet, aliceLaptop, alicePhone)) {
            CallEvent ended = d.awaitEvent(is(id, State.ENDED));
            assertEquals("alice", ended.getBy());
            assertTrue(ended.getDurationMs() >= 0);
        }
        // idempotent on an ended call; joining it again is refused
        CallUpdate again = bobTablet.ok("call.hangup", CallHangup.newBuilder().setCallId(id).build(), CallUpdate.class);
        assertEquals(State.ENDED, again.getState());
        assertEquals(0, again.getEventSeq());
        bobPhone.refused("call.join", join(id), ErrorCode.ERROR_CODE_CONFLICT, "the call already ended");
        assertEquals(hungUp.getEventSeq(), store.head("d:alice:bob"), "nothing appended after ENDED");

        // signals went to the addressed device only: alice's phone got none, bob's phone only its BYE
        assertTrue(alicePhone.signalsReceived(SETTLE).isEmpty(), "alice's other device: no signal");
        assertTrue(bobPhone.signalsReceived(SETTLE).isEmpty(), "the replaced device: only the BYE (taken)");
    }

    @Test
    void aGroupCallOfThreeIsAMeshWhereTheJoinerOffersAndOthersNeverSeeTheSignals() {
        start();
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        Device bobTablet = device("bob", "tablet");
        Device carol = device("carol", "desk");
        Device dave = device("dave", "phone");
        String team = group(alice, "team", "bob", "carol", "dave");

        CallStarted started = alice.ok("call.start", CallStart.newBuilder().setConversation(team)
                .setMedia(Media.AUDIO).addInvite("bob").addInvite("carol").build(), CallStarted.class);
        String id = started.getCallId();
        assertEquals(List.of("bob", "carol"), dave.awaitEvent(is(id, State.RINGING)).getInvitedList(),
                "every member sees the call, the invited ring");
        dave.refused("call.join", join(id), ErrorCode.ERROR_CODE_FORBIDDEN, "you were not invited to this call");

        CallJoined bobJoined = bob.ok("call.join", join(id), CallJoined.class);
        assertEquals(List.of("alice"), bobJoined.getParticipantsList().stream().map(Participant::getUser).toList());
        bob.done("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "bob->alice", bobJoined.getToken()));
        alice.done("call.signal", signal(id, "bob", "phone", Kind.ANSWER, "alice->bob", started.getToken()));

        CallJoined carolJoined = carol.ok("call.join", join(id), CallJoined.class);
        assertEquals(List.of(Participant.newBuilder().setUser("alice").setDevice("laptop").build(),
                        Participant.newBuilder().setUser("bob").setDevice("phone").build()),
                carolJoined.getParticipantsList(), "the joiner offers to every device already in");
        for (Participant p : carolJoined.getParticipantsList()) {
            carol.done("call.signal", signal(id, p.getUser(), p.getDevice(), Kind.OFFER, "carol->" + p.getUser(),
                    carolJoined.getToken()));
        }
        alice.done("call.signal", signal(id, "carol", "desk", Kind.ANSWER, "alice->carol", started.getToken()));
        bob.done("call.signal", signal(id, "carol", "desk", Kind.CANDIDATE,
                "{\"candidate\":\"candidate:1 1 udp 1 10.0.0.2 5000 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
                bobJoined.getToken()));

        assertEquals(List.of("bob->alice", "carol->alice"), data(alice.signalsReceived(SETTLE)));
        assertEquals(List.of("alice->bob", "carol->bob"), data(bob.signalsReceived(SETTLE)));
        assertEquals(2, carol.signalsReceived(SETTLE).size());
        assertTrue(bobTablet.signalsReceived(SETTLE).isEmpty(), "the addressee's other device gets nothing");
        assertTrue(dave.signalsReceived(SETTLE).isEmpty(), "a member outside the call gets nothing");

        // alice leaves: the call goes on, and bob and carol get her BYE from the server
        CallUpdate left = alice.ok("call.hangup", CallHangup.newBuilder().setCallId(id).build(), CallUpdate.class);
        assertEquals(State.ACCEPTED, left.getState());
        assertEquals(0, left.getEventSeq());
        assertEquals("alice", Device.signal(bob.awaitSignal(s -> s.getKind() == Kind.BYE)).getFromUser());
        assertEquals("laptop", Device.signal(carol.awaitSignal(s -> s.getKind() == Kind.BYE)).getFromDevice());
        bob.ok("call.hangup", CallHangup.newBuilder().setCallId(id).build(), CallUpdate.class);
        CallEvent ended = dave.awaitEvent(is(id, State.ENDED));
        assertEquals("bob", ended.getBy());
    }

    static com.google.protobuf.Message byId(String type, String id) {
        return switch (type) {
            case "call.join" -> join(id);
            case "call.reject" -> CallReject.newBuilder().setCallId(id).build();
            case "call.hangup" -> CallHangup.newBuilder().setCallId(id).build();
            default -> throw new IllegalArgumentException(type);
        };
    }

    static List<String> data(List<Message> signals) {
        return signals.stream().map(m -> Device.signal(m).getData()).sorted().toList();
    }

    @Test
    void busyWhenTheCalleeIsAlreadyInACall() {
        start();
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        Device carol = device("carol", "desk");
        String id = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        bob.ok("call.join", join(id), CallJoined.class);

        CallStarted busy = carol.ok("call.start", call("bob", Media.VIDEO), CallStarted.class);
        assertTrue(busy.getBusy());
        assertTrue(busy.getToken().isEmpty());
        assertEquals(0, busy.getIceServersCount());
        CallEvent event = bob.awaitEvent(is(busy.getCallId(), State.BUSY));
        assertEquals("bob", event.getBy());
        assertEquals("carol", carol.awaitEvent(is(busy.getCallId(), State.BUSY)).getInitiator());
        assertEquals(busy.getRingingSeq(), store.head("d:bob:carol"));
        bob.refused("call.join", join(busy.getCallId()), ErrorCode.ERROR_CODE_CONFLICT, "the call already ended");
        // the initiator placing a call is busy too, and a caller in a call cannot place another
        assertTrue(carol.ok("call.start", call("alice", Media.AUDIO), CallStarted.class).getBusy());
        alice.refused("call.start", call("carol", Media.AUDIO), ErrorCode.ERROR_CODE_CONFLICT,
                "you are already in call " + id);
        // nor join another
        String other = carol.ok("call.start", call("dave", Media.AUDIO), CallStarted.class).getCallId();
        Device dave = device("dave", "x");
        dave.ok("call.join", join(other), CallJoined.class);
        carol.refused("call.start", call("bob", Media.AUDIO), ErrorCode.ERROR_CODE_CONFLICT, "already in call");
    }

    @Test
    void rejectedAndCancelledAndEveryoneDeclining() {
        start();
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        Device bobTablet = device("bob", "tablet");
        Device carol = device("carol", "desk");

        String rejected = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        CallUpdate r = bob.ok("call.reject", CallReject.newBuilder().setCallId(rejected).build(), CallUpdate.class);
        assertEquals(State.REJECTED, r.getState());
        assertTrue(r.getEventSeq() > 0);
        assertEquals("bob", bobTablet.awaitEvent(is(rejected, State.REJECTED)).getBy(),
                "the other device stops ringing");
        CallUpdate twice = bobTablet.ok("call.reject", CallReject.newBuilder().setCallId(rejected).build(),
                CallUpdate.class);
        assertEquals(0, twice.getEventSeq());
        alice.refused("call.reject", CallReject.newBuilder().setCallId(rejected).build(),
                ErrorCode.ERROR_CODE_FORBIDDEN, "not invited");

        String cancelled = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        CallUpdate c = alice.ok("call.hangup", CallHangup.newBuilder().setCallId(cancelled).build(), CallUpdate.class);
        assertEquals(State.CANCELLED, c.getState());
        assertEquals("alice", bob.awaitEvent(is(cancelled, State.CANCELLED)).getBy());
        bob.refused("call.join", join(cancelled), ErrorCode.ERROR_CODE_CONFLICT, "the call already ended");

        String team = group(alice, "declines", "bob", "carol");
        String g = alice.ok("call.start", CallStart.newBuilder().setConversation(team).setMedia(Media.AUDIO).build(),
                CallStarted.class).getCallId();
        assertEquals(State.RINGING, bob.ok("call.reject", CallReject.newBuilder().setCallId(g).build(),
                CallUpdate.class).getState());
        assertEquals(State.ENDED, carol.ok("call.reject", CallReject.newBuilder().setCallId(g).build(),
                CallUpdate.class).getState());
        CallEvent ended = alice.awaitEvent(is(g, State.ENDED));
        assertEquals(0, ended.getDurationMs());
        // the caller is free again
        alice.ok("call.start", call("carol", Media.AUDIO), CallStarted.class);
    }

    @Test
    void theRoomExpiresAndTheOfflineCalleeGetsMissedOnResumeAndPushes() throws Exception {
        start();
        Device alice = device("alice", "laptop");
        Device bobBefore = device("bob", "phone");
        bobBefore.close(); // bob has a device, offline now
        pushes.clear();

        CallStarted started = alice.ok("call.start", call("bob", Media.VIDEO), CallStarted.class);
        String id = started.getCallId();
        Notification ringPush = pushes.poll(10, TimeUnit.SECONDS);
        assertNotNull(ringPush, "RINGING goes to the notification channels");
        assertEquals("📞 Incoming video call from alice", ringPush.preview());
        assertEquals(List.of("bob"), ringPush.recipients());

        CallEvent missed = alice.awaitEvent(is(id, State.MISSED));
        assertEquals("nobody answered within 2 s", missed.getReason());
        assertEquals("", missed.getBy());
        Notification missedPush = pushes.poll(10, TimeUnit.SECONDS);
        assertNotNull(missedPush, "MISSED goes to the notification channels");
        assertEquals("Missed video call from alice", missedPush.preview());
        assertEquals(List.of("bob"), missedPush.recipients());

        // bob's device comes back: the resume brings RINGING then MISSED
        Device bob = device("bob", "phone");
        assertEquals(State.RINGING, bob.awaitEvent(e -> e.getCallId().equals(id)).getState());
        assertEquals(State.MISSED, bob.awaitEvent(e -> e.getCallId().equals(id)).getState());
        bob.refused("call.join", join(id), ErrorCode.ERROR_CODE_CONFLICT,
                "the call expired: nobody joined within 2 s");
        alice.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x", started.getToken()),
                ErrorCode.ERROR_CODE_FORBIDDEN, "this device is not in the call");
        // an answered call: only its RINGING is notified (bob is online: nothing for the offline channel)
        String answered = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        bob.ok("call.join", join(answered), CallJoined.class);
        alice.ok("call.hangup", CallHangup.newBuilder().setCallId(answered).build(), CallUpdate.class);
        bob.awaitEvent(is(answered, State.ENDED));
        bob.signalsReceived(SETTLE); // the channels work off the delivery path: give them a moment
        List<String> previews = notified.stream().filter(n -> Device.event(n.message()).getCallId().equals(answered))
                .map(Notification::preview).toList();
        assertEquals(List.of("📞 Incoming call from alice"), previews, "ACCEPTED and ENDED are not notified");
        assertTrue(pushes.isEmpty(), "bob was online: " + pushes);
    }

    @Test
    void aDeviceWhoseConnectionDropsLeavesAfterTheGraceUnlessItJoinsAgain() {
        start();
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        String id = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        bob.ok("call.join", join(id), CallJoined.class);
        alice.awaitEvent(is(id, State.ACCEPTED));

        // bob drops and comes back within the grace: the call goes on
        bob.close();
        Device bobAgain = device("bob", "phone");
        CallJoined rejoined = bobAgain.ok("call.join", join(id), CallJoined.class);
        assertEquals(1, rejoined.getParticipantsCount());
        // bob drops for good: after the grace, the call ends, naming nobody
        bobAgain.close();
        CallEvent ended = alice.awaitEvent(is(id, State.ENDED));
        assertEquals("", ended.getBy());
        assertTrue(ended.getReason().contains("bob's connection was lost"), ended.getReason());
        assertEquals(1, store.range("d:alice:bob", 1, Long.MAX_VALUE, 10).stream()
                .filter(m -> Device.event(m).getState() == State.ENDED).count(), "one ENDED, not two");
    }

    @Test
    void tokensAreRefusedFromAnotherDeviceOrUserAfterTheyExpireAndAfterTheCallEnds() {
        start();
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        String id = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        CallJoined joined = bob.ok("call.join", join(id), CallJoined.class);
        String aliceToken = alice.ok("call.join", join(id), CallJoined.class).getToken(); // a rejoin: fresh token

        bob.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x", aliceToken),
                ErrorCode.ERROR_CODE_FORBIDDEN, "invalid room token");
        bob.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x", ""),
                ErrorCode.ERROR_CODE_FORBIDDEN, "invalid room token");
        bob.refused("call.signal", signal(id, "alice", "tablet", Kind.OFFER, "x", joined.getToken()),
                ErrorCode.ERROR_CODE_NOT_FOUND, "alice/tablet is not in this call");
        bob.refused("call.signal", signal(id, "alice", "laptop", Kind.KIND_UNSPECIFIED, "x", joined.getToken()),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "kind");
        bob.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x".repeat(16 * 1024 + 1),
                joined.getToken()), ErrorCode.ERROR_CODE_BODY_TOO_LARGE, "16384");
        bob.done("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x".repeat(16 * 1024), joined.getToken()));

        skew.set(Duration.ofHours(1).toMillis());
        bob.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x", joined.getToken()),
                ErrorCode.ERROR_CODE_FORBIDDEN, "the room token expired");
        String fresh = bob.ok("call.join", join(id), CallJoined.class).getToken();
        bob.done("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x", fresh));
        skew.set(0);

        alice.ok("call.hangup", CallHangup.newBuilder().setCallId(id).build(), CallUpdate.class);
        bob.refused("call.signal", signal(id, "alice", "laptop", Kind.OFFER, "x", fresh),
                ErrorCode.ERROR_CODE_FORBIDDEN, "this device is not in the call");
    }

    @Test
    void everyCommandRefusesAStrangerAndAWrongUser() {
        start();
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        Device mallory = device("mallory", "x");
        Device carol = device("carol", "desk");
        String team = group(alice, "refusals", "bob", "carol");
        String id = alice.ok("call.start", CallStart.newBuilder().setConversation(team).setMedia(Media.AUDIO)
                .addInvite("bob").build(), CallStarted.class).getCallId();
        CallJoined bobJoined = bob.ok("call.join", join(id), CallJoined.class);

        // a stranger (not a member of the conversation) cannot tell the call exists
        mallory.refused("call.start", CallStart.newBuilder().setConversation(team).setMedia(Media.AUDIO).build(),
                ErrorCode.ERROR_CODE_NOT_FOUND, "no such group");
        mallory.refused("call.start", CallStart.newBuilder().setConversation("d:alice:bob").setMedia(Media.AUDIO)
                .build(), ErrorCode.ERROR_CODE_NOT_FOUND, "no such conversation");
        for (String type : List.of("call.join", "call.reject", "call.hangup")) {
            Frame stranger = mallory.refused(type, byId(type, id), ErrorCode.ERROR_CODE_NOT_FOUND, "no such call");
            Frame none = mallory.refused(type, byId(type, "c-nope"), ErrorCode.ERROR_CODE_NOT_FOUND, "no such call");
            assertEquals(none.getError(), stranger.getError(), type + ": the same answer as for no call");
        }
        mallory.refused("call.signal", signal(id, "bob", "phone", Kind.OFFER, "x", bobJoined.getToken()),
                ErrorCode.ERROR_CODE_NOT_FOUND, "no such call");
        mallory.refused("call.turn", null, ErrorCode.ERROR_CODE_FORBIDDEN, "you are not in a call");

        // a member who was not invited: the wrong user for this call
        carol.refused("call.join", join(id), ErrorCode.ERROR_CODE_FORBIDDEN, "you were not invited to this call");
        carol.refused("call.reject", CallReject.newBuilder().setCallId(id).build(), ErrorCode.ERROR_CODE_FORBIDDEN,
                "you were not invited to this call");
        carol.refused("call.hangup", CallHangup.newBuilder().setCallId(id).build(), ErrorCode.ERROR_CODE_FORBIDDEN,
                "you are not in this call");
        carol.refused("call.signal", signal(id, "bob", "phone", Kind.OFFER, "x", bobJoined.getToken()),
                ErrorCode.ERROR_CODE_FORBIDDEN, "this device is not in the call");
        carol.refused("call.turn", null, ErrorCode.ERROR_CODE_FORBIDDEN, "you are not in a call");
        carol.refused("call.start", CallStart.newBuilder().setConversation(team).setMedia(Media.AUDIO)
                .addInvite("mallory").build(), ErrorCode.ERROR_CODE_INVALID_REQUEST, "mallory is not a member");

        // malformed requests
        alice.refused("call.start", CallStart.newBuilder().setPeer("bob").build(),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "media must be AUDIO or VIDEO");
        alice.refused("call.start", CallStart.newBuilder().setPeer("alice").setMedia(Media.AUDIO).build(),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "yourself");
        alice.refused("call.start", CallStart.newBuilder().setMedia(Media.AUDIO).build(),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "a peer or a conversation");
        alice.refused("call.start", CallStart.newBuilder().setPeer("bob").setMedia(Media.AUDIO).addInvite("carol")
                .build(), ErrorCode.ERROR_CODE_INVALID_REQUEST, "invite is for group calls");
        alice.refused("call.join", CallHangup.newBuilder().setCallId(id).build(),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "parley.call.v1.CallJoin");
        alice.refused("call.join", null, ErrorCode.ERROR_CODE_INVALID_REQUEST, "call_id is required");
        // a client may not send the server's types
        Frame sent = alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("fake").setPeer("bob")
                .setType("call").setBody(Any.pack(CallEvent.newBuilder().setCallId(id).setState(State.ENDED).build()))));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, sent.getError().getCode(), sent.toString());
        Frame relayed = alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("fake2")
                .setPeer("bob").setType("call.signal").setBody(Any.pack(Signal.newBuilder().setCallId(id).build()))));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, relayed.getError().getCode(), relayed.toString());
    }

    @Test
    void groupLimitsAndTurnCredentials() {
        start(CallSettings.defaults().withTurn(List.of("stun:stun.example.com"), List.of("turn:turn.example.com"),
                "north"));
        Device alice = device("alice", "laptop");
        String big = group(alice, "big", "b1", "b2", "b3", "b4");
        alice.refused("call.start", CallStart.newBuilder().setConversation(big).setMedia(Media.AUDIO).build(),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "at most 4 participants");
        CallStarted started = alice.ok("call.start", CallStart.newBuilder().setConversation(big).setMedia(Media.AUDIO)
                .addInvite("b1").addInvite("b2").addInvite("b3").build(), CallStarted.class);
        assertEquals(2, started.getIceServersCount());
        assertTrue(started.getIceServers(1).getUsername().endsWith(":alice"));
        TurnCredentials turn = alice.ok("call.turn", null, TurnCredentials.class);
        assertEquals(2, turn.getIceServersCount());
        assertTrue(turn.getExpiresAt() > System.currentTimeMillis() + 3_000_000);
        String username = turn.getIceServers(1).getUsername();
        assertEquals(turn.getExpiresAt() / 1000 + ":alice", username);
        assertEquals(IceServers.turnCredential("north", username), turn.getIceServers(1).getCredential());
    }

    @Test
    void closingTheServiceEndsItsCallsCancelsItsTimersAndLeavesNoThread() throws Exception {
        start(CallSettings.defaults().withRingTimeout(Duration.ofSeconds(1)));
        Device alice = device("alice", "laptop");
        Device bob = device("bob", "phone");
        Device carol = device("carol", "desk");
        String ringing = alice.ok("call.start", call("bob", Media.AUDIO), CallStarted.class).getCallId();
        String answered = carol.ok("call.start", call("dave", Media.AUDIO), CallStarted.class).getCallId();
        Device dave = device("dave", "x");
        dave.ok("call.join", join(answered), CallJoined.class);
        assertEquals(2, service.liveCalls());

        service.close();
        assertTrue(service.isTerminated(), "the timer thread has stopped");
        assertEquals(State.CANCELLED, bob.awaitEvent(e -> e.getCallId().equals(ringing)
                && e.getState() != State.RINGING).getState());
        CallEvent ended = dave.awaitEvent(e -> e.getCallId().equals(answered) && e.getState() == State.ENDED);
        assertEquals("the call service stopped", ended.getReason());
        Thread.sleep(1500); // past the ring timeout: the cancelled timer must not append MISSED
        assertTrue(store.range("d:alice:bob", 1, Long.MAX_VALUE, 10).stream()
                .noneMatch(m -> Device.event(m).getState() == State.MISSED), "no timer fired after close");
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("parley-calls-timer") && t.isAlive()), "no thread left behind");
        alice.refused("call.start", call("carol", Media.AUDIO), ErrorCode.ERROR_CODE_UNAVAILABLE, "stopping");
    }
}
