package io.parley.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
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
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.TurnCredentials;
import io.parley.calls.proto.TurnRequest;
import io.parley.core.proto.CommandResult;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;

import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Voice and video call signalling (docs/protocol.md §6i), obtained from {@link ParleyClient#calls()}: the
 * {@code call.*} commands as futures of their answers, and the {@link CallListener}s that receive call events and the
 * signals relayed to this device. The media itself (WebRTC) is the application's: this class carries what the peers
 * need to find each other.
 *
 * <p>A typical callee: on a RINGING event (its user in {@code invited}) ring; {@link #join} to answer, then answer
 * each OFFER that arrives with an ANSWER ({@link #signal}) from the peer connection. A joiner sends an OFFER to every
 * participant its {@link CallJoined} lists ("the joiner offers"). Stop ringing when
 * {@link CallEvents#stopsRinging} says so.
 *
 * <p>Futures fail like {@link ParleyClient#command}: with {@link ParleyClientException} carrying the server's code
 * ({@code NOT_FOUND} "no such call", {@code FORBIDDEN}, {@code CONFLICT} "the call already ended", …), or
 * {@code UNSUPPORTED_COMMAND} when the server has no call bundle. Thread-safe; listeners are called on the client's
 * event loop.
 *
 * @since 1.7
 */
public final class Calls {
    private final ParleyClient client;
    private final List<CallListener> listeners = new CopyOnWriteArrayList<>();

    Calls(ParleyClient client) {
        this.client = client;
    }

    /** Adds a listener for call events and signals; it receives what arrives from now on. */
    public Calls addListener(CallListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
        return this;
    }

    public void removeListener(CallListener listener) {
        listeners.remove(listener);
    }

    /** Calls {@code peer} (their 1:1 conversation); the answer may be {@code busy}. */
    public CompletableFuture<CallStarted> start(String peer, Media media) {
        return start(CallStart.newBuilder().setPeer(peer).setMedia(media).build());
    }

    /**
     * Calls the members of {@code conversation} (a group's {@code g:…}, or a 1:1 {@code d:…}).
     *
     * @param invite for a group, the members to ring; empty: every other member
     */
    public CompletableFuture<CallStarted> startIn(String conversation, Media media, Collection<String> invite) {
        return start(CallStart.newBuilder().setConversation(conversation).setMedia(media)
                .addAllInvite(invite == null ? List.of() : invite).build());
    }

    public CompletableFuture<CallStarted> start(CallStart request) {
        return run("call.start", request, CallStarted.class);
    }

    /** Answers (or rejoins) the call on this device. */
    public CompletableFuture<CallJoined> join(String callId) {
        return run("call.join", CallJoin.newBuilder().setCallId(callId).build(), CallJoined.class);
    }

    public CompletableFuture<CallUpdate> reject(String callId) {
        return run("call.reject", CallReject.newBuilder().setCallId(callId).build(), CallUpdate.class);
    }

    /** Leaves the call (the initiator of an unanswered call cancels it); idempotent on a call that is over. */
    public CompletableFuture<CallUpdate> hangup(String callId) {
        return run("call.hangup", CallHangup.newBuilder().setCallId(callId).build(), CallUpdate.class);
    }

    /**
     * Relays a signal to one device in the call.
     *
     * @param token this device's room token, from its {@link CallStarted} or latest {@link CallJoined}
     * @param data  the SDP, or the ICE candidate as JSON; at most 16 KiB
     */
    public CompletableFuture<Void> signal(String callId, String toUser, String toDevice, Kind kind, String data,
                                          String token) {
        CallSignal s = CallSignal.newBuilder().setCallId(callId).setToUser(toUser).setToDevice(toDevice).setKind(kind)
                .setData(data == null ? "" : data).setToken(token == null ? "" : token).build();
        return client.command("call.signal", Any.pack(s), null).thenApply(r -> null);
    }

    /** Fresh ICE servers and TURN credentials, for a call that outlasts the first ones. */
    public CompletableFuture<TurnCredentials> turn() {
        return run("call.turn", TurnRequest.getDefaultInstance(), TurnCredentials.class);
    }

    private <T extends com.google.protobuf.Message> CompletableFuture<T> run(String type,
            com.google.protobuf.Message payload, Class<T> answer) {
        return client.command(type, Any.pack(payload), null).thenApply(result -> unpack(result, answer, type));
    }

    private static <T extends com.google.protobuf.Message> T unpack(CommandResult result, Class<T> answer,
                                                                    String type) {
        try {
            return result.getPayload().unpack(answer);
        } catch (InvalidProtocolBufferException e) {
            throw new CompletionException(new ParleyClientException(ErrorCode.ERROR_CODE_INTERNAL,
                    "the server's " + type + " answer does not parse: " + e.getMessage(), false, 0));
        }
    }

    /** A delivered message: call events and signals go to the listeners (on the event loop). */
    void onMessage(Message m) {
        if (listeners.isEmpty()) {
            return;
        }
        Optional<CallEvent> event = CallEvents.of(m);
        if (event.isPresent()) {
            for (CallListener l : listeners) {
                safely(() -> l.onCallEvent(m, event.get()));
            }
            return;
        }
        Optional<Signal> signal = CallEvents.signalOf(m);
        if (signal.isPresent()) {
            for (CallListener l : listeners) {
                safely(() -> l.onSignal(m, signal.get()));
            }
        }
    }

    private static void safely(Runnable r) {
        try {
            r.run();
        } catch (Throwable t) {
            System.getLogger(Calls.class.getName()).log(System.Logger.Level.WARNING, "call listener failed", t);
        }
    }

    /** @return the media a call event or answer names, for display: "video" or "audio" */
    public static String describe(Media media) {
        return media == Media.VIDEO ? "video" : "audio";
    }
}
