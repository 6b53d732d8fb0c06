package io.parley.type.voice;

import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.support.ObjectClaims;
import io.parley.type.support.ObjectRules;
import io.parley.type.voice.proto.Voice;

import java.util.List;

/**
 * The checks of a voice body that need nothing but its fields and the settings (no blob store). Pure, thread-safe;
 * each returns null when acceptable, else the refusal sent to the client.
 */
final class VoiceRules {

    /** The content types a clip may have (what browsers' MediaRecorder and phones record), without parameters. */
    static final List<String> CONTENT_TYPES = List.of("audio/mp4", "audio/ogg", "audio/webm");
    static final int MAX_WAVEFORM = 100;

    private VoiceRules() {
    }

    static ObjectClaims.Named clip(Voice body) {
        return new ObjectClaims.Named(body.getKey(), body.getSize(), body.getContentType(), body.getSha256());
    }

    static ProcessResult check(Voice body, String sender, VoiceSettings settings) {
        String named = ObjectRules.checkNamed("key", clip(body), sender);
        if (named != null) {
            return invalid(named);
        }
        if (!CONTENT_TYPES.contains(body.getContentType())) {
            return invalid("content_type must be one of " + String.join(", ", CONTENT_TYPES)
                    + " (without parameters), not " + body.getContentType());
        }
        if (body.getSize() > settings.maxBytes()) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, "size: the clip has " + body.getSize()
                    + " bytes; this server takes at most " + settings.maxBytes() + " (max.bytes)");
        }
        int samples = body.getWaveform().size();
        if (samples < 1 || samples > MAX_WAVEFORM) {
            return invalid("waveform must have 1-" + MAX_WAVEFORM + " samples, not " + samples);
        }
        return null;
    }

    /** @return null if a clip of {@code durationMs} is accepted, else the refusal */
    static ProcessResult checkDuration(long durationMs, VoiceSettings settings) {
        if (durationMs < 1) {
            return invalid("duration_ms: the clip's container says it lasts 0 ms");
        }
        if (durationMs > settings.maxDuration().toMillis()) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, "duration_ms: the clip lasts "
                    + durationMs + " ms; this server takes at most " + settings.maxDuration().toSeconds()
                    + " s (max.duration.seconds)");
        }
        return null;
    }

    static ProcessResult invalid(String reason) {
        return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, reason);
    }
}
