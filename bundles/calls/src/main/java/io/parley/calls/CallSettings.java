package io.parley.calls;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * The call service's settings ({@code conf/parley.calls.cfg}, PID {@code parley.calls}), validated: a value out of
 * its range is refused with the key's name, so the component does not start on a bad configuration.
 *
 * @param ringTimeout     an unanswered call is MISSED after this (1 s – 10 min)
 * @param maxParticipants users in one call, the initiator included (2–16)
 * @param leaveGrace      how long a device whose connection dropped stays in the call (0 – 10 min)
 * @param tokenTtl        lifetime of a room token (1 min – 1 day)
 * @param stunUrls        {@code stun:}/{@code stuns:} URLs
 * @param turnUrls        {@code turn:}/{@code turns:} URLs
 * @param turnSecret      coturn's {@code static-auth-secret}; empty: no TURN entry
 * @param turnTtl         lifetime of a TURN credential (1 min – 1 day)
 * @param maxCall         a call still going after this is ENDED (1–48 hours)
 */
record CallSettings(Duration ringTimeout, int maxParticipants, Duration leaveGrace, Duration tokenTtl,
                    List<String> stunUrls, List<String> turnUrls, String turnSecret, Duration turnTtl,
                    Duration maxCall) {

    CallSettings {
        range("ring.timeout.seconds", ringTimeout.toSeconds(), 1, 600);
        range("max.participants", maxParticipants, 2, 16);
        range("leave.grace.seconds", leaveGrace.toSeconds(), 0, 600);
        range("token.seconds", tokenTtl.toSeconds(), 60, 86_400);
        range("turn.ttl.seconds", turnTtl.toSeconds(), 60, 86_400);
        range("max.call.hours", maxCall.toHours(), 1, 48);
        stunUrls = List.copyOf(stunUrls);
        turnUrls = List.copyOf(turnUrls);
        for (String u : stunUrls) {
            if (!u.startsWith("stun:") && !u.startsWith("stuns:")) {
                throw new IllegalArgumentException("stun.urls: not a stun: or stuns: URL: " + u);
            }
        }
        for (String u : turnUrls) {
            if (!u.startsWith("turn:") && !u.startsWith("turns:")) {
                throw new IllegalArgumentException("turn.urls: not a turn: or turns: URL: " + u);
            }
        }
        turnSecret = turnSecret == null ? "" : turnSecret.trim();
        if (!turnSecret.isEmpty() && turnUrls.isEmpty()) {
            throw new IllegalArgumentException("turn.secret is set but turn.urls is empty");
        }
    }

    /** The defaults of {@code conf/parley.calls.cfg}. */
    static CallSettings defaults() {
        return new CallSettings(Duration.ofSeconds(30), 4, Duration.ofSeconds(20), Duration.ofHours(1), List.of(),
                List.of(), "", Duration.ofHours(1), Duration.ofHours(12));
    }

    boolean hasTurn() {
        return !turnSecret.isEmpty();
    }

    /** @return the comma-separated {@code urls}, trimmed, without empty entries */
    static List<String> urls(String urls) {
        return urls == null ? List.of()
                : Arrays.stream(urls.split(",")).map(String::trim).filter(u -> !u.isEmpty()).toList();
    }

    CallSettings withRingTimeout(Duration d) {
        return new CallSettings(d, maxParticipants, leaveGrace, tokenTtl, stunUrls, turnUrls, turnSecret, turnTtl,
                maxCall);
    }

    CallSettings withLeaveGrace(Duration d) {
        return new CallSettings(ringTimeout, maxParticipants, d, tokenTtl, stunUrls, turnUrls, turnSecret, turnTtl,
                maxCall);
    }

    CallSettings withTurn(List<String> stun, List<String> turn, String secret) {
        return new CallSettings(ringTimeout, maxParticipants, leaveGrace, tokenTtl, stun, turn, secret, turnTtl,
                maxCall);
    }

    private static void range(String key, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(key + " must be between " + min + " and " + max + ", not " + value);
        }
    }
}
