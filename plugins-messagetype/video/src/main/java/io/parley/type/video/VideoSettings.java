package io.parley.type.video;

import java.time.Duration;

/**
 * What the video type reads from {@code conf/parley.type.video.cfg} (PID {@code parley.type.video}) and from
 * {@code conf/parley.blob.cfg} (PID {@code parley.blob}), checked. Immutable.
 *
 * @param maxBytes       the largest clip accepted ({@code max.bytes})
 * @param maxDuration    the longest clip accepted ({@code max.duration.seconds}), as read from its container
 * @param maxPixels      the largest frame (width × height) of the clip and of the poster ({@code max.pixels})
 * @param posterMaxBytes the largest poster accepted ({@code poster.max.bytes})
 * @param orphanAge      {@code orphan.hours} of {@code parley.blob}: uploads not sent within it are collected
 */
public record VideoSettings(long maxBytes, Duration maxDuration, long maxPixels, long posterMaxBytes,
                            Duration orphanAge) {

    public VideoSettings {
        require(maxBytes > 0, "max.bytes must be positive");
        require(maxDuration.toSeconds() >= 1 && maxDuration.toSeconds() <= 86_400,
                "max.duration.seconds must be 1-86400");
        require(maxPixels >= 64 * 64, "max.pixels must be at least 4096");
        require(posterMaxBytes >= 1024 && posterMaxBytes <= 64L << 20, "poster.max.bytes must be 1024-67108864");
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
