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
 * @param headerTimeout       how long a request head may take to arrive, from the connection's opening or the
 *                            request's first byte (408 and close beyond)
 * @param bodyTimeout         how long a request body may take to arrive after its head (the connection is closed
 *                            beyond)
 * @param maxConnectionsPerAddress connections open at once from one client address
 */
public record HttpApiSettings(ServerSettings server, String adminToken, int maxBodyBytes, int maxHttpRequestBytes,
                              Duration requestTimeout, Path webRoot, Duration headerTimeout, Duration bodyTimeout,
                              int maxConnectionsPerAddress) {

    /** The defaults of {@code header.timeout.ms}, {@code body.timeout.ms} and {@code max.connections.per.address}. */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_BODY_TIMEOUT = Duration.ofSeconds(30);
    public static final int DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;

    /** Settings with the default request deadlines and per-address limit. */
    public HttpApiSettings(ServerSettings server, String adminToken, int maxBodyBytes, int maxHttpRequestBytes,
                           Duration requestTimeout, Path webRoot) {
        this(server, adminToken, maxBodyBytes, maxHttpRequestBytes, requestTimeout, webRoot, DEFAULT_HEADER_TIMEOUT,
                DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
    }

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
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        Objects.requireNonNull(bodyTimeout, "bodyTimeout");
        if (headerTimeout.toMillis() < 100 || bodyTimeout.toMillis() < 100) {
            throw new IllegalArgumentException("header.timeout.ms and body.timeout.ms must be at least 100: "
                    + headerTimeout.toMillis() + ", " + bodyTimeout.toMillis());
        }
        if (maxConnectionsPerAddress < 1) {
            throw new IllegalArgumentException("max.connections.per.address must be positive: "
                    + maxConnectionsPerAddress);
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
                + ", requestTimeout=" + requestTimeout + ", webRoot=" + webRoot + ", headerTimeout=" + headerTimeout
                + ", bodyTimeout=" + bodyTimeout + ", maxConnectionsPerAddress=" + maxConnectionsPerAddress + "]";
    }
}
