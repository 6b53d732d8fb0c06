package io.parley.calls;

import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Media;
import io.parley.calls.proto.State;
import io.parley.core.spi.command.DeviceAddress;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One call's state machine, pure: no clock, no I/O, no threads — every method takes the time and returns what
 * happened ({@link Outcome}: the events to append, in order, and the devices that left), or throws the refusal.
 *
 * <pre>
 *   RINGING ──first join of an invited user──▶ ACCEPTED ──fewer than 2 participants / limit──▶ ENDED
 *      │ initiator hangs up (or is lost) ─▶ CANCELLED
 *      │ ring timeout ─▶ MISSED                 (ACCEPTED: rejections and joins of the others append REJECTED /
 *      │ 1:1 callee rejects ─▶ REJECTED          ACCEPTED and change nothing else)
 *      │ group: every invited user rejected ─▶ REJECTED…, then ENDED (0 ms)
 *      │ limit ─▶ ENDED
 *   BUSY: created terminal ({@link #busy}) when a 1:1 peer is in another call.
 * </pre>
 *
 * Participants are devices, at most one per user ({@link #join} from a second device replaces the first). The
 * initiator's device is joined from the start. Terminal states accept nothing but idempotent hangups (and repeated
 * rejections of a user who rejected).
 *
 * <p>Not thread-safe: the {@link CallService} serialises all calls to one instance.
 */
final class Call {

    /** What a transition produced. */
    record Outcome(List<CallEvent> events, List<DeviceAddress> left, State state) {
        static Outcome none(State state) {
            return new Outcome(List.of(), List.of(), state);
        }
    }

    /** What a join produced: its events, a device it replaced (empty if none), and whether it was a rejoin. */
    record Joined(Outcome outcome, Optional<DeviceAddress> replaced, boolean rejoin, List<DeviceAddress> others) {
    }

    private final String id;
    private final String conversation;
    private final boolean group;
    private final Media media;
    private final String initiator;
    private final List<String> invited;
    private final long startedAt;
    private final Duration ringTimeout;
    private final int maxParticipants;

    private State state;
    private long acceptedAt;
    /** user → the device in the call, in joining order */
    private final Map<String, String> joined = new LinkedHashMap<>();
    private final Set<String> accepted = new LinkedHashSet<>();
    private final Set<String> rejected = new LinkedHashSet<>();

    private Call(String id, String conversation, boolean group, Media media, String initiator, List<String> invited,
                 long startedAt, Duration ringTimeout, int maxParticipants, State state) {
        if (media != Media.AUDIO && media != Media.VIDEO) {
            throw new IllegalArgumentException("media must be AUDIO or VIDEO");
        }
        if (invited.isEmpty() || invited.contains(initiator)) {
            throw new IllegalArgumentException("a call rings at least one user other than its initiator");
        }
        this.id = id;
        this.conversation = conversation;
        this.group = group;
        this.media = media;
        this.initiator = initiator;
        this.invited = List.copyOf(invited);
        this.startedAt = startedAt;
        this.ringTimeout = ringTimeout;
        this.maxParticipants = maxParticipants;
        this.state = state;
    }

    /** A new call, ringing {@code invited}, with the initiator's device in it; its event is {@link #ringingEvent}. */
    static Call ring(String id, String conversation, boolean group, Media media, String initiator,
                     String initiatorDevice, List<String> invited, long now, Duration ringTimeout,
                     int maxParticipants) {
        if (1 + invited.size() > maxParticipants) {
            throw new IllegalArgumentException("more participants than " + maxParticipants);
        }
        Call call = new Call(id, conversation, group, media, initiator, invited, now, ringTimeout, maxParticipants,
                State.RINGING);
        call.joined.put(initiator, initiatorDevice);
        return call;
    }

    /** A 1:1 call that is over before it began: its peer is in another call. Its one event is {@link #busyEvent}. */
    static Call busy(String id, String conversation, Media media, String initiator, String peer, long now) {
        return new Call(id, conversation, false, media, initiator, List.of(peer), now, Duration.ZERO, 2, State.BUSY);
    }

    CallEvent ringingEvent(String initiatorDevice) {
        return event(State.RINGING, initiator, initiatorDevice, 0, "");
    }

    CallEvent busyEvent(long now) {
        return event(State.BUSY, invited.get(0), "", 0, invited.get(0) + " is in another call");
    }

    // ------------------------------------------------------------------------------------------------ transitions

    /**
     * {@code user} joins on {@code device}: the first join of an invited user appends ACCEPTED (and moves a ringing
     * call to ACCEPTED); a join from the device already in the call is a rejoin; from another device of a user in
     * the call it replaces that device.
     *
     * @throws io.parley.core.api.ParleyException FORBIDDEN (not invited, or declined), CONFLICT (over, expired, full)
     */
    Joined join(String user, String device, long now) {
        refuseIfOver();
        if (!user.equals(initiator) && !invited.contains(user)) {
            throw CallRefusal.notInvited();
        }
        if (rejected.contains(user)) {
            throw CallRefusal.forbidden("you declined this call");
        }
        String current = joined.get(user);
        if (device.equals(current)) {
            return new Joined(Outcome.none(state), Optional.empty(), true, othersThan(user));
        }
        if (current != null) {
            joined.put(user, device);
            return new Joined(Outcome.none(state), Optional.of(new DeviceAddress(user, current)), false,
                    othersThan(user));
        }
        if (joined.size() >= maxParticipants) {
            throw CallRefusal.conflict("the call is full (" + maxParticipants + " participants)");
        }
        List<DeviceAddress> others = othersThan(user);
        joined.put(user, device);
        List<CallEvent> events = new ArrayList<>(1);
        if (!user.equals(initiator) && accepted.add(user)) {
            if (state == State.RINGING) {
                state = State.ACCEPTED;
                acceptedAt = now;
            }
            events.add(event(State.ACCEPTED, user, device, 0, user + " answered"));
        }
        return new Joined(new Outcome(events, List.of(), state), Optional.empty(), false, others);
    }

    /** @throws io.parley.core.api.ParleyException CONFLICT (expired, or over) if the call can no longer be joined */
    void refuseIfOver() {
        if (isTerminal()) {
            throw state == State.MISSED
                    ? CallRefusal.conflict("the call expired: nobody joined within " + ringTimeout.toSeconds() + " s")
                    : CallRefusal.alreadyEnded();
        }
    }

    /**
     * {@code user} declines: REJECTED (a 1:1 call ends; in a group that user is out, and when every invited user is
     * out before anyone joined, ENDED follows). A user who rejected already: nothing, as before.
     *
     * @throws io.parley.core.api.ParleyException FORBIDDEN (not invited: the initiator included), CONFLICT (joined,
     *                                            or the call is over)
     */
    Outcome reject(String user, String device, long now) {
        if (rejected.contains(user)) {
            return Outcome.none(state);
        }
        if (!invited.contains(user)) {
            throw CallRefusal.notInvited();
        }
        if (isTerminal()) {
            throw CallRefusal.alreadyEnded();
        }
        if (accepted.contains(user)) {
            throw CallRefusal.conflict("you already joined this call; hang up instead");
        }
        rejected.add(user);
        List<CallEvent> events = new ArrayList<>(2);
        if (!group) {
            state = State.REJECTED;
            events.add(event(State.REJECTED, user, device, 0, user + " declined"));
            return new Outcome(events, clearAll(), state);
        }
        events.add(event(State.REJECTED, user, device, 0, user + " declined"));
        if (state == State.RINGING && rejected.containsAll(invited)) {
            state = State.ENDED;
            events.add(event(State.ENDED, "", "", 0, "everyone declined"));
            return new Outcome(events, clearAll(), state);
        }
        return new Outcome(events, List.of(), state);
    }

    /**
     * {@code user} hangs up: the initiator of an unanswered call cancels it; a participant leaves (ENDED when fewer
     * than two remain after an ACCEPTED); an invited user who has not joined rejects. On a call that is over, or from
     * a user who is out already: nothing.
     *
     * @throws io.parley.core.api.ParleyException FORBIDDEN for a user who is neither the initiator nor invited
     */
    Outcome hangup(String user, String device, long now) {
        if (!user.equals(initiator) && !invited.contains(user)) {
            throw CallRefusal.forbidden("you are not in this call");
        }
        if (isTerminal()) {
            return Outcome.none(state);
        }
        String current = joined.get(user);
        if (current == null) {
            if (invited.contains(user) && !accepted.contains(user) && !rejected.contains(user)) {
                return reject(user, device, now);
            }
            return Outcome.none(state);
        }
        return leave(user, current, user, device, user + " hung up", now);
    }

    /**
     * The device {@code user} is in the call on has been gone for the grace period: it leaves as by a hangup, with no
     * one named as the cause. Nothing if that device is no longer the user's device in the call.
     */
    Outcome lost(String user, String device, long now) {
        if (isTerminal() || !device.equals(joined.get(user))) {
            return Outcome.none(state);
        }
        return leave(user, device, "", "", user + "'s connection was lost", now);
    }

    /** The ring timeout passed: a call nobody answered is MISSED; anything else: nothing. */
    Outcome expire(long now) {
        if (state != State.RINGING) {
            return Outcome.none(state);
        }
        state = State.MISSED;
        List<DeviceAddress> left = clearAll();
        return new Outcome(List.of(event(State.MISSED, "", "", 0,
                "nobody answered within " + ringTimeout.toSeconds() + " s")), left, state);
    }

    /** The call reached its maximum duration: ENDED; a call that is over: nothing. */
    Outcome limit(long now, Duration max) {
        if (isTerminal()) {
            return Outcome.none(state);
        }
        return end(now, "", "", "the call reached the " + max.toHours() + "-hour limit");
    }

    private Outcome leave(String user, String device, String by, String byDevice, String reason, long now) {
        if (state == State.RINGING && user.equals(initiator)) {
            List<DeviceAddress> left = clearAll();
            state = State.CANCELLED;
            return new Outcome(List.of(event(State.CANCELLED, initiator, byDevice,
                    0, by.isEmpty() ? reason : initiator + " cancelled the call")), left, state);
        }
        joined.remove(user);
        if (state == State.ACCEPTED && joined.size() < 2) {
            Outcome ended = end(now, by, byDevice, reason);
            List<DeviceAddress> left = new ArrayList<>(ended.left());
            left.add(0, new DeviceAddress(user, device));
            return new Outcome(ended.events(), left, ended.state());
        }
        return new Outcome(List.of(), List.of(new DeviceAddress(user, device)), state);
    }

    /** Ends the call at {@code now}: ENDED with the time since the first ACCEPTED (0 if none). */
    private Outcome end(long now, String by, String byDevice, String reason) {
        List<DeviceAddress> left = clearAll();
        state = State.ENDED;
        long duration = acceptedAt > 0 ? Math.max(0, now - acceptedAt) : 0;
        return new Outcome(List.of(event(State.ENDED, by, byDevice, duration, reason)), left, state);
    }

    // ------------------------------------------------------------------------------------------------ reading

    private CallEvent event(State s, String by, String byDevice, long durationMs, String reason) {
        return CallEvent.newBuilder().setCallId(id).setState(s).setMedia(media).setInitiator(initiator)
                .addAllInvited(invited).setBy(by).setByDevice(byDevice).setDurationMs(durationMs)
                .setStartedAt(startedAt).setReason(reason).build();
    }

    /** Empties the call: every device leaves. @return the devices that were in it */
    private List<DeviceAddress> clearAll() {
        List<DeviceAddress> left = devices();
        joined.clear();
        return left;
    }

    private List<DeviceAddress> othersThan(String user) {
        List<DeviceAddress> out = new ArrayList<>(joined.size());
        joined.forEach((u, d) -> {
            if (!u.equals(user)) {
                out.add(new DeviceAddress(u, d));
            }
        });
        return out;
    }

    /** @return the devices in the call, in joining order */
    List<DeviceAddress> devices() {
        List<DeviceAddress> out = new ArrayList<>(joined.size());
        joined.forEach((u, d) -> out.add(new DeviceAddress(u, d)));
        return out;
    }

    /** @return the device {@code user} is in the call on, if any */
    Optional<String> deviceOf(String user) {
        return Optional.ofNullable(joined.get(user));
    }

    boolean isTerminal() {
        return state != State.RINGING && state != State.ACCEPTED;
    }

    String id() {
        return id;
    }

    String conversation() {
        return conversation;
    }

    boolean isGroup() {
        return group;
    }

    Media media() {
        return media;
    }

    String initiator() {
        return initiator;
    }

    List<String> invited() {
        return invited;
    }

    State state() {
        return state;
    }

    long startedAt() {
        return startedAt;
    }

    /** @return epoch ms of the first ACCEPTED, or 0 */
    long acceptedAt() {
        return acceptedAt;
    }
}
