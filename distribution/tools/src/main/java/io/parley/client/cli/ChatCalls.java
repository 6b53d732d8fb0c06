package io.parley.client.cli;

import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.CallJoined;
import io.parley.calls.proto.CallStarted;
import io.parley.calls.proto.CallUpdate;
import io.parley.calls.proto.Media;
import io.parley.calls.proto.Participant;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.State;
import io.parley.client.CallEvents;
import io.parley.client.CallListener;
import io.parley.client.Calls;
import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;

import java.io.PrintStream;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The chat's call commands (docs/protocol.md §6i), signalling only — the chat has no microphone or camera, so it
 * never sends media offers; it rings, answers, declines, hangs up and prints the signals it receives:
 * <ul>
 * <li>{@code /call [@user | #group] [video]} calls the user or group (default: the current target), audio unless
 * {@code video}, and prints {@code ✓ calling bob (video) — /hangup to cancel} or {@code bob is busy};</li>
 * <li>{@code /accept} answers the call ringing now and prints who is in it; {@code /reject} declines it;</li>
 * <li>{@code /hangup} leaves (or cancels) the call this device is in.</li>
 * </ul>
 * Call events print in the timeline as {@code [conversation #seq] * 📞 alice is calling (video) — /accept or
 * /reject}, {@code * bob answered}, {@code * call ended 1:23}, {@code * missed call from alice}, …, and signals as
 * {@code [conversation #0] bob: 📶 OFFER from bob/phone (512 bytes)} ({@link #describe}).
 *
 * <p>Threading: the listener runs on the client's event loop, commands on the chat's thread; the two share only
 * volatile fields.
 */
final class ChatCalls implements CallListener {
    private final ParleyClient client;
    private final PrintStream out;
    private final PrintStream err;
    /** The call ringing for this user now (an invitation not yet answered, declined or over), or null. */
    private volatile String ringing;
    /** The call this device is in (placed or joined), or null. */
    private volatile String active;

    ChatCalls(ParleyClient client, PrintStream out, PrintStream err) {
        this.client = client;
        this.out = out;
        this.err = err;
        client.calls().addListener(this);
    }

    /** @return true for the lines this class runs */
    static boolean handles(String line) {
        String word = line.split("\\s+", 2)[0];
        return word.equals("/call") || word.equals("/accept") || word.equals("/reject") || word.equals("/hangup");
    }

    /**
     * Runs a call command and waits for its answer.
     *
     * @param peer  the current target's user, or null
     * @param group the current target's group id, or null
     * @return false if it failed (the reason printed to stderr)
     */
    boolean run(String line, String peer, String group) {
        String[] words = line.split("\\s+");
        try {
            switch (words[0]) {
                case "/call" -> {
                    return call(words, peer, group);
                }
                case "/accept" -> {
                    String id = ringing;
                    if (id == null) {
                        err.println("error: /accept: no call is ringing");
                        return false;
                    }
                    CallJoined joined = client.calls().join(id).get(30, TimeUnit.SECONDS);
                    ringing = null;
                    active = id;
                    StringBuilder with = new StringBuilder();
                    for (Participant p : joined.getParticipantsList()) {
                        with.append(with.length() == 0 ? "" : ", ").append(p.getUser()).append('/').append(p.getDevice());
                    }
                    print(out, "✓ joined call " + id + " (" + Calls.describe(joined.getMedia()) + ") with " + with
                            + " — signalling only: this chat sends no media");
                }
                case "/reject" -> {
                    String id = ringing;
                    if (id == null) {
                        err.println("error: /reject: no call is ringing");
                        return false;
                    }
                    client.calls().reject(id).get(30, TimeUnit.SECONDS);
                    ringing = null;
                    print(out, "✓ declined call " + id);
                }
                case "/hangup" -> {
                    String id = active;
                    if (id == null) {
                        err.println("error: /hangup: this device is in no call");
                        return false;
                    }
                    CallUpdate u = client.calls().hangup(id).get(30, TimeUnit.SECONDS);
                    active = null;
                    print(out, "✓ hung up (" + u.getState().name().toLowerCase(java.util.Locale.ROOT) + ")");
                }
                default -> {
                    return false;
                }
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException | TimeoutException e) {
            err.println("error: " + words[0] + " failed: " + (e.getCause() != null ? e.getCause() : e));
            return false;
        }
    }

    private boolean call(String[] words, String peer, String group)
            throws InterruptedException, ExecutionException, TimeoutException {
        Media media = Media.AUDIO;
        String to = null;
        for (int i = 1; i < words.length; i++) {
            if (words[i].equals("video")) {
                media = Media.VIDEO;
            } else if (words[i].equals("audio")) {
                media = Media.AUDIO;
            } else if (to == null && (words[i].startsWith("@") || words[i].startsWith("#")) && words[i].length() > 1) {
                to = words[i];
            } else {
                err.println("error: usage: /call [@user | #group] [video]");
                return false;
            }
        }
        String user = to != null ? (to.startsWith("@") ? to.substring(1) : null) : peer;
        String groupId = to != null ? (to.startsWith("#") ? to.substring(1) : null) : group;
        if (user == null && groupId == null) {
            err.println("error: /call: whom? /call @user or /call #group (no current target yet)");
            return false;
        }
        CallStarted started = (user != null ? client.calls().start(user, media)
                : client.calls().startIn(Groups.conversationOf(groupId), media, null)).get(30, TimeUnit.SECONDS);
        String whom = user != null ? user : "#" + groupId;
        if (started.getBusy()) {
            print(out, whom + " is busy");
            return true;
        }
        active = started.getCallId();
        print(out, "✓ calling " + whom + " (" + Calls.describe(media) + ") — /hangup to cancel");
        return true;
    }

    // ------------------------------------------------------------------------------------------------ listener

    @Override
    public void onCallEvent(Message message, CallEvent event) {
        String me = client.session() == null ? "" : client.session().getUserId();
        String id = event.getCallId();
        if (event.getState() == State.RINGING && event.getInvitedList().contains(me)) {
            ringing = id;
        } else if (id.equals(ringing) && CallEvents.stopsRinging(event, me)) {
            ringing = null;
        }
        if (id.equals(active) && CallEvents.isTerminal(event.getState())) {
            active = null;
        }
    }

    @Override
    public void onSignal(Message message, Signal signal) {
        // printed with the other deliveries (describe); a BYE to this device means it is out of the call
        if (signal.getKind() == io.parley.calls.proto.Kind.BYE && signal.getFromUser().equals(
                client.session() == null ? "" : client.session().getUserId())
                && signal.getCallId().equals(active)) {
            active = null;
        }
    }

    // ------------------------------------------------------------------------------------------------ printing

    /**
     * @param me the user this chat runs as, or null if unknown (a RINGING then reads as an invitation)
     * @return the line for a call event or a call signal; empty for other messages
     */
    static Optional<String> describe(Message m, String me) {
        Optional<CallEvent> event = CallEvents.of(m);
        if (event.isPresent()) {
            return Optional.of(describe(event.get(), me));
        }
        return CallEvents.signalOf(m).map(s -> "📶 " + s.getKind().name() + " from " + s.getFromUser() + "/"
                + s.getFromDevice() + (s.getData().isEmpty() ? "" : " (" + s.getData().length() + " bytes)"));
    }

    static String describe(CallEvent e, String me) {
        String media = e.getMedia() == Media.VIDEO ? " (video)" : "";
        String from = e.getInitiator();
        return switch (e.getState()) {
            case RINGING -> me == null || e.getInvitedList().contains(me)
                    ? "📞 " + from + " is calling" + (e.getInvitedCount() > 1 ? " " + String.join(", ",
                    e.getInvitedList()) : "") + media + " — /accept or /reject"
                    : "📞 " + from + " is calling " + String.join(", ", e.getInvitedList()) + media;
            case ACCEPTED -> e.getBy() + " answered";
            case REJECTED -> e.getBy() + " declined";
            case BUSY -> e.getBy() + " is busy";
            case CANCELLED -> "call from " + from + " cancelled";
            case MISSED -> "missed call from " + from;
            case ENDED -> "call ended " + duration(e.getDurationMs());
            default -> "call " + e.getCallId() + ": " + e.getState();
        };
    }

    /** @return {@code m:ss}, or {@code h:mm:ss} from an hour */
    static String duration(long ms) {
        long s = ms / 1000;
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format("%d:%02d", s / 60, s % 60);
    }

    private static void print(PrintStream out, String line) {
        synchronized (out) {
            out.println(line);
        }
    }
}
