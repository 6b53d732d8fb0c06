package io.parley.transport.http.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Checks {@code Authorization: Bearer <token>} against the configured admin token in constant time: both sides are
 * hashed with SHA-256 first, so neither the token's content nor its length leaks through timing. Immutable.
 */
public final class AdminToken {

    private static final String BEARER = "bearer ";

    private final byte[] expectedDigest;

    /** @param token the configured token; null or empty matches nothing */
    public AdminToken(String token) {
        this.expectedDigest = token == null || token.isEmpty() ? null : sha256(token);
    }

    /** @param authorization the {@code Authorization} header value, or null */
    public boolean matches(String authorization) {
        if (expectedDigest == null || authorization == null
                || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return false;
        }
        String presented = authorization.substring(BEARER.length()).trim();
        return MessageDigest.isEqual(expectedDigest, sha256(presented));
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }
}
