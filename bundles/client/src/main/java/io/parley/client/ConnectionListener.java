package io.parley.client;

import io.parley.core.proto.HelloOk;

import java.time.Duration;

/**
 * Connection state changes of one {@link ParleyClient}. Called on the client's event loop thread, never
 * concurrently for one client; must not block.
 */
public interface ConnectionListener {
    /** The server accepted the {@code Hello}; the resume sync starts now. */
    default void onConnected(HelloOk session) {
    }

    /**
     * The connection ended.
     *
     * @param willRetry true if the client will reconnect by itself (then {@link #onReconnecting} follows); false
     *     if it gave up (closed, kicked, authentication refused, or the first {@code connect()} failed)
     */
    default void onDisconnected(DisconnectReason reason, boolean willRetry) {
    }

    /** The client will try connection attempt {@code attempt} (1-based since the last success) after {@code delay}. */
    default void onReconnecting(int attempt, Duration delay) {
    }
}
