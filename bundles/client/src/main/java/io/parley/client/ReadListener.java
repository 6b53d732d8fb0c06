package io.parley.client;

import io.parley.core.proto.ReadUpdate;

/**
 * Receives read-cursor updates: {@code update.user} has read {@code update.conversation} up to
 * {@code update.seq}. They come for the other members of this user's conversations and for this user's own other
 * devices ({@code update.user} is then this client's user). Not persisted by the client; a reconnect may skip
 * updates, so refresh unread counts with {@link ParleyClient#conversations()} after {@code onConnected}.
 *
 * <p>Threading: called on the client's event loop thread, never concurrently for one client; must not block. An
 * exception it throws is logged.
 */
@FunctionalInterface
public interface ReadListener {
    void onRead(ReadUpdate update);
}
