package io.parley.type.support;

import com.google.protobuf.Any;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;

import java.io.IOException;
import java.util.Optional;

/**
 * The objects a stored {@code voice} or {@code video} message names, read from its body without the voice and video
 * bundles' generated classes (so the file type's {@code file.download} serves them whether or not those bundles run,
 * and no bundle depends on another). It relies on two field numbers fixed by {@code parley/voice/v1/voice.proto} and
 * {@code parley/video/v1/video.proto} — {@code key = 1} in both, {@code poster_key = 8} in {@code Video} — which those
 * bundles' tests check against their descriptors. Stateless.
 */
public final class MediaBodies {

    /** The message type of a voice message. */
    public static final String VOICE = "voice";
    /** The message type of a video message. */
    public static final String VIDEO = "video";
    /** The type URL of a packed {@code parley.voice.v1.Voice}. */
    public static final String VOICE_TYPE_URL = "type.googleapis.com/parley.voice.v1.Voice";
    /** The type URL of a packed {@code parley.video.v1.Video}. */
    public static final String VIDEO_TYPE_URL = "type.googleapis.com/parley.video.v1.Video";
    /** The field number of {@code key} in {@code Voice} and in {@code Video}. */
    public static final int KEY_FIELD = 1;
    /** The field number of {@code poster_key} in {@code Video}. */
    public static final int POSTER_KEY_FIELD = 8;

    /**
     * The keys a body names.
     *
     * @param key    the clip's key
     * @param poster the poster's key; empty for a voice message
     */
    public record Keys(String key, String poster) {
    }

    private MediaBodies() {
    }

    /**
     * @param type the message's type
     * @return the keys of a {@value #VOICE} or {@value #VIDEO} message's body; empty for another type
     * @throws InvalidProtocolBufferException if the body is not the type's message
     */
    public static Optional<Keys> keysOf(String type, Any body) throws InvalidProtocolBufferException {
        boolean video = VIDEO.equals(type);
        if (!video && !VOICE.equals(type)) {
            return Optional.empty();
        }
        String url = video ? VIDEO_TYPE_URL : VOICE_TYPE_URL;
        if (!url.equals(body.getTypeUrl())) {
            throw new InvalidProtocolBufferException("a " + type + " body must be a " + url);
        }
        String key = "";
        String poster = "";
        CodedInputStream in = body.getValue().newCodedInput();
        try {
            for (int tag; (tag = in.readTag()) != 0; ) {
                int field = WireFormat.getTagFieldNumber(tag);
                boolean string = WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
                if (field == KEY_FIELD && string) {
                    key = in.readStringRequireUtf8();
                } else if (video && field == POSTER_KEY_FIELD && string) {
                    poster = in.readStringRequireUtf8();
                } else if (!in.skipField(tag)) {
                    break;
                }
            }
        } catch (InvalidProtocolBufferException e) {
            throw e;
        } catch (IOException e) {
            throw new InvalidProtocolBufferException(e);
        }
        return Optional.of(new Keys(key, poster));
    }
}
