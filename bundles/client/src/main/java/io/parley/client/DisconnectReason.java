package io.parley.client;

/** Why a connection of a {@link ParleyClient} ended. */
public enum DisconnectReason {
    /** {@link ParleyClient#close()} was called. */
    CLOSED_BY_CLIENT,
    /** The TCP connection could not be established, or its TLS handshake or its WebSocket upgrade failed. */
    CONNECT_FAILED,
    /** The connection was closed or broke without a notice from the server. */
    CONNECTION_LOST,
    /**
     * No frame arrived within two heartbeat intervals, or no answer to the WebSocket upgrade, {@code Hello} or the
     * resume sync in time.
     */
    TIMEOUT,
    /** The server asked clients to reconnect ({@code Notice KIND_RECONNECT}). */
    SERVER_RECONNECT,
    /** The server closed the session because this client read too slowly ({@code Notice KIND_SLOW_CONSUMER}). */
    SLOW_CONSUMER,
    /** The session was ended by an operator or a newer login ({@code Notice KIND_KICKED}); no automatic reconnect. */
    KICKED,
    /**
     * The token the session logged in with expired ({@code Notice KIND_TOKEN_EXPIRED}); the client reconnects at once
     * with a token fetched afresh from its token provider.
     */
    TOKEN_EXPIRED,
    /** The token was refused (also after fetching a fresh one); no automatic reconnect. */
    AUTH_FAILED,
    /** The server sent an error frame and closed, or the stream was not valid protocol v1. */
    PROTOCOL_ERROR
}
