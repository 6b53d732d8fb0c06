package io.parley.client;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Voice and video messages (docs/protocol.md §6h): the message types {@value #VOICE_TYPE} and {@value #VIDEO_TYPE},
 * their bodies, and what a client needs to show them. The clip (and a video's poster, a still frame as JPEG or PNG)
 * is uploaded like a file ({@link ParleyClient#requestUpload}, {@link ParleyClient#upload}); the message names the
 * uploads ({@link #voiceBody}, {@link #videoBody}; or all steps in one: {@link ParleyClient#sendVoice},
 * {@link ParleyClient#sendVideo}). The server reads the duration (and a video's frame size, and its poster's size)
 * from the files themselves and stores those values, whatever the client put there. A recipient reads the message
 * with {@link #of(Message)} and fetches the clip with {@link ParleyClient#download(Attachments.Attachment, Path,
 * ProgressListener)} of {@link Media#clip()} (the poster's URL is the {@code thumbnailUrl} of
 * {@link ParleyClient#downloadTicket}). Stateless and thread-safe.
 *
 * <p>The bodies ({@code parley.voice.v1.Voice}, {@code parley.video.v1.Video}) are generated at build time from the
 * voice and video bundles' own {@code .proto} files into a private copy here.
 *
 * @since 1.7
 */
public final class MediaMessages {
    /** The message type of a voice message. */
    public static final String VOICE_TYPE = "voice";
    /** The message type of a video message. */
    public static final String VIDEO_TYPE = "video";
    /** The type URL of a packed {@code parley.voice.v1.Voice}. */
    public static final String VOICE_TYPE_URL = "type.googleapis.com/parley.voice.v1.Voice";
    /** The type URL of a packed {@code parley.video.v1.Video}. */
    public static final String VIDEO_TYPE_URL = "type.googleapis.com/parley.video.v1.Video";
    /** The most waveform samples a voice message carries. */
    public static final int MAX_WAVEFORM = 100;

    private MediaMessages() {
    }

    /** A voice or a video message, as {@link #of(Message)} reads it. */
    public sealed interface Media permits Voice, Video {
        /** @return the message's conversation */
        String conversation();

        /** @return the message's seq */
        long seq();

        /** @return how long the clip plays, in milliseconds, as the server read it from the clip */
        long durationMs();

        /**
         * @return the clip as an attachment named {@code voice-<seq>.<ext>} or {@code video-<seq>.<ext>}, for
         *     {@link ParleyClient#download(Attachments.Attachment, Path, ProgressListener)} (which checks size and
         *     SHA-256)
         */
        Attachments.Attachment clip();
    }

    /**
     * A voice message.
     *
     * @param waveform 1-100 amplitudes, 0 (silence) to 255, evenly spread over the clip, as the sender computed them
     */
    public record Voice(String conversation, long seq, String key, long size, String contentType, String sha256,
                        long durationMs, List<Integer> waveform) implements Media {
        public Voice {
            waveform = List.copyOf(waveform);
        }

        @Override
        public Attachments.Attachment clip() {
            return new Attachments.Attachment(conversation, seq, VOICE_TYPE, key,
                    "voice-" + seq + extension(contentType), size, contentType, sha256, 0, 0, "", 0, 0);
        }
    }

    /**
     * A video message. {@code width}, {@code height} and {@code durationMs} were read by the server from the clip,
     * {@code posterWidth} and {@code posterHeight} from the poster.
     */
    public record Video(String conversation, long seq, String key, long size, String contentType, String sha256,
                        long durationMs, int width, int height, String posterKey, long posterSize,
                        String posterContentType, String posterSha256, int posterWidth, int posterHeight)
            implements Media {
        @Override
        public Attachments.Attachment clip() {
            return new Attachments.Attachment(conversation, seq, VIDEO_TYPE, key,
                    "video-" + seq + extension(contentType), size, contentType, sha256, width, height, posterKey,
                    posterWidth, posterHeight);
        }
    }

    /** @return true if {@code m} is a {@value #VOICE_TYPE} or {@value #VIDEO_TYPE} message */
    public static boolean isMedia(Message m) {
        return VOICE_TYPE.equals(m.getType()) || VIDEO_TYPE.equals(m.getType());
    }

    /**
     * @return the voice or video message {@code m} is; empty for any other message (a recalled one's tombstone
     *     included), or if the body does not parse
     */
    public static Optional<Media> of(Message m) {
        try {
            if (VOICE_TYPE.equals(m.getType()) && VOICE_TYPE_URL.equals(m.getBody().getTypeUrl())) {
                io.parley.type.voice.proto.Voice v = io.parley.type.voice.proto.Voice.parseFrom(m.getBody().getValue());
                return Optional.of(new Voice(m.getConversation(), m.getSeq(), v.getKey(), v.getSize(),
                        v.getContentType(), v.getSha256(), v.getDurationMs(), listOf(v.getWaveform().toByteArray())));
            }
            if (VIDEO_TYPE.equals(m.getType()) && VIDEO_TYPE_URL.equals(m.getBody().getTypeUrl())) {
                io.parley.type.video.proto.Video v = io.parley.type.video.proto.Video.parseFrom(m.getBody().getValue());
                return Optional.of(new Video(m.getConversation(), m.getSeq(), v.getKey(), v.getSize(),
                        v.getContentType(), v.getSha256(), v.getDurationMs(), v.getWidth(), v.getHeight(),
                        v.getPosterKey(), v.getPosterSize(), v.getPosterContentType(), v.getPosterSha256(),
                        v.getPosterWidth(), v.getPosterHeight()));
            }
        } catch (InvalidProtocolBufferException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /**
     * @param clip     the uploaded clip: {@code audio/webm}, {@code audio/ogg} or {@code audio/mp4}
     * @param waveform 1-{@value #MAX_WAVEFORM} amplitudes 0-255 (e.g. {@link #waveform(short[], int)})
     * @return the body of a {@value #VOICE_TYPE} message naming {@code clip}; the server fills in the duration
     * @throws IllegalArgumentException if {@code waveform} has no sample or more than {@value #MAX_WAVEFORM}
     */
    public static Any voiceBody(Attachments.Upload clip, byte[] waveform) {
        Objects.requireNonNull(clip, "clip");
        if (waveform.length < 1 || waveform.length > MAX_WAVEFORM) {
            throw new IllegalArgumentException("a waveform has 1-" + MAX_WAVEFORM + " samples, not " + waveform.length);
        }
        return Any.pack(io.parley.type.voice.proto.Voice.newBuilder().setKey(clip.key()).setSize(clip.size())
                .setContentType(clip.contentType()).setSha256(clip.sha256()).setWaveform(ByteString.copyFrom(waveform))
                .build());
    }

    /**
     * @param clip   the uploaded clip: {@code video/webm} or {@code video/mp4}
     * @param poster the uploaded poster, a still frame: {@code image/jpeg} or {@code image/png}
     * @return the body of a {@value #VIDEO_TYPE} message naming both; the server fills in duration and sizes
     */
    public static Any videoBody(Attachments.Upload clip, Attachments.Upload poster) {
        Objects.requireNonNull(clip, "clip");
        Objects.requireNonNull(poster, "poster");
        return Any.pack(io.parley.type.video.proto.Video.newBuilder().setKey(clip.key()).setSize(clip.size())
                .setContentType(clip.contentType()).setSha256(clip.sha256()).setPosterKey(poster.key())
                .setPosterSize(poster.size()).setPosterContentType(poster.contentType())
                .setPosterSha256(poster.sha256()).build());
    }

    /**
     * A waveform of decoded audio: the clip cut into {@code samples} equal parts, each part's peak amplitude scaled to
     * 0-255 (full scale is 255).
     *
     * @param pcm     16-bit samples (one channel, or the channels interleaved)
     * @param samples 1-{@value #MAX_WAVEFORM}
     * @return {@code samples} amplitudes (fewer if {@code pcm} is shorter; one 0 for no audio)
     */
    public static byte[] waveform(short[] pcm, int samples) {
        if (samples < 1 || samples > MAX_WAVEFORM) {
            throw new IllegalArgumentException("samples must be 1-" + MAX_WAVEFORM + ": " + samples);
        }
        int n = Math.max(1, Math.min(samples, pcm.length));
        byte[] out = new byte[n];
        for (int i = 0; i < n && pcm.length > 0; i++) {
            int from = (int) ((long) i * pcm.length / n);
            int to = (int) ((long) (i + 1) * pcm.length / n);
            int peak = 0;
            for (int k = from; k < to; k++) {
                peak = Math.max(peak, Math.abs((int) pcm[k]));
            }
            out[i] = (byte) Math.min(255, peak * 255 / 32767);
        }
        return out;
    }

    /**
     * @return the voice content type usual for {@code fileName}'s extension: {@code audio/webm} (webm, weba),
     *     {@code audio/ogg} (ogg, oga, opus), {@code audio/mp4} (m4a, mp4, aac); empty for another
     */
    public static Optional<String> voiceContentTypeOf(String fileName) {
        return Optional.ofNullable(switch (extensionOf(fileName)) {
            case "webm", "weba" -> "audio/webm";
            case "ogg", "oga", "opus" -> "audio/ogg";
            case "m4a", "mp4", "aac" -> "audio/mp4";
            default -> null;
        });
    }

    /** @return {@code video/webm} (webm) or {@code video/mp4} (mp4, m4v) for {@code fileName}'s extension, or empty */
    public static Optional<String> videoContentTypeOf(String fileName) {
        return Optional.ofNullable(switch (extensionOf(fileName)) {
            case "webm" -> "video/webm";
            case "mp4", "m4v" -> "video/mp4";
            default -> null;
        });
    }

    /** The steps of {@link ParleyClient#sendVoice}: upload, then a send of {@link #voiceBody}. */
    static CompletableFuture<SendAck> sendVoice(ParleyClient client, Send.Builder to, Path clip, String contentType,
                                                byte[] waveform, ProgressListener progress) {
        Objects.requireNonNull(clip, "clip");
        byte[] wave = waveform.clone();
        if (wave.length < 1 || wave.length > MAX_WAVEFORM) {
            throw new IllegalArgumentException("a waveform has 1-" + MAX_WAVEFORM + " samples, not " + wave.length);
        }
        String type = contentType != null ? contentType : voiceContentTypeOf(nameOf(clip)).orElseThrow(() ->
                new IllegalArgumentException("no voice content type for " + clip + "; name one"));
        String id = client.newClientMsgId();
        return unwrapped(upload(client, clip, type, progress).thenCompose(up -> client.send(to.setClientMsgId(id)
                .setType(VOICE_TYPE).setBody(voiceBody(up, wave)).build())));
    }

    /** The steps of {@link ParleyClient#sendVideo}: upload the poster, the clip, then a send of {@link #videoBody}. */
    static CompletableFuture<SendAck> sendVideo(ParleyClient client, Send.Builder to, Path clip, Path poster,
                                                String contentType, ProgressListener progress) {
        Objects.requireNonNull(clip, "clip");
        Objects.requireNonNull(poster, "poster");
        String type = contentType != null ? contentType : videoContentTypeOf(nameOf(clip)).orElseThrow(() ->
                new IllegalArgumentException("no video content type for " + clip + "; name one"));
        String posterType = Attachments.contentTypeOf(nameOf(poster));
        if (!posterType.equals("image/jpeg") && !posterType.equals("image/png")) {
            throw new IllegalArgumentException("a poster is a .jpg, .jpeg or .png file: " + poster);
        }
        String id = client.newClientMsgId();
        return unwrapped(upload(client, poster, posterType, null).thenCompose(p -> upload(client, clip, type, progress)
                .thenCompose(c -> client.send(to.setClientMsgId(id).setType(VIDEO_TYPE).setBody(videoBody(c, p))
                        .build()))));
    }

    private static CompletableFuture<Attachments.Upload> upload(ParleyClient client, Path file, String contentType,
                                                                ProgressListener progress) {
        long size;
        try {
            size = Files.size(file);
        } catch (java.io.IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        return client.requestUpload(nameOf(file), size, contentType)
                .thenCompose(ticket -> client.upload(ticket, file, progress));
    }

    private static <T> CompletableFuture<T> unwrapped(CompletableFuture<T> f) {
        CompletableFuture<T> out = new CompletableFuture<>();
        f.whenComplete((v, e) -> {
            if (e != null) {
                out.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
            } else {
                out.complete(v);
            }
        });
        return out;
    }

    private static String nameOf(Path file) {
        Path name = file.getFileName();
        if (name == null) {
            throw new IllegalArgumentException("not a file: " + file);
        }
        return name.toString();
    }

    private static String extensionOf(String fileName) {
        int dot = fileName.lastIndexOf('.');
        return dot < 0 ? "" : fileName.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private static String extension(String contentType) {
        return switch (contentType) {
            case "audio/webm", "video/webm" -> ".webm";
            case "audio/ogg" -> ".ogg";
            case "audio/mp4" -> ".m4a";
            case "video/mp4" -> ".mp4";
            default -> "";
        };
    }

    /** @return {@code waveform}'s amplitudes 0-255, unmodifiable */
    static List<Integer> listOf(byte[] waveform) {
        List<Integer> l = new ArrayList<>(waveform.length);
        for (byte b : waveform) {
            l.add(b & 0xff);
        }
        return Collections.unmodifiableList(l);
    }
}
