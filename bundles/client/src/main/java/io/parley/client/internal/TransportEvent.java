package io.parley.client.internal;

/**
 * User events a transport adapter fires on a client channel's pipeline. Kept free of transport classes so that a
 * TCP-only client never loads the WebSocket codec.
 */
public enum TransportEvent {
    /** The WebSocket upgrade succeeded: frames may be written from now on (hello goes first). */
    WEBSOCKET_UPGRADED,
    /** No answer to the WebSocket upgrade request within the handshake timeout; the channel is being closed. */
    WEBSOCKET_UPGRADE_TIMEOUT
}
