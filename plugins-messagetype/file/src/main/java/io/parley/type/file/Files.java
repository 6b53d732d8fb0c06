package io.parley.type.file;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.file.proto.DownloadTicket;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;
import io.parley.type.file.proto.UploadRequest;
import io.parley.type.file.proto.UploadTicket;
import io.parley.type.support.BlobKeys;
import io.parley.type.support.BlobLinks;
import io.parley.type.support.BlobListing;
import io.parley.type.support.BlobWorkers;
import io.parley.type.support.ImageHeaders;
import io.parley.type.support.MediaBodies;
import io.parley.type.support.ObjectClaims;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileAlreadyExistsException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The "app server" of seed 000 for attachments: issues upload tickets (with quotas), accepts file and image messages
 * only for complete uploads of their sender that match ({@link ObjectClaims}, shared with the voice and video types),
 * hands out download URLs to members (of file, image, voice and video messages), deletes what recalled file and image
 * messages referred to and collects uploads never sent (whatever type they were uploaded for). The key layout is
 * {@link BlobKeys}'.
 *
 * <p>Threading: every public method returns at once; blob store I/O and image decoding run on {@code io} (the
 * bundle's workers), so callers on core workers never block. Thread-safe; settings and the store may change at any
 * time (each call uses the ones it started with). One user's tickets are issued one at a time on this node (so two
 * asked for at once are checked against the quota one after the other), and at most {@link #MAX_IMAGES_PER_USER} of
 * one user's images are checked and thumbnailed at once (more are refused as retryable {@code RATE_LIMITED}), so one
 * user cannot fill the workers' queue with decodes.
 */
final class Files {

    private static final Logger LOG = LoggerFactory.getLogger(Files.class);
    /** The most images of one user being checked and thumbnailed (queued or decoding) at once. */
    static final int MAX_IMAGES_PER_USER = 2;
    private static final int QUOTA_LOCKS = 64;

    private final Supplier<FileSettings> settings;
    private final Supplier<Optional<BlobStore>> store;
    private final Executor io;
    private final BlobWorkers workers;
    private final Clock clock;
    private final BlobKeys keys = new BlobKeys();
    private final ObjectClaims claims;
    /** Users' images being checked and thumbnailed, by user (absent: none). */
    private final ConcurrentHashMap<String, Integer> decoding = new ConcurrentHashMap<>();
    /** A user's quota check and ticket marker happen under the lock {@code user.hashCode()} selects. */
    private final Object[] quotaLocks = new Object[QUOTA_LOCKS];

    Files(Supplier<FileSettings> settings, Supplier<Optional<BlobStore>> store, Executor io, Clock clock) {
        this.settings = settings;
        this.store = store;
        this.io = io;
        this.workers = new BlobWorkers(store, io, LOG, "too many file operations in progress");
        this.clock = clock;
        this.claims = new ObjectClaims(() -> settings.get().sendWithin(), io, clock, LOG);
        for (int i = 0; i < quotaLocks.length; i++) {
            quotaLocks[i] = new Object();
        }
    }

    // ---- file.upload ----------------------------------------------------------------------------------------------

    CompletionStage<UploadTicket> upload(String user, UploadRequest request) {
        FileSettings s = settings.get();
        String problem = FileRules.checkUpload(request);
        if (problem != null) {
            return failed(ErrorCode.ERROR_CODE_INVALID_REQUEST, problem);
        }
        String tooLarge = FileRules.checkSize(request.getSize(), s.uploadMaxBytes());
        if (tooLarge != null) {
            return failed(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, tooLarge);
        }
        return workers.onStore(blobs -> {
            BlobLinks links = s.links();
            byte[] secret = links.ticketSecret();
            Instant now = clock.instant();
            String key = keys.newKey(user, now.toEpochMilli());
            synchronized (quotaLocks[Math.floorMod(user.hashCode(), QUOTA_LOCKS)]) {
                // the check and the marker that makes this ticket count, with no other ticket of the user between
                if (s.quotaBytes() > 0) {
                    long used = usage(blobs, user);
                    if (used + request.getSize() > s.quotaBytes()) {
                        throw new ParleyException(ErrorCode.ERROR_CODE_QUOTA_EXCEEDED, user + " stores " + used
                                + " of " + s.quotaBytes() + " bytes (open upload tickets included); "
                                + request.getSize() + " more do not fit");
                    }
                }
                blobs.put(BlobKeys.pending(key, request.getSize()), InputStream.nullInputStream(), 0,
                        ObjectClaims.PENDING_TYPE);
            }
            Instant expires = now.plus(s.uploadTicketTtl()).truncatedTo(ChronoUnit.SECONDS); // tickets count seconds
            BlobTicket ticket = new BlobTicket(BlobTicket.Access.UPLOAD, key, user, request.getSize(),
                    request.getContentType(), expires);
            return UploadTicket.newBuilder().setKey(key).setTicket(ticket.sign(secret))
                    .setUploadUrl(links.blobUrl(key)).setSize(request.getSize())
                    .setContentType(request.getContentType()).setExpiresAt(expires.toEpochMilli())
                    .setChunkMaxBytes(s.chunkMaxBytes()).build();
        });
    }

    /** @return bytes under the user's prefix plus what their pending tickets may still upload */
    long usage(BlobStore blobs, String user) throws IOException {
        long used = 0;
        java.util.Set<String> uploaded = new java.util.HashSet<>();
        for (BlobStore.Info info : BlobListing.listAll(blobs, BlobKeys.userPrefix(user))) {
            used += info.size();
            uploaded.add(info.key());
        }
        for (BlobStore.Info marker : BlobListing.listAll(blobs, BlobKeys.PENDING + BlobKeys.userPrefix(user))) {
            String key = BlobKeys.keyOfPending(marker.key());
            if (key != null && !uploaded.contains(key)) {
                used += BlobKeys.sizeOfPending(marker.key()).orElse(0);
            }
        }
        return used;
    }

    // ---- the processors -------------------------------------------------------------------------------------------

    CompletionStage<ProcessResult> acceptFile(Message draft) {
        File body;
        try {
            body = unpack(draft.getBody(), File.class);
        } catch (InvalidProtocolBufferException e) {
            return CompletableFuture.completedFuture(invalid("the body is not a parley.file.v1.File"));
        }
        String problem = FileRules.checkFile(body, draft.getSender());
        if (problem != null) {
            return CompletableFuture.completedFuture(invalid(problem));
        }
        return workers.onStore(blobs -> {
            String refused = claims.admit(blobs, draft, named(body.getKey(), body.getSize(), body.getContentType(),
                    body.getSha256()));
            if (refused != null) {
                return invalid(refused);
            }
            return ProcessResult.store(draft.toBuilder().setBody(Any.pack(body)).build(), "📎 " + body.getName());
        });
    }

    CompletionStage<ProcessResult> acceptImage(Message draft) {
        Image body;
        try {
            body = unpack(draft.getBody(), Image.class);
        } catch (InvalidProtocolBufferException e) {
            return CompletableFuture.completedFuture(invalid("the body is not a parley.file.v1.Image"));
        }
        String problem = FileRules.checkImage(body, draft.getSender());
        if (problem != null) {
            return CompletableFuture.completedFuture(invalid(problem));
        }
        FileSettings s = settings.get();
        String user = draft.getSender();
        if (!startDecoding(user)) {
            return CompletableFuture.failedFuture(new ParleyException(ErrorCode.ERROR_CODE_RATE_LIMITED,
                    MAX_IMAGES_PER_USER + " images of " + user + " are being processed; send this one again shortly",
                    true));
        }
        CompletionStage<ProcessResult> result = workers.onStore(blobs -> {
            ObjectClaims.Named object = named(body.getKey(), body.getSize(), body.getContentType(), body.getSha256());
            String refused = claims.matches(blobs, object);
            if (refused == null) {
                // everything but the claim, before the decoding: nothing is decoded that could not be sent
                refused = claims.sendable(blobs, draft, body.getKey());
            }
            if (refused != null) {
                return invalid(refused);
            }
            // decoded before the claim: an image the server cannot read is refused and stays unclaimed (collected)
            Image stored = withThumbnail(blobs, body, s);
            refused = claims.admit(blobs, draft, object);
            if (refused != null) {
                return invalid(refused);
            }
            return ProcessResult.store(draft.toBuilder().setBody(Any.pack(stored)).build(), "🖼 " + body.getName());
        });
        // the slot is given back before the core sees the result: a client that sends its next image as soon as this
        // one is acked is not refused
        return result.whenComplete((r, e) -> doneDecoding(user));
    }

    /** @return true if {@code user} may have one more image checked now (then {@link #doneDecoding} once done) */
    private boolean startDecoding(String user) {
        boolean[] started = {false};
        decoding.compute(user, (u, n) -> {
            int now = n == null ? 0 : n;
            if (now >= MAX_IMAGES_PER_USER) {
                return n;
            }
            started[0] = true;
            return now + 1;
        });
        return started[0];
    }

    private void doneDecoding(String user) {
        decoding.computeIfPresent(user, (u, n) -> n <= 1 ? null : n - 1);
    }

    private Image withThumbnail(BlobStore blobs, Image body, FileSettings s) throws IOException {
        Thumbnails.Thumbnail made;
        try (InputStream in = blobs.open(body.getKey(), 0).orElseThrow(() ->
                new ParleyException(ErrorCode.ERROR_CODE_INVALID_BODY, "no uploaded object under key " + body.getKey()))) {
            made = new Thumbnails(s.imageMaxPixels(), s.thumbnailMaxSide()).make(in, body.getContentType());
        } catch (ImageHeaders.ImageRefused e) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_BODY, e.getMessage());
        }
        String thumbKey = BlobKeys.thumbnail(body.getKey());
        try {
            blobs.put(thumbKey, new ByteArrayInputStream(made.jpeg()), made.jpeg().length, "image/jpeg");
        } catch (FileAlreadyExistsException e) {
            // a retry of the same send: the thumbnail made the first time stays
        }
        return body.toBuilder().setWidth(made.width()).setHeight(made.height()).setThumbnailKey(thumbKey)
                .setThumbnailWidth(made.thumbWidth()).setThumbnailHeight(made.thumbHeight()).build();
    }

    // ---- file.download --------------------------------------------------------------------------------------------

    /**
     * @param message the stored message, already found for a member of its conversation
     */
    CompletionStage<DownloadTicket> download(String user, Message message) {
        String key;
        String thumbKey = "";
        try {
            switch (message.getType()) {
                case FileTypes.FILE -> key = unpack(message.getBody(), File.class).getKey();
                case FileTypes.IMAGE -> {
                    Image image = unpack(message.getBody(), Image.class);
                    key = image.getKey();
                    thumbKey = image.getThumbnailKey();
                }
                case MediaBodies.VOICE, MediaBodies.VIDEO -> {
                    MediaBodies.Keys media = MediaBodies.keysOf(message.getType(), message.getBody()).orElseThrow();
                    key = media.key();
                    thumbKey = media.poster();
                }
                case "recalled" -> throw new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND,
                        "message " + message.getSeq() + " was recalled");
                default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "message " + message.getSeq() + " is a " + message.getType()
                                + " message, not a file, image, voice or video message");
            }
        } catch (InvalidProtocolBufferException e) {
            return failed(ErrorCode.ERROR_CODE_INTERNAL, "the stored body cannot be read");
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(e);
        }
        FileSettings s = settings.get();
        String thumb = thumbKey;
        return workers.onStore(blobs -> {
            BlobLinks links = s.links();
            links.ticketSecret(); // refused without a secret even where the store has URLs of its own
            BlobStore.Info info = blobs.stat(key).orElseThrow(() -> new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND,
                    "the file of message " + message.getSeq() + " is gone"));
            Instant expires = clock.instant().plus(s.downloadTicketTtl()).truncatedTo(ChronoUnit.SECONDS);
            DownloadTicket.Builder answer = DownloadTicket.newBuilder().setExpiresAt(expires.toEpochMilli())
                    .setUrl(downloadUrl(blobs, links, s, user, info, expires));
            if (!thumb.isEmpty()) {
                blobs.stat(thumb).ifPresent(t -> answer.setThumbnailUrl(
                        downloadUrl(blobs, links, s, user, t, expires)));
            }
            return answer.build();
        });
    }

    private static String downloadUrl(BlobStore blobs, BlobLinks links, FileSettings s, String user,
                                      BlobStore.Info info, Instant expires) {
        return links.downloadUrl(blobs, info.key(), info.size(), info.contentType(), user, s.downloadTicketTtl(),
                expires);
    }

    // ---- released (recall) and the sweep --------------------------------------------------------------------------

    /** Deletes the object a recalled file or image message referred to, its thumbnail and its claim. */
    CompletionStage<Void> release(Message original) {
        String key;
        try {
            key = switch (original.getType()) {
                case FileTypes.FILE -> unpack(original.getBody(), File.class).getKey();
                case FileTypes.IMAGE -> unpack(original.getBody(), Image.class).getKey();
                default -> null;
            };
        } catch (InvalidProtocolBufferException e) {
            key = null;
        }
        if (key == null || !BlobTicket.validKey(key) || !BlobKeys.ownedBy(key, original.getSender())) {
            return CompletableFuture.completedFuture(null);
        }
        String k = key;
        return workers.onStore(blobs -> {
            boolean deleted = ObjectClaims.release(blobs, k, original.getSender());
            LOG.info("Recalled message {} in {}: object {} {}", original.getSeq(), original.getConversation(), k,
                    deleted ? "deleted" : "was already gone");
            return null;
        });
    }

    /**
     * Deletes the objects whose tickets are older than {@code orphan.hours} and that no message claimed, with their
     * pending markers; drops the markers of claimed ones.
     *
     * @return how many objects were deleted
     */
    int sweep() throws IOException {
        Optional<BlobStore> current = store.get();
        if (current.isEmpty()) {
            return 0;
        }
        BlobStore blobs = current.get();
        Instant cutoff = clock.instant().minus(settings.get().orphanAge());
        int deleted = 0;
        for (BlobStore.Info marker : BlobListing.listAll(blobs, BlobKeys.PENDING)) {
            String key = BlobKeys.keyOfPending(marker.key());
            if (key == null || !marker.created().isBefore(cutoff)) {
                continue;
            }
            if (blobs.stat(BlobKeys.claim(key)).isEmpty()) {
                if (blobs.delete(key)) {
                    deleted++;
                }
                blobs.delete(BlobKeys.thumbnail(key));
            }
            blobs.delete(marker.key());
        }
        if (deleted > 0) {
            LOG.info("Deleted {} uploaded object(s) never sent in a message", deleted);
        }
        return deleted;
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private static <T extends com.google.protobuf.Message> T unpack(Any body, Class<T> type)
            throws InvalidProtocolBufferException {
        return body.unpack(type);
    }

    private static ObjectClaims.Named named(String key, long size, String contentType, String sha256) {
        return new ObjectClaims.Named(key, size, contentType, sha256);
    }

    private static ProcessResult invalid(String reason) {
        return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, reason);
    }

    private static <T> CompletionStage<T> failed(ErrorCode code, String message) {
        return CompletableFuture.failedFuture(new ParleyException(code, message));
    }
}
