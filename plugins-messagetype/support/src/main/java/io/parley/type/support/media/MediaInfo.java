package io.parley.type.support.media;

/**
 * What {@link MediaProbe} read from a container.
 *
 * @param container  {@code webm}, {@code ogg} or {@code mp4}
 * @param durationMs how long it plays, in milliseconds (from the container's own fields, see {@link MediaProbe})
 * @param hasAudio   true if it has an audio track
 * @param hasVideo   true if it has a video track
 * @param width      the first video track's width in pixels (0 without video)
 * @param height     the first video track's height in pixels (0 without video)
 */
public record MediaInfo(String container, long durationMs, boolean hasAudio, boolean hasVideo, int width, int height) {
}
