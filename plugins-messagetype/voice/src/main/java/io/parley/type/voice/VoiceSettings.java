package io.parley.type.voice;

import java.time.Duration;

/**
 * What the voice type reads from {@code conf/parley.type.voice.cfg} (PID {@code parley.type.voice}) and from
 * {@code conf/parley.blob.cfg} (PID {@code parley.blob}), checked. Immutable.
 *
 * @param maxBytes    the largest clip accepted ({@code max.bytes})
 * @param maxDuration the longest clip accepted ({@code max.duration.seconds}), as read from its container
 * @param orphanAge   {@code orphan.hours} of {@code parley.blob}: uploads not sent within it are collected
 */
public record VoiceSettings(long maxBytes, Duration maxDuration, Duration orphanAge) {

    public VoiceSettings {
        require(maxBytes > 0, "max.bytes must be positive");
        require(maxDuration.toSeconds() >= 1 && maxDuration.toSeconds() <= 86_400,
                "max.duration.seconds must be 1-86400");
        require(orphanAge.compareTo(Duration.ofHours(2)) >= 0, "orphan.hours must be at least 2");
    }

    /** An upload must be sent in a message this long after its ticket, so the sweep never races a send. */
    Duration sendWithin() {
        return orphanAge.minusHours(1);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
