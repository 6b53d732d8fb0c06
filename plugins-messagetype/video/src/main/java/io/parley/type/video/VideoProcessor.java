package io.parley.type.video;

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
import io.parley.type.support.ImageHeaders;
import io.parley.type.support.ObjectClaims;
import io.parley.type.support.media.MediaInfo;
import io.parley.type.support.media.MediaProbe;
import io.parley.type.support.media.MediaRefused;
import io.parley.type.support.media.MediaSource;
import io.parley.type.video.proto.Video;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The processor of {@code video} messages: checks the body's fields, then on the bundle's workers that the clip and
 * the poster are the sender's matching uploads not sent before ({@link ObjectClaims}, shared with the file type),
 * reads the clip's duration and frame size from its container ({@link MediaProbe}: bounded) and the poster's size from
 * its header ({@link ImageHeaders}: nothing is decoded), claims both (the first claim is undone if the second fails),
 * and stores the body with the server's values. A recall deletes clip and poster ({@link #released}).
 *
 * <p>Threading: {@link #process} and {@link #released} return at once; blob I/O and parsing run on {@code io}.
 * Thread-safe; each call uses the settings and store current when it starts.
 */
final class VideoProcessor implements MessageProcessor {

    static final String TYPE = "video";
    private static final Logger LOG = LoggerFactory.getLogger(VideoProcessor.class);

    private final Supplier<VideoSettings> settings;
    private final BlobWorkers workers;
    private final ObjectClaims claims;

    VideoProcessor(Supplier<VideoSettings> settings, Supplier<Optional<BlobStore>> store, Executor io, Clock clock) {
        this.settings = settings;
        this.workers = new BlobWorkers(store, io, LOG, "too many video messages in progress");
        this.claims = new ObjectClaims(() -> settings.get().sendWithin(), io, clock, LOG);
    }

    @Override
    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
        Video body;
        try {
            body = draft.getBody().unpack(Video.class);
        } catch (InvalidProtocolBufferException e) {
            return done(VideoRules.invalid("the body is not a parley.video.v1.Video"));
        }
        VideoSettings s = settings.get();
        ProcessResult refused = VideoRules.check(body, draft.getSender(), s);
        if (refused != null) {
            return done(refused);
        }
        ObjectClaims.Named clip = VideoRules.clip(body);
        ObjectClaims.Named poster = VideoRules.poster(body);
        return workers.onStore(blobs -> {
            // everything but the claims, before anything is read: nothing is parsed that could not be sent
            String mismatch = claims.matches(blobs, clip);
            if (mismatch == null) {
                mismatch = claims.sendable(blobs, draft, clip.key());
            }
            String posterMismatch = claims.matches(blobs, poster);
            if (posterMismatch == null) {
                posterMismatch = claims.sendable(blobs, draft, poster.key());
            }
            if (mismatch != null || posterMismatch != null) {
                return VideoRules.invalid(mismatch != null ? mismatch : "poster: " + posterMismatch);
            }
            MediaInfo media;
            try {
                media = MediaProbe.probe(MediaSource.of(blobs, stat(blobs, clip.key())), clip.contentType());
            } catch (MediaRefused e) {
                return VideoRules.invalid("the clip cannot be read as " + clip.contentType() + ": " + e.getMessage());
            }
            if (!media.hasVideo()) {
                return VideoRules.invalid("the clip has no video track");
            }
            ProcessResult clipRefused = VideoRules.checkClip(media.durationMs(), media.width(), media.height(), s);
            if (clipRefused != null) {
                return clipRefused;
            }
            int[] posterSize;
            try {
                posterSize = posterSize(blobs, poster, s.maxPixels());
            } catch (ImageHeaders.ImageRefused e) {
                return VideoRules.invalid("poster: " + e.getMessage());
            }
            String notClaimed = claims.claim(blobs, draft, clip);
            if (notClaimed == null) {
                String posterNotClaimed = claims.claim(blobs, draft, poster);
                if (posterNotClaimed != null) {
                    claims.unclaim(blobs, draft, clip.key()); // both or neither: the clip stays sendable
                    notClaimed = "poster: " + posterNotClaimed;
                }
            }
            if (notClaimed != null) {
                return VideoRules.invalid(notClaimed);
            }
            claims.settle(blobs, clip);
            claims.settle(blobs, poster);
            Video stored = body.toBuilder().setDurationMs(media.durationMs()).setWidth(media.width())
                    .setHeight(media.height()).setPosterWidth(posterSize[0]).setPosterHeight(posterSize[1]).build();
            return ProcessResult.store(draft.toBuilder().setBody(Any.pack(stored)).build(),
                    "🎬 Video (" + MediaProbe.clock(media.durationMs()) + ")");
        });
    }

    private static BlobStore.Info stat(BlobStore blobs, String key) throws IOException {
        return blobs.stat(key).orElseThrow(() -> new ParleyException(ErrorCode.ERROR_CODE_INVALID_BODY,
                "no uploaded object under key " + key));
    }

    /** @return the poster's width and height, from its header (its type checked against the header's format) */
    private static int[] posterSize(BlobStore blobs, ObjectClaims.Named poster, long maxPixels)
            throws IOException, ImageHeaders.ImageRefused {
        try (InputStream in = blobs.open(poster.key(), 0).orElseThrow(() -> new ParleyException(
                ErrorCode.ERROR_CODE_INVALID_BODY, "no uploaded object under key " + poster.key()))) {
            return ImageHeaders.dimensions(in, poster.contentType(), maxPixels);
        }
    }

    @Override
    public Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.of(Video.getDescriptor());
    }

    /** Deletes the clip and the poster a recalled video message named, and their claims. */
    @Override
    public CompletionStage<Void> released(Message original) {
        Video body;
        try {
            body = original.getBody().unpack(Video.class);
        } catch (InvalidProtocolBufferException e) {
            return CompletableFuture.completedFuture(null);
        }
        return workers.onStore(blobs -> {
            boolean deleted = ObjectClaims.release(blobs, body.getKey(), original.getSender());
            ObjectClaims.release(blobs, body.getPosterKey(), original.getSender());
            LOG.info("Recalled video message {} in {}: clip {} {}", original.getSeq(), original.getConversation(),
                    body.getKey(), deleted ? "deleted" : "was already gone");
            return null;
        });
    }

    private static CompletionStage<ProcessResult> done(ProcessResult result) {
        return CompletableFuture.completedFuture(result);
    }
}
