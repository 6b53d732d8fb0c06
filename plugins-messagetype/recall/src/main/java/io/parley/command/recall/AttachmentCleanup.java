package io.parley.command.recall;

import io.parley.core.proto.Message;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The seam for messages whose body points at stored bytes. A recall removes the message's body from the message
 * store, but a file, image, voice or video message (types not built yet: see DESIGN.md §2, seed 000) only holds a
 * reference to an object in a blob store (bucket/key, {@code io.parley.core.spi.blob.BlobStore}); the object itself
 * outlives the tombstone unless someone deletes it.
 *
 * <p>{@link RecallHandler} calls this once per recall, with the original message, after the tombstone is durable.
 * A failure is logged and never fails the recall (the message is gone from every history either way). Today the
 * component wires {@link #NONE}.
 *
 * <p>TODO(file type): when the file type bundle exists, give {@code RecallComponent} an optional, dynamic reference
 * to the {@code BlobStore} (target {@code parley.blob.store.name}) and an implementation that reads the original's
 * body (by its type URL: the file/image/voice/video bodies of the body catalog) and deletes the object it names —
 * or, if the file bundle should own that rule, let the file bundle register this as a service and look it up here.
 * Decide then whether a recalled object is deleted at once or after a grace period (a download may be in flight).
 */
@FunctionalInterface
public interface AttachmentCleanup {

    /** Does nothing: no message type in this build stores bytes outside the message store. */
    AttachmentCleanup NONE = original -> CompletableFuture.completedFuture(null);

    /**
     * @param original the message as it was before the recall (type, body and ext intact)
     * @return completed when whatever it referenced is released; must not block
     */
    CompletionStage<Void> recalled(Message original);
}
