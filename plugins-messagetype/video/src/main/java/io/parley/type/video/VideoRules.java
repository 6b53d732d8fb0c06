package io.parley.type.video;

import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.support.ObjectClaims;
import io.parley.type.support.ObjectRules;
import io.parley.type.video.proto.Video;

import java.util.List;

/**
 * The checks of a video body that need nothing but its fields and the settings (no blob store). Pure, thread-safe;
 * each returns null when acceptable, else the refusal sent to the client.
 */
final class VideoRules {

    /** The content types a clip may have, without parameters. */
    static final List<String> CONTENT_TYPES = List.of("video/mp4", "video/webm");
    /** The content types a poster may have. */
    static final List<String> POSTER_TYPES = List.of("image/jpeg", "image/png");

    private VideoRules() {
    }

    static ObjectClaims.Named clip(Video body) {
        return new ObjectClaims.Named(body.getKey(), body.getSize(), body.getContentType(), body.getSha256());
    }

    static ObjectClaims.Named poster(Video body) {
        return new ObjectClaims.Named(body.getPosterKey(), body.getPosterSize(), body.getPosterContentType(),
                body.getPosterSha256());
    }

    static ProcessResult check(Video body, String sender, VideoSettings settings) {
        String named = ObjectRules.checkNamed("key", clip(body), sender);
        if (named == null) {
            named = ObjectRules.checkNamed("poster_key", poster(body), sender);
        }
        if (named != null) {
            return invalid(named);
        }
        if (body.getPosterKey().equals(body.getKey())) {
            return invalid("poster_key must name another upload than key");
        }
        if (!CONTENT_TYPES.contains(body.getContentType())) {
            return invalid("content_type must be one of " + String.join(", ", CONTENT_TYPES)
                    + " (without parameters), not " + body.getContentType());
        }
        if (!POSTER_TYPES.contains(body.getPosterContentType())) {
            return invalid("poster_content_type must be one of " + String.join(", ", POSTER_TYPES) + ", not "
                    + body.getPosterContentType());
        }
        if (body.getSize() > settings.maxBytes()) {
            return tooLarge("size: the clip has " + body.getSize() + " bytes; this server takes at most "
                    + settings.maxBytes() + " (max.bytes)");
        }
        if (body.getPosterSize() > settings.posterMaxBytes()) {
            return tooLarge("poster_size: the poster has " + body.getPosterSize() + " bytes; this server takes at most "
                    + settings.posterMaxBytes() + " (poster.max.bytes)");
        }
        return null;
    }

    /** @return null if a clip of this duration and frame size is accepted, else the refusal */
    static ProcessResult checkClip(long durationMs, int width, int height, VideoSettings settings) {
        if (durationMs < 1) {
            return invalid("duration_ms: the clip's container says it lasts 0 ms");
        }
        if (durationMs > settings.maxDuration().toMillis()) {
            return tooLarge("duration_ms: the clip lasts " + durationMs + " ms; this server takes at most "
                    + settings.maxDuration().toSeconds() + " s (max.duration.seconds)");
        }
        if ((long) width * height > settings.maxPixels()) {
            return tooLarge("width x height: the clip is " + width + "x" + height + " pixels; this server takes at "
                    + "most " + settings.maxPixels() + " pixels (max.pixels)");
        }
        return null;
    }

    static ProcessResult invalid(String reason) {
        return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, reason);
    }

    private static ProcessResult tooLarge(String reason) {
        return ProcessResult.reject(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, reason);
    }
}
