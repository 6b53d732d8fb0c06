package io.parley.transport.support;

/**
 * Why the server ends a connection. Transports with a close handshake send {@link #code()} (the RFC 6455 close
 * status: WebSocket); the others only use it for logs (TCP).
 */
public enum CloseReason {
    /** The core ended the session (kick, failed hello) or the client closed: 1000. */
    NORMAL(1000),
    /** The transport is stopping, or the connection was idle too long; a reconnect notice precedes it: 1001. */
    GOING_AWAY(1001),
    /** The client broke the framing or sent bytes that are not a {@code Frame}: 1002. */
    PROTOCOL_ERROR(1002),
    /** The client sent a kind of data the transport does not accept (a WebSocket text message): 1003. */
    UNSUPPORTED_DATA(1003),
    /** A WebSocket text message that is not valid UTF-8: 1007. */
    INVALID_PAYLOAD(1007),
    /** No hello within the handshake timeout, or a slow consumer: 1008. */
    POLICY_VIOLATION(1008),
    /** A frame over the core's max frame size: 1009. */
    MESSAGE_TOO_BIG(1009),
    /** The core failed on a frame: 1011. */
    INTERNAL_ERROR(1011),
    /** Over {@code max.connections}, or the core could not open a session; retry later: 1013. */
    TRY_AGAIN_LATER(1013);

    private final int code;

    CloseReason(int code) {
        this.code = code;
    }

    /** The RFC 6455 close status code. */
    public int code() {
        return code;
    }
}
