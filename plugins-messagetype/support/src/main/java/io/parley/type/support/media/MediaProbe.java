package io.parley.type.support.media;

import java.io.IOException;
import java.util.Locale;

/**
 * Reads how long an audio or video object plays, and a video's size, from its container's own fields — never from
 * what a client says — by bounded parsing through a {@link MediaSource}: WebM ({@code audio/webm}, {@code video/webm};
 * see {@link Webm}), Ogg Opus/Vorbis ({@code audio/ogg}; {@link Ogg}) and MP4 ({@code audio/mp4}, {@code video/mp4};
 * {@link Mp4}). A file that is not of its declared container, is malformed or truncated, or would take more than
 * {@value #MAX_BYTES} bytes or {@value #MAX_OPENS} reads to parse is refused with a reason for the client. Nothing is
 * allocated from a length the file declares, nothing recurses on the file's nesting, and every loop is bounded, so a
 * hostile file costs bounded I/O and memory and ends quickly.
 *
 * <p>Stateless and thread-safe; blocks on the source (call it from a bundle's workers).
 */
public final class MediaProbe {

    /** The most bytes one probe reads from its source. */
    public static final long MAX_BYTES = 64L << 20;
    /** The most times one probe opens its source (one ranged read each). */
    public static final int MAX_OPENS = 4096;

    private MediaProbe() {
    }

    /**
     * @param contentType the declared type, {@code type/subtype} without parameters: {@code audio/webm},
     *                    {@code video/webm}, {@code audio/ogg}, {@code audio/mp4} or {@code video/mp4}
     * @return what the container says
     * @throws MediaRefused         if the object is not a readable container of that type (the reason is for the
     *                              client)
     * @throws IOException          if the source cannot be read
     * @throws IllegalArgumentException for another content type
     */
    public static MediaInfo probe(MediaSource source, String contentType) throws IOException, MediaRefused {
        RangeReader r = new RangeReader(source, MAX_BYTES, MAX_OPENS);
        return switch (contentType.toLowerCase(Locale.ROOT)) {
            case "audio/webm", "video/webm" -> new Webm(r).parse();
            case "audio/ogg" -> new Ogg(r).parse();
            case "audio/mp4", "video/mp4" -> new Mp4(r).parse();
            default -> throw new IllegalArgumentException("no container parser for " + contentType);
        };
    }

    /** @return {@code ms} for people, rounded to the second: {@code 0:07}, {@code 4:59}, {@code 1:02:03} */
    public static String clock(long ms) {
        long seconds = Math.max(0, (ms + 500) / 1000);
        long h = seconds / 3600;
        long m = seconds / 60 % 60;
        long sec = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec)
                : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }
}
