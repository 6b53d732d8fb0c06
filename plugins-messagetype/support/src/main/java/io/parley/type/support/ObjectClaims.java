package io.parley.type.support;

import io.parley.core.proto.Message;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import org.slf4j.Logger;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The admission of uploaded objects into messages, one implementation for every type whose bodies name uploads (file,
 * image, voice, video): a message may name an object only if it is the sender's complete upload (the key names them),
 * has exactly the size, content type and SHA-256 the body says, was uploaded with a ticket whose pending marker is
 * still there and younger than {@code sendWithin}, and is claimed by no other message. The claim ({@code c/<key>},
 * {@link BlobKeys}) holds {@code sender "\n" client_msg_id}, so a retry of the same send finds its own claim and
 * passes. The key layout and markers are {@link BlobKeys}'; the uploads, quotas and the sweep of objects never sent
 * are the file type's.
 *
 * <p>Threading: every method blocks on the blob store; call them from a bundle's workers. Thread-safe: two messages
 * claiming one object at once race on the store's create-only {@link BlobStore#put}, and one loses.
 */
public final class ObjectClaims {

    /** The content type of a pending marker ({@code p/<key>/<size>}, written when a ticket is issued). */
    public static final String PENDING_TYPE = "application/x-parley-pending";
    /** The content type of a claim ({@code c/<key>}). */
    public static final String CLAIM_TYPE = "application/x-parley-claim";

    /**
     * What a body says about one object it names.
     *
     * @param sha256 lower-case hex SHA-256 of the bytes
     */
    public record Named(String key, long size, String contentType, String sha256) {
    }

    private final Supplier<Duration> sendWithin;
    private final Executor io;
    private final Clock clock;
    private final Logger log;

    /**
     * @param sendWithin how long after its ticket an object may still be sent ({@code orphan.hours} less an hour, so
     *                   the sweep never races a send); read at every check
     * @param io         where the pending marker of a claimed object is deleted (after the claim, not waited for)
     * @param log        the bundle's logger
     */
    public ObjectClaims(Supplier<Duration> sendWithin, Executor io, Clock clock, Logger log) {
        this.sendWithin = sendWithin;
        this.io = io;
        this.clock = clock;
        this.log = log;
    }

    /**
     * Checks that the object exists and matches what the body says, without claiming it: what may be checked before
     * the object is read (an image decoded, a clip parsed), so nothing is read that is not the sender's upload.
     *
     * @return null if it matches, else the reason it does not
     */
    public String matches(BlobStore blobs, Named object) throws IOException {
        Optional<BlobStore.Info> info = blobs.stat(object.key());
        if (info.isEmpty()) {
            return "no uploaded object under key " + object.key() + " (is the upload complete?)";
        }
        return mismatch(info.get(), object);
    }

    /**
     * The checks of {@link #admit} but the claim itself and the object's bytes: the object is not claimed by another
     * message, and its ticket's marker is there and young enough.
     *
     * @return null if {@code draft} may still claim it (its own earlier claim included), else the reason it may not
     */
    public String sendable(BlobStore blobs, Message draft, String key) throws IOException {
        Optional<String> claimed = readClaim(blobs, key);
        if (claimed.isPresent()) {
            return claimed.get().equals(owner(draft)) ? null : alreadySent(key);
        }
        return stale(key, blobs.list(BlobKeys.pendingPrefix(key), "", 1));
    }

    /**
     * Claims the object for {@code draft} and settles it ({@link #claim}, then {@link #settle}): it must be the
     * sender's complete upload, within {@code sendWithin} of its ticket, matching size, type and hash, and not claimed
     * by another message. A retry of the same send (same sender and client_msg_id) finds its own claim and passes.
     *
     * @return null if admitted (claimed now or before by this very send), else the reason it is not
     */
    public String admit(BlobStore blobs, Message draft, Named object) throws IOException {
        String refused = claim(blobs, draft, object);
        if (refused == null) {
            settle(blobs, object);
        }
        return refused;
    }

    /**
     * Claims the object for {@code draft} as {@link #admit} does, but keeps its pending marker, so that a message
     * naming several objects can {@link #unclaim} the first when a later one is refused (the object then stays
     * sendable, and is collected if never sent). Call {@link #settle} for each once all are claimed.
     *
     * @return null if claimed (now or before by this very send), else the reason it is not
     */
    public String claim(BlobStore blobs, Message draft, Named object) throws IOException {
        String key = object.key();
        String owner = owner(draft);
        Optional<String> claimed = readClaim(blobs, key);
        if (claimed.isPresent()) {
            return claimed.get().equals(owner) ? null : alreadySent(key);
        }
        String stale = stale(key, blobs.list(BlobKeys.pendingPrefix(key), "", 1));
        if (stale != null) {
            return stale;
        }
        String mismatch = matches(blobs, object);
        if (mismatch != null) {
            return mismatch;
        }
        byte[] claim = owner.getBytes(StandardCharsets.UTF_8);
        try {
            blobs.put(BlobKeys.claim(key), new ByteArrayInputStream(claim), claim.length, CLAIM_TYPE);
        } catch (FileAlreadyExistsException raced) {
            Optional<String> winner = readClaim(blobs, key);
            if (winner.isEmpty() || !winner.get().equals(owner)) {
                return alreadySent(key);
            }
        }
        return null;
    }

    /**
     * Deletes the pending marker of a claimed object (on {@code io}, not waited for; a marker left behind is dropped by
     * the sweep): the object no longer counts as an open ticket, and is never collected.
     */
    public void settle(BlobStore blobs, Named object) {
        String marker = BlobKeys.pending(object.key(), object.size()); // a complete upload has its ticket's size
        io.execute(() -> deleteQuietly(blobs, marker));
    }

    /** Deletes the claim on {@code key} if {@code draft} holds it (see {@link #claim}); otherwise changes nothing. */
    public void unclaim(BlobStore blobs, Message draft, String key) throws IOException {
        Optional<String> claimed = readClaim(blobs, key);
        if (claimed.isPresent() && claimed.get().equals(owner(draft))) {
            blobs.delete(BlobKeys.claim(key));
        }
    }

    /**
     * Deletes an object a recalled message named, with its thumbnail and its claim. Only an upload key of
     * {@code sender} is deleted ({@link BlobKeys#ownedBy}); anything else is left alone.
     *
     * @return true if the object was there and is deleted
     */
    public static boolean release(BlobStore blobs, String key, String sender) throws IOException {
        if (!BlobTicket.validKey(key) || !BlobKeys.ownedBy(key, sender)) {
            return false;
        }
        boolean deleted = blobs.delete(key);
        blobs.delete(BlobKeys.thumbnail(key));
        blobs.delete(BlobKeys.claim(key));
        return deleted;
    }

    /** @return the claim on {@code key} ({@code sender "\n" client_msg_id}), or empty if none */
    public static Optional<String> readClaim(BlobStore blobs, String key) throws IOException {
        Optional<InputStream> in = blobs.open(BlobKeys.claim(key), 0);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream claim = in.get()) {
            return Optional.of(new String(claim.readNBytes(512), StandardCharsets.UTF_8));
        }
    }

    /** @return what a claim made by {@code draft} holds */
    public static String owner(Message draft) {
        return draft.getSender() + "\n" + draft.getClientMsgId();
    }

    /** @return why an object whose pending markers are {@code pending} can no longer be sent, or null */
    private String stale(String key, List<BlobStore.Info> pending) {
        if (pending.isEmpty()) {
            return "no upload ticket is open for key " + key + " (never issued, or expired: upload again)";
        }
        Duration within = sendWithin.get();
        if (pending.get(0).created().plus(within).isBefore(clock.instant())) {
            return "the upload of " + key + " is older than " + within.toHours() + " hours: upload again";
        }
        return null;
    }

    private static String alreadySent(String key) {
        return "the object " + key + " was already sent in another message";
    }

    private static String mismatch(BlobStore.Info info, Named object) {
        if (info.size() != object.size()) {
            return "size " + object.size() + " does not match the uploaded object (" + info.size() + " bytes)";
        }
        if (!info.contentType().equals(object.contentType())) {
            return "content_type " + object.contentType() + " does not match the uploaded object ("
                    + info.contentType() + ")";
        }
        if (!info.sha256().equals(object.sha256())) {
            return "sha256 does not match the uploaded object";
        }
        return null;
    }

    private void deleteQuietly(BlobStore blobs, String key) {
        try {
            blobs.delete(key);
        } catch (IOException | RuntimeException e) {
            log.debug("Could not delete {} (the sweep retries)", key, e);
        }
    }
}
