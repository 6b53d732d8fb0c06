package io.parley.transport.http.internal;

import io.parley.transport.support.ServerSettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of one {@link HttpApiServer}.
 *
 * @param server              listener and limits shared with the other transports ({@code idleTimeout} closes idle
 *                            keep-alive connections; {@code maxConnections} caps open connections)
 * @param adminToken          the bearer token every {@code /v1} call must present; empty disables the API (503)
 * @param maxBodyBytes        largest request body; larger ones get 413
 * @param maxHttpRequestBytes largest request line, and largest header block (each); larger ones get 414 / 431
 * @param requestTimeout      how long a call waits for the core before answering 504
 * @param webRoot             directory whose files are served for GET and HEAD outside {@code /v1} (the web
 *                            client); null serves none
 */
public record HttpApiSettings(ServerSettings server, String adminToken, int maxBodyBytes, int maxHttpRequestBytes,
                              Duration requestTimeout, Path webRoot) {

    /** Settings serving no files. */
    public HttpApiSettings(ServerSettings server, String adminToken, int maxBodyBytes, int maxHttpRequestBytes,
                           Duration requestTimeout) {
        this(server, adminToken, maxBodyBytes, maxHttpRequestBytes, requestTimeout, null);
    }

    /** Admin tokens shorter than this are refused like an empty one. */
    public static final int MIN_ADMIN_TOKEN_CHARS = 16;

    public HttpApiSettings {
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(adminToken, "adminToken");
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        if (maxBodyBytes < 1024) {
            throw new IllegalArgumentException("max.body.bytes must be at least 1024: " + maxBodyBytes);
        }
        if (maxHttpRequestBytes < 256) {
            throw new IllegalArgumentException("max.http.request.bytes must be at least 256: " + maxHttpRequestBytes);
        }
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("request.timeout.ms must be positive: " + requestTimeout);
        }
    }

    /** True if the admin token is long enough for the API to serve {@code /v1}. */
    public boolean adminTokenUsable() {
        return adminToken.length() >= MIN_ADMIN_TOKEN_CHARS;
    }

    @Override
    public String toString() {
        // never print the token
        return "HttpApiSettings[" + server + ", adminToken=" + (adminToken.isEmpty() ? "<empty>" : "<set>")
                + ", maxBodyBytes=" + maxBodyBytes + ", maxHttpRequestBytes=" + maxHttpRequestBytes
                + ", requestTimeout=" + requestTimeout + ", webRoot=" + webRoot + "]";
    }
}
