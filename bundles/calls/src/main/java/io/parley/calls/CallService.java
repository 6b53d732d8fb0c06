package io.parley.calls;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
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
import io.parley.calls.proto.TurnRequest;
import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRole;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.ConversationEvents;
import io.parley.core.spi.command.DeviceAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The call service (protocol.md §6i): the node-local registry of calls and rooms, the {@code call.*} commands, and
 * what happens without a command — the ring timeout (MISSED), the leave grace of a device whose connection dropped,
 * the maximum call length. Each call's state is a {@link Call}; its events are appended through the core's
 * {@link ConversationEvents} (acting as a member, so the core's membership rules apply), one at a time per call in
 * the order the transitions happened; signals are relayed to exactly the addressed device.
 *
 * <p>Threading: commands run on core workers, {@link #deviceOffline} on the thread that closed the session (it only
 * takes the lock and schedules), timers on this service's own
 * timer thread ({@code parley-calls-timer}), which also starts the appends. All state is guarded by one lock, held
 * for the pure transitions only (no I/O under it). {@link #close} ends every live call (best effort), cancels every
 * timer and stops the thread: nothing of this service runs after it.
 */
final class CallService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CallService.class);
    static final String EVENT_TYPE = "call";
    static final String SIGNAL_TYPE = "call.signal";
    static final int MAX_SIGNAL_DATA = 16 * 1024;
    /** How long an ended call is still known, so a late join hears why it cannot (then: {@code NOT_FOUND}). */
    static final Duration RETAIN_ENDED = Duration.ofMinutes(10);

    private final ConversationEvents events;
    private final LongSupplier clock;
    private final Rooms rooms = new Rooms();
    private final ScheduledThreadPoolExecutor timer;
    /** Starts appends on the timer thread; once closed, refuses them as retryable UNAVAILABLE. */
    private final Executor appends;
    private volatile CallSettings settings;

    private final Object lock = new Object();
    private final Map<String, Entry> calls = new HashMap<>();
    /** user → the live call they are in (joined on some device) */
    private final Map<String, String> userCall = new HashMap<>();
    private final Map<DeviceAddress, ScheduledFuture<?>> graces = new HashMap<>();
    private boolean closed;

    /** A call with its room, its timers and the tail of its append chain. Guarded by {@link #lock}. */
    private static final class Entry {
        final Call call;
        final String room;
        final List<ScheduledFuture<?>> timers = new ArrayList<>(2);
        int nextEvent;
        CompletableFuture<io.parley.core.proto.Message> tail = CompletableFuture.completedFuture(null);

        Entry(Call call, String room) {
            this.call = call;
            this.room = room;
        }
    }

    /** A relay to make once the lock is released. */
    private record Relay(String conversation, String fromUser, String fromDevice, Signal signal,
                         List<DeviceAddress> to) {
    }

    /**
     * @param clock epoch milliseconds (tests pass their own)
     */
    CallService(ConversationEvents events, CallSettings settings, LongSupplier clock) {
        this.events = events;
        this.settings = settings;
        this.clock = clock;
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "parley-calls-timer");
            t.setDaemon(true);
            return t;
        });
        timer.setRemoveOnCancelPolicy(true);
        this.appends = task -> {
            try {
                timer.execute(task);
            } catch (RejectedExecutionException e) {
                throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the call service is stopping", true);
            }
        };
    }

    /** New settings apply to calls placed (and timers set) from now on. */
    void settings(CallSettings s) {
        this.settings = s;
    }

    CallSettings settings() {
        return settings;
    }

    // ------------------------------------------------------------------------------------------------ call.start

    CompletionStage<Any> start(CommandContext ctx, Any payload) {
        CallStart req = parse(payload, CallStart.class, CallStart.getDefaultInstance());
        CallSettings s = settings;
        if (req.getMedia() != Media.AUDIO && req.getMedia() != Media.VIDEO) {
            throw CallRefusal.invalid("media must be AUDIO or VIDEO");
        }
        String me = ctx.userId();
        String device = ctx.deviceId();
        String conversation;
        switch (req.getToCase()) {
            case PEER -> {
                if (!Ids.isValidId(req.getPeer())) {
                    throw CallRefusal.invalid("invalid peer user id");
                }
                if (req.getPeer().equals(me)) {
                    throw CallRefusal.invalid("you cannot call yourself");
                }
                conversation = Ids.direct(me, req.getPeer());
            }
            case CONVERSATION -> conversation = req.getConversation();
            default -> throw CallRefusal.invalid("call.start needs a peer or a conversation");
        }
        List<String> members = ctx.members(conversation); // NOT_FOUND for strangers, as the core words it
        boolean group = Ids.groupIdOf(conversation) != null;
        List<String> invited = invited(ctx, conversation, group, members, req.getInviteList(), me);
        if (1 + invited.size() > s.maxParticipants()) {
            throw CallRefusal.invalid("a call has at most " + s.maxParticipants() + " participants (the caller "
                    + "included); " + (1 + invited.size()) + " were asked for");
        }
        long now = clock.getAsLong();
        Entry entry;
        CompletableFuture<io.parley.core.proto.Message> appended;
        synchronized (lock) {
            checkOpen();
            String current = userCall.get(me);
            if (current != null) {
                throw CallRefusal.alreadyInCall(current);
            }
            String id = rooms.newId("c-");
            String room = rooms.newId("r-");
            if (!group && userCall.containsKey(invited.get(0))) {
                Call busy = Call.busy(id, conversation, req.getMedia(), me, invited.get(0), now);
                entry = new Entry(busy, room);
                calls.put(id, entry);
                retain(entry);
                appended = enqueue(entry, List.of(busy.busyEvent(now)));
            } else {
                Call call = Call.ring(id, conversation, group, req.getMedia(), me, device, invited, now,
                        s.ringTimeout(), s.maxParticipants());
                entry = new Entry(call, room);
                calls.put(id, entry);
                userCall.put(me, id);
                entry.timers.add(schedule(() -> expire(id), s.ringTimeout()));
                entry.timers.add(schedule(() -> limit(id), s.maxCall()));
                appended = enqueue(entry, List.of(call.ringingEvent(device)));
            }
        }
        Call call = entry.call;
        return appended.handle((event, error) -> {
            if (error != null) {
                abandon(entry);
                throw CallRefusal.wrap(error);
            }
            CallStarted.Builder answer = CallStarted.newBuilder().setCallId(call.id()).setConversation(conversation)
                    .setRingingSeq(event.getSeq());
            if (call.state() == State.BUSY) {
                return Any.pack(answer.setBusy(true).build());
            }
            long expiresAt = now + s.tokenTtl().toMillis();
            return Any.pack(answer.setRoomId(entry.room).setToken(rooms.token(entry.room, me, device, expiresAt))
                    .setExpiresAt(expiresAt).addAllIceServers(IceServers.forUser(s, me, now)).build());
        });
    }

    /** The users a call rings: the peer, or the group's members {@code invite} names (default: all but the caller). */
    private static List<String> invited(CommandContext ctx, String conversation, boolean group, List<String> members,
                                        List<String> invite, String me) {
        if (!group) {
            if (!invite.isEmpty()) {
                throw CallRefusal.invalid("invite is for group calls; a 1:1 call rings the peer");
            }
            return members.stream().filter(m -> !m.equals(me)).limit(1).toList();
        }
        Group g = ctx.group(conversation).orElseThrow(CallRefusal::noSuchCall);
        long now = System.currentTimeMillis();
        if (g.getDissolved()) {
            throw CallRefusal.forbidden("the group is dissolved: nobody calls in it");
        }
        GroupMember self = g.getMembersList().stream().filter(m -> m.getUser().equals(me)).findFirst()
                .orElseThrow(CallRefusal::noSuchCall);
        boolean manager = self.getRole() == GroupRole.GROUP_ROLE_OWNER || self.getRole() == GroupRole.GROUP_ROLE_ADMIN;
        if (self.getMutedUntil() > now || (g.getMutedAll() && !manager)) {
            throw CallRefusal.forbidden("you are muted in " + conversation);
        }
        List<String> out;
        if (invite.isEmpty()) {
            out = members.stream().filter(m -> !m.equals(me)).toList();
        } else {
            LinkedHashSet<String> distinct = new LinkedHashSet<>(invite);
            for (String u : distinct) {
                if (u.equals(me)) {
                    throw CallRefusal.invalid("the caller does not invite itself");
                }
                if (!members.contains(u)) {
                    throw CallRefusal.invalid(u + " is not a member of " + conversation);
                }
            }
            out = List.copyOf(distinct);
        }
        if (out.isEmpty()) {
            throw CallRefusal.invalid("nobody to ring in " + conversation);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ call.join

    CompletionStage<Any> join(CommandContext ctx, Any payload) {
        CallJoin req = parse(payload, CallJoin.class, CallJoin.getDefaultInstance());
        Entry entry = memberEntry(ctx, req.getCallId());
        String me = ctx.userId();
        String device = ctx.deviceId();
        CallSettings s = settings;
        long now = clock.getAsLong();
        Call.Joined joined;
        CompletableFuture<io.parley.core.proto.Message> appended;
        List<Relay> relays = new ArrayList<>(2);
        synchronized (lock) {
            checkOpen();
            entry.call.refuseIfOver();
            String current = userCall.get(me);
            if (current != null && !current.equals(entry.call.id())) {
                throw CallRefusal.alreadyInCall(current);
            }
            joined = entry.call.join(me, device, now);
            userCall.put(me, entry.call.id());
            cancelGrace(new DeviceAddress(me, device));
            joined.replaced().ifPresent(old -> {
                cancelGrace(old);
                // the replaced device is told by the new one; the others lose the old device as when it leaves
                relays.add(new Relay(entry.call.conversation(), me, device, bye(entry.call, me, device), List.of(old)));
                if (!joined.others().isEmpty()) {
                    relays.add(new Relay(entry.call.conversation(), me, old.device(),
                            bye(entry.call, me, old.device()), joined.others()));
                }
            });
            appended = enqueue(entry, joined.outcome().events());
        }
        relay(relays);
        long expiresAt = now + s.tokenTtl().toMillis();
        CallJoined.Builder answer = CallJoined.newBuilder().setCallId(entry.call.id()).setRoomId(entry.room)
                .setToken(rooms.token(entry.room, me, device, expiresAt)).setExpiresAt(expiresAt)
                .addAllIceServers(IceServers.forUser(s, me, now)).setMedia(entry.call.media())
                .setConversation(entry.call.conversation());
        for (DeviceAddress d : joined.others()) {
            answer.addParticipants(Participant.newBuilder().setUser(d.user()).setDevice(d.device()));
        }
        return appended.handle((event, error) -> {
            if (error != null) {
                throw CallRefusal.wrap(error);
            }
            return Any.pack(answer.build());
        });
    }

    // ------------------------------------------------------------------------------------------------ reject, hangup

    CompletionStage<Any> reject(CommandContext ctx, Any payload) {
        CallReject req = parse(payload, CallReject.class, CallReject.getDefaultInstance());
        Entry entry = memberEntry(ctx, req.getCallId());
        return transition(entry, call -> call.reject(ctx.userId(), ctx.deviceId(), clock.getAsLong()));
    }

    CompletionStage<Any> hangup(CommandContext ctx, Any payload) {
        CallHangup req = parse(payload, CallHangup.class, CallHangup.getDefaultInstance());
        Entry entry = memberEntry(ctx, req.getCallId());
        return transition(entry, call -> call.hangup(ctx.userId(), ctx.deviceId(), clock.getAsLong()));
    }

    private CompletionStage<Any> transition(Entry entry, java.util.function.Function<Call, Call.Outcome> step) {
        Call.Outcome outcome;
        CompletableFuture<io.parley.core.proto.Message> appended;
        List<Relay> relays = new ArrayList<>();
        synchronized (lock) {
            checkOpen();
            outcome = step.apply(entry.call);
            appended = settle(entry, outcome, relays);
        }
        relay(relays);
        String id = entry.call.id();
        State state = outcome.state();
        boolean appendedAny = !outcome.events().isEmpty();
        return appended.handle((event, error) -> {
            if (error != null) {
                throw CallRefusal.wrap(error);
            }
            return Any.pack(CallUpdate.newBuilder().setCallId(id).setState(state)
                    .setEventSeq(appendedAny && event != null ? event.getSeq() : 0).build());
        });
    }

    // ------------------------------------------------------------------------------------------------ call.signal

    CompletionStage<Any> signal(CommandContext ctx, Any payload) {
        CallSignal req = parse(payload, CallSignal.class, CallSignal.getDefaultInstance());
        if (req.getCallId().isEmpty() || req.getToUser().isEmpty() || req.getToDevice().isEmpty()) {
            throw CallRefusal.invalid("call.signal needs call_id, to_user and to_device");
        }
        if (req.getKind() == Kind.KIND_UNSPECIFIED || req.getKind() == Kind.UNRECOGNIZED) {
            throw CallRefusal.invalid("call.signal needs a kind (OFFER, ANSWER, CANDIDATE, BYE, RENEGOTIATE)");
        }
        if (req.getData().getBytes(StandardCharsets.UTF_8).length > MAX_SIGNAL_DATA) {
            throw new ParleyException(ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                    "signal data is larger than " + MAX_SIGNAL_DATA + " bytes");
        }
        Entry entry = memberEntry(ctx, req.getCallId());
        String me = ctx.userId();
        String device = ctx.deviceId();
        DeviceAddress to;
        synchronized (lock) {
            checkOpen();
            Call call = entry.call;
            if (call.isTerminal() || !device.equals(call.deviceOf(me).orElse(null))) {
                throw CallRefusal.forbidden("this device is not in the call");
            }
            rooms.verify(req.getToken(), entry.room, me, device, clock.getAsLong());
            if (!req.getToDevice().equals(call.deviceOf(req.getToUser()).orElse(null))) {
                throw CallRefusal.notFound(req.getToUser() + "/" + req.getToDevice() + " is not in this call");
            }
            to = new DeviceAddress(req.getToUser(), req.getToDevice());
        }
        Signal signal = Signal.newBuilder().setCallId(entry.call.id()).setFromUser(me).setFromDevice(device)
                .setKind(req.getKind()).setData(req.getData()).build();
        ctx.relayTo(entry.call.conversation(), SIGNAL_TYPE, Any.pack(signal), List.of(to));
        return CompletableFuture.completedFuture(Any.getDefaultInstance());
    }

    // ------------------------------------------------------------------------------------------------ call.turn

    CompletionStage<Any> turn(CommandContext ctx, Any payload) {
        if (!payload.equals(Any.getDefaultInstance())) {
            parse(payload, TurnRequest.class, TurnRequest.getDefaultInstance());
        }
        synchronized (lock) {
            checkOpen();
            if (!userCall.containsKey(ctx.userId())) {
                throw CallRefusal.forbidden("you are not in a call");
            }
        }
        CallSettings s = settings;
        long now = clock.getAsLong();
        return CompletableFuture.completedFuture(Any.pack(TurnCredentials.newBuilder()
                .addAllIceServers(IceServers.forUser(s, ctx.userId(), now))
                .setExpiresAt(s.hasTurn() ? IceServers.turnExpiry(s, now) : 0).build()));
    }

    // ------------------------------------------------------------------------------------------------ without a command

    /**
     * The last session of {@code user} on {@code device} closed (on this node): if that device is in a live call, its
     * leave grace starts. Returns at once (a transport's thread may call it).
     */
    void deviceOffline(String user, String device) {
        synchronized (lock) {
            if (closed) {
                return;
            }
            String id = userCall.get(user);
            Entry entry = id == null ? null : calls.get(id);
            if (entry == null || !device.equals(entry.call.deviceOf(user).orElse(null))) {
                return;
            }
            DeviceAddress d = new DeviceAddress(user, device);
            cancelGrace(d);
            graces.put(d, schedule(() -> lost(id, d), settings.leaveGrace()));
        }
    }

    private void lost(String id, DeviceAddress d) {
        List<Relay> relays = new ArrayList<>();
        synchronized (lock) {
            Entry entry = calls.get(id);
            graces.remove(d);
            if (closed || entry == null) {
                return;
            }
            settle(entry, entry.call.lost(d.user(), d.device(), clock.getAsLong()), relays);
        }
        relay(relays);
    }

    private void expire(String id) {
        synchronized (lock) {
            Entry entry = calls.get(id);
            if (!closed && entry != null) {
                settle(entry, entry.call.expire(clock.getAsLong()), new ArrayList<>());
            }
        }
    }

    private void limit(String id) {
        synchronized (lock) {
            Entry entry = calls.get(id);
            if (!closed && entry != null) {
                settle(entry, entry.call.limit(clock.getAsLong(), settings.maxCall()), new ArrayList<>());
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ bookkeeping

    /**
     * Applies an outcome's consequences (under the lock): the devices that left are out of the user index and their
     * graces cancelled; the remaining devices of a call that goes on get a BYE from each; a call that is over drops its
     * timers and is kept for {@link #RETAIN_ENDED}. Enqueues its events.
     *
     * @return the stage of the last event's append (the previous tail when there is none)
     */
    private CompletableFuture<io.parley.core.proto.Message> settle(Entry entry, Call.Outcome outcome,
                                                                  List<Relay> relays) {
        Call call = entry.call;
        for (DeviceAddress d : outcome.left()) {
            if (call.id().equals(userCall.get(d.user())) && call.deviceOf(d.user()).isEmpty()) {
                userCall.remove(d.user());
            }
            cancelGrace(d);
        }
        if (call.isTerminal()) {
            entry.timers.forEach(t -> t.cancel(false));
            entry.timers.clear();
            userCall.values().removeIf(call.id()::equals);
            retain(entry);
        } else if (!outcome.left().isEmpty()) {
            List<DeviceAddress> remaining = call.devices();
            for (DeviceAddress d : outcome.left()) {
                if (!remaining.isEmpty()) {
                    relays.add(new Relay(call.conversation(), d.user(), d.device(), bye(call, d.user(), d.device()),
                            remaining));
                }
            }
        }
        return enqueue(entry, outcome.events());
    }

    /** Appends {@code events} after the call's earlier ones, each once (key {@code call:<id>:<n>}). */
    private CompletableFuture<io.parley.core.proto.Message> enqueue(Entry entry, List<CallEvent> list) {
        if (list.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        for (CallEvent event : list) {
            String key = "call:" + entry.call.id() + ":" + entry.nextEvent++;
            String asUser = event.getBy().isEmpty() ? event.getInitiator() : event.getBy();
            String preview = preview(event);
            entry.tail = entry.tail.handle((m, e) -> null).thenComposeAsync(ignored -> events.append(
                    entry.call.conversation(), asUser, event.getByDevice(), EVENT_TYPE, Any.pack(event), key, preview)
                    .whenComplete((m, e) -> {
                        if (e != null) {
                            LOG.warn("Could not append {} of call {} to {}", event.getState(), event.getCallId(),
                                    entry.call.conversation(), e);
                        }
                    }), appends);
        }
        return entry.tail;
    }

    /** What notification channels show: for RINGING and MISSED only. */
    static String preview(CallEvent event) {
        String video = event.getMedia() == Media.VIDEO ? "video " : "";
        return switch (event.getState()) {
            case RINGING -> "📞 Incoming " + video + "call from " + event.getInitiator();
            case MISSED -> "Missed " + video + "call from " + event.getInitiator();
            default -> null;
        };
    }

    private static Signal bye(Call call, String fromUser, String fromDevice) {
        return Signal.newBuilder().setCallId(call.id()).setFromUser(fromUser).setFromDevice(fromDevice)
                .setKind(Kind.BYE).build();
    }

    private void relay(List<Relay> relays) {
        for (Relay r : relays) {
            try {
                events.relay(r.conversation(), r.fromUser(), r.fromDevice(), SIGNAL_TYPE, Any.pack(r.signal()), r.to());
            } catch (RuntimeException e) {
                LOG.warn("Could not relay {} of call {} to {}", r.signal().getKind(), r.signal().getCallId(), r.to(), e);
            }
        }
    }

    /** @throws ParleyException NOT_FOUND "no such call" for an unknown id and for a caller outside its conversation */
    private Entry memberEntry(CommandContext ctx, String callId) {
        if (callId.isEmpty()) {
            throw CallRefusal.invalid("call_id is required");
        }
        Entry entry;
        synchronized (lock) {
            checkOpen();
            entry = calls.get(callId);
        }
        if (entry == null) {
            throw CallRefusal.noSuchCall();
        }
        try {
            ctx.members(entry.call.conversation());
        } catch (ParleyException e) {
            if (e.code() == ErrorCode.ERROR_CODE_NOT_FOUND) {
                throw CallRefusal.noSuchCall();
            }
            throw e;
        }
        return entry;
    }

    /** The RINGING (or BUSY) event could not be appended: the call never existed for anyone. */
    private void abandon(Entry entry) {
        synchronized (lock) {
            calls.remove(entry.call.id(), entry);
            userCall.values().removeIf(entry.call.id()::equals);
            entry.timers.forEach(t -> t.cancel(false));
            for (DeviceAddress d : entry.call.devices()) {
                cancelGrace(d);
            }
        }
    }

    private void retain(Entry entry) {
        String id = entry.call.id();
        schedule(() -> {
            synchronized (lock) {
                calls.remove(id, entry);
            }
        }, RETAIN_ENDED);
    }

    private void cancelGrace(DeviceAddress d) {
        ScheduledFuture<?> f = graces.remove(d);
        if (f != null) {
            f.cancel(false);
        }
    }

    private ScheduledFuture<?> schedule(Runnable task, Duration delay) {
        return timer.schedule(() -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.warn("A call timer failed", e);
            }
        }, delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void checkOpen() {
        if (closed) {
            throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the call service is stopping", true);
        }
    }

    private static <T extends Message> T parse(Any payload, Class<T> type, T defaultInstance) {
        if (payload.equals(Any.getDefaultInstance())) {
            return defaultInstance;
        }
        if (!payload.is(type)) {
            throw CallRefusal.invalid("the payload must be a " + defaultInstance.getDescriptorForType().getFullName());
        }
        try {
            return payload.unpack(type);
        } catch (InvalidProtocolBufferException e) {
            throw CallRefusal.invalid("the payload does not parse as a "
                    + defaultInstance.getDescriptorForType().getFullName());
        }
    }

    /** @return the live calls' count (for tests and logs) */
    int liveCalls() {
        synchronized (lock) {
            return (int) calls.values().stream().filter(e -> !e.call.isTerminal()).count();
        }
    }

    /** @return true once {@link #close} has stopped the timer thread */
    boolean isTerminated() {
        return timer.isTerminated();
    }

    /**
     * Cancels every timer and stops the timer thread (waiting up to 5 s for a running task), then ends every live call
     * (ENDED, or CANCELLED if unanswered, "the call service stopped"; appended best effort, not waited for).
     * Idempotent.
     */
    @Override
    public void close() {
        List<Entry> live = new ArrayList<>();
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            for (Entry e : calls.values()) {
                if (!e.call.isTerminal()) {
                    live.add(e);
                }
            }
            graces.clear();
        }
        timer.shutdownNow();
        try {
            if (!timer.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("The call timer thread did not stop within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long now = clock.getAsLong();
        for (Entry e : live) {
            Call.Outcome out = e.call.limit(now, Duration.ZERO);
            for (CallEvent event : out.events()) {
                boolean answered = e.call.acceptedAt() > 0;
                CallEvent stopped = event.toBuilder().setState(answered ? State.ENDED : State.CANCELLED)
                        .setBy(answered ? "" : e.call.initiator()).setReason("the call service stopped").build();
                String key = "call:" + e.call.id() + ":" + e.nextEvent++;
                try {
                    events.append(e.call.conversation(), stopped.getInitiator(), "", EVENT_TYPE, Any.pack(stopped),
                            key, null);
                } catch (RuntimeException ex) {
                    LOG.debug("Could not end call {} on stopping", e.call.id(), ex);
                }
            }
        }
        synchronized (lock) {
            calls.clear();
            userCall.clear();
        }
        if (!live.isEmpty()) {
            LOG.info("Call service stopped: {} live call(s) ended", live.size());
        }
    }
}
