package io.parley.transport.websocket.internal;

import io.parley.transport.support.ServerSettings;

import java.util.Objects;

/**
 * Settings of one {@link WebSocketServer}: the ones every transport has plus the HTTP side.
 *
 * @param server              listener, limits and timeouts shared with the other transports
 * @param path                the only request path that upgrades, e.g. {@code /parley}; the query is ignored
 * @param origins             which browser origins may connect
 * @param maxHttpRequestBytes largest request line, and largest header block, of the upgrade request (each); also
 *                            the largest request body accepted before the request is refused
 */
public record WebSocketSettings(ServerSettings server, String path, OriginPolicy origins, int maxHttpRequestBytes) {

    public WebSocketSettings {
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(origins, "origins");
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("path must start with '/': " + path);
        }
        if (maxHttpRequestBytes < 256) {
            throw new IllegalArgumentException("max.http.request.bytes must be at least 256: " + maxHttpRequestBytes);
        }
    }
}
