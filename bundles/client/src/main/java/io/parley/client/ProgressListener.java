package io.parley.client;

/**
 * Follows an upload or a download ({@link ParleyClient#upload}, {@link ParleyClient#download}, and the sends of
 * files and images).
 *
 * <p>Called on the thread running the transfer (a thread of the client's transfer executor, never its event loop),
 * in order and never concurrently for one transfer: once when the transfer starts, after every chunk the server
 * accepted (upload) or every buffer written (download, at most 64 KiB apart), and once more at the end with
 * {@code bytes == total}. It must return quickly; an exception it throws is ignored.
 *
 * @since 1.6
 */
@FunctionalInterface
public interface ProgressListener {
    /** Ignores every update. */
    ProgressListener NONE = (bytes, total) -> { };

    /**
     * @param bytes the bytes the server holds (upload) or that were written (download) so far; moves back only when
     *              a resume has to start over (the server lost a partial upload, or ignored a {@code Range})
     * @param total the size of the object, or -1 while a download does not know it
     */
    void onProgress(long bytes, long total);
}
