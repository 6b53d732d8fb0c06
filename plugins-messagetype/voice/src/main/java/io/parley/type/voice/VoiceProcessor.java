package io.parley.type.voice;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.support.BlobWorkers;
import io.parley.type.support.ObjectClaims;
import io.parley.type.support.media.MediaInfo;
import io.parley.type.support.media.MediaProbe;
import io.parley.type.support.media.MediaRefused;
import io.parley.type.support.media.MediaSource;
import io.parley.type.voice.proto.Voice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The processor of {@code voice} messages: checks the body's fields, then on the bundle's workers that the clip is the
 * sender's matching upload not sent before ({@link ObjectClaims}, shared with the file type), reads its duration from
 * its container ({@link MediaProbe}: bounded), claims it, and stores the body with the server's {@code duration_ms}.
 * A recall deletes the clip ({@link #released}).
 *
 * <p>Threading: {@link #process} and {@link #released} return at once; blob I/O and parsing run on {@code io}.
 * Thread-safe; each call uses the settings and store current when it starts.
 */
final class VoiceProcessor implements MessageProcessor {

    static final String TYPE = "voice";
    private static final Logger LOG = LoggerFactory.getLogger(VoiceProcessor.class);

    private final Supplier<VoiceSettings> settings;
    private final BlobWorkers workers;
    private final ObjectClaims claims;

    VoiceProcessor(Supplier<VoiceSettings> settings, Supplier<Optional<BlobStore>> store, Executor io, Clock clock) {
        this.settings = settings;
        this.workers = new BlobWorkers(store, io, LOG, "too many voice messages in progress");
        this.claims = new ObjectClaims(() -> settings.get().sendWithin(), io, clock, LOG);
    }

    @Override
    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
        Voice body;
        try {
            body = draft.getBody().unpack(Voice.class);
        } catch (InvalidProtocolBufferException e) {
            return done(VoiceRules.invalid("the body is not a parley.voice.v1.Voice"));
        }
        VoiceSettings s = settings.get();
        ProcessResult refused = VoiceRules.check(body, draft.getSender(), s);
        if (refused != null) {
            return done(refused);
        }
        ObjectClaims.Named clip = VoiceRules.clip(body);
        return workers.onStore(blobs -> {
            String mismatch = claims.matches(blobs, clip);
            if (mismatch == null) {
                mismatch = claims.sendable(blobs, draft, clip.key()); // before the clip is read
            }
            if (mismatch != null) {
                return VoiceRules.invalid(mismatch);
            }
            MediaInfo media;
            try {
                BlobStore.Info info = blobs.stat(clip.key()).orElseThrow(() -> new ParleyException(
                        ErrorCode.ERROR_CODE_INVALID_BODY, "no uploaded object under key " + clip.key()));
                media = MediaProbe.probe(MediaSource.of(blobs, info), clip.contentType());
            } catch (MediaRefused e) {
                return VoiceRules.invalid("the clip cannot be read as " + clip.contentType() + ": " + e.getMessage());
            }
            if (!media.hasAudio()) {
                return VoiceRules.invalid("the clip has no audio track");
            }
            ProcessResult tooLong = VoiceRules.checkDuration(media.durationMs(), s);
            if (tooLong != null) {
                return tooLong;
            }
            String notClaimed = claims.admit(blobs, draft, clip);
            if (notClaimed != null) {
                return VoiceRules.invalid(notClaimed);
            }
            Voice stored = body.toBuilder().setDurationMs(media.durationMs()).build();
            return ProcessResult.store(draft.toBuilder().setBody(Any.pack(stored)).build(),
                    "🎤 Voice message (" + MediaProbe.clock(media.durationMs()) + ")");
        });
    }

    @Override
    public Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.of(Voice.getDescriptor());
    }

    /** Deletes the clip a recalled voice message named, and its claim. */
    @Override
    public CompletionStage<Void> released(Message original) {
        String key;
        try {
            key = original.getBody().unpack(Voice.class).getKey();
        } catch (InvalidProtocolBufferException e) {
            return CompletableFuture.completedFuture(null);
        }
        return workers.onStore(blobs -> {
            boolean deleted = ObjectClaims.release(blobs, key, original.getSender());
            LOG.info("Recalled voice message {} in {}: clip {} {}", original.getSeq(), original.getConversation(), key,
                    deleted ? "deleted" : "was already gone");
            return null;
        });
    }

    private static CompletionStage<ProcessResult> done(ProcessResult result) {
        return CompletableFuture.completedFuture(result);
    }
}
