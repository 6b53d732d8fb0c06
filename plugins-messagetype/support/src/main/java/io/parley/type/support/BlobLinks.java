package io.parley.type.support;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The two keys of PID {@code parley.blob} that every message type handing out blob URLs reads — {@code public.url}
 * (where clients reach the HTTP transport's {@code /blobs/} endpoints) and {@code ticket.secret} (what signs the
 * tickets those endpoints take) — and the URLs made of them. Immutable, thread-safe.
 */
public final class BlobLinks {

    /** The shortest {@code ticket.secret} tickets are signed with, in bytes. */
    public static final int MIN_SECRET_BYTES = 32;

    private final URI publicUrl;
    private final byte[] secret;

    /**
     * @param publicUrl an http(s) URL with a host
     * @param secret    the ticket secret, or shorter than {@value #MIN_SECRET_BYTES} bytes (empty) for none: no
     *                  tickets then; copied
     * @throws IllegalArgumentException naming {@code public.url} if it is not an http(s) URL
     */
    public BlobLinks(URI publicUrl, byte[] secret) {
        this.publicUrl = checkPublicUrl(publicUrl);
        this.secret = secret.clone();
    }

    /**
     * @return {@code publicUrl}
     * @throws IllegalArgumentException naming {@code public.url} if it is not an http(s) URL with a host
     */
    public static URI checkPublicUrl(URI publicUrl) {
        Objects.requireNonNull(publicUrl, "publicUrl");
        String scheme = publicUrl.getScheme();
        if (!("http".equals(scheme) || "https".equals(scheme)) || publicUrl.getHost() == null) {
            throw new IllegalArgumentException("public.url must be an http(s) URL: " + publicUrl);
        }
        return publicUrl;
    }

    /** @return the bytes of a configured {@code ticket.secret} (trimmed, UTF-8); empty for none */
    public static byte[] secretOf(String configured) {
        return configured == null ? new byte[0] : configured.trim().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * @return a copy of the secret
     * @throws IllegalStateException naming {@code ticket.secret} if none of at least {@value #MIN_SECRET_BYTES} bytes
     *         is configured
     */
    public byte[] requireSecret() {
        if (secret.length < MIN_SECRET_BYTES) {
            throw new IllegalStateException("no ticket.secret of at least " + MIN_SECRET_BYTES
                    + " bytes in conf/parley.blob.cfg");
        }
        return secret.clone();
    }

    /**
     * {@link #requireSecret} for a client's request.
     *
     * @throws ParleyException {@code UNAVAILABLE}, not retryable (a configuration problem), if there is no secret
     */
    public byte[] ticketSecret() {
        try {
            return requireSecret();
        } catch (IllegalStateException e) {
            throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, e.getMessage(), false);
        }
    }

    /** @return {@code <public.url>/blobs/<key>}: where the HTTP transport takes and serves {@code key} */
    public String blobUrl(String key) {
        String b = publicUrl.toString();
        return (b.endsWith("/") ? b.substring(0, b.length() - 1) : b) + "/blobs/" + key;
    }

    /**
     * A URL {@code user} may download a blob from: the store's own for {@code ttl} if it offers one
     * ({@link BlobStore#downloadUrl}), else {@link #blobUrl} with a {@code DOWNLOAD} ticket signed with the secret.
     * The secret is required only in the second case.
     *
     * @param user    the ticket's user: {@code [A-Za-z0-9._@-]{1,64}}
     * @param expires when the ticket stops working
     * @throws ParleyException as {@link #ticketSecret} does
     */
    public String downloadUrl(BlobStore blobs, String key, long size, String contentType, String user, Duration ttl,
                              Instant expires) {
        Optional<URI> direct = blobs.downloadUrl(key, ttl);
        if (direct.isPresent()) {
            return direct.get().toString();
        }
        String ticket = new BlobTicket(BlobTicket.Access.DOWNLOAD, key, user, size, contentType, expires)
                .sign(ticketSecret());
        return blobUrl(key) + "?ticket=" + ticket;
    }
}
