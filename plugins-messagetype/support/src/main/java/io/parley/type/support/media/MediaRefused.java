package io.parley.type.support.media;

/**
 * A media object the server refuses: not of its declared container, malformed, or too costly to read. The message is
 * for the client.
 */
public final class MediaRefused extends Exception {
    public MediaRefused(String message) {
        super(message);
    }
}
