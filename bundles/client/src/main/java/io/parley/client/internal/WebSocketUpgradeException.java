package io.parley.client.internal;

import java.io.IOException;

/**
 * The server did not upgrade the connection to a WebSocket (an HTTP error status such as 403 or 404, a response
 * that is not a valid upgrade, or a connection that closed during the upgrade). The message names the cause.
 */
public final class WebSocketUpgradeException extends IOException {
    private static final long serialVersionUID = 1L;

    public WebSocketUpgradeException(String message, Throwable cause) {
        super(message, cause);
    }
}
