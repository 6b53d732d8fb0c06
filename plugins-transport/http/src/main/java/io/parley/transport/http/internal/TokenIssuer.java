package io.parley.transport.http.internal;

import io.parley.auth.jwt.JwtTokens;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;

import java.time.Duration;

/**
 * Mints client tokens for {@code POST /v1/tokens} with the JWT authenticator's own secret and issuer, so every
 * token it mints is accepted at hello. Immutable and thread-safe.
 */
public final class TokenIssuer {

    private final JwtTokens tokens;
    private final String unavailableReason;
    private final Duration defaultTtl;
    private final Duration maxTtl;

    private TokenIssuer(JwtTokens tokens, String unavailableReason, Duration defaultTtl, Duration maxTtl) {
        this.tokens = tokens;
        this.unavailableReason = unavailableReason;
        this.defaultTtl = defaultTtl;
        this.maxTtl = maxTtl;
    }

    /**
     * @param secret     the {@code secret} of PID {@code parley.auth.jwt}; null or blank leaves minting unavailable
     * @param issuer     its {@code issuer}; null or blank means {@link JwtTokens#DEFAULT_ISSUER}
     * @param defaultTtl lifetime of a token when the request names none
     * @param maxTtl     the longest lifetime a request may ask for
     */
    public static TokenIssuer create(String secret, String issuer, Duration defaultTtl, Duration maxTtl) {
        return create(secret, issuer, JwtTokens.DEFAULT_MAX_LIFETIME, defaultTtl, maxTtl);
    }

    /**
     * @param maxLifetime the authenticator's {@code max.lifetime.seconds}: no token is minted for longer, whatever
     *                    {@code maxTtl} says, since the authenticator would refuse it
     */
    public static TokenIssuer create(String secret, String issuer, Duration maxLifetime, Duration defaultTtl,
                                     Duration maxTtl) {
        if (defaultTtl.isNegative() || defaultTtl.isZero() || maxTtl.compareTo(defaultTtl) < 0) {
            throw new IllegalArgumentException("need 0 < token.default.ttl.seconds <= token.max.ttl.seconds");
        }
        if (secret == null || secret.isBlank()) {
            return new TokenIssuer(null, "no JWT secret configured (key secret in conf/parley.auth.jwt.cfg)",
                    defaultTtl, maxTtl);
        }
        String iss = issuer == null || issuer.isBlank() ? JwtTokens.DEFAULT_ISSUER : issuer.trim();
        try {
            return new TokenIssuer(new JwtTokens(secret.trim().getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    iss, JwtTokens.DEFAULT_CLOCK_SKEW, maxLifetime, java.time.Clock.systemUTC()), null,
                    min(defaultTtl, maxLifetime), min(maxTtl, maxLifetime));
        } catch (IllegalArgumentException e) {
            return new TokenIssuer(null, "unusable JWT secret in conf/parley.auth.jwt.cfg: " + e.getMessage(),
                    defaultTtl, maxTtl);
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** Null if tokens can be minted; otherwise why not (for logs and the 503 answer). */
    public String unavailableReason() {
        return unavailableReason;
    }

    /**
     * @param ttlSeconds null for the default lifetime
     * @throws ApiException 503 if no usable secret is configured; 400 for a bad user or device id or lifetime
     */
    public Dto.TokenResult mint(String user, String device, Long ttlSeconds) {
        if (tokens == null) {
            throw ApiException.unavailable(unavailableReason);
        }
        if (user == null) {
            throw ApiException.invalid("user is required");
        }
        Duration ttl = defaultTtl;
        if (ttlSeconds != null) {
            if (ttlSeconds <= 0 || ttlSeconds > maxTtl.toSeconds()) {
                throw ApiException.invalid("ttl_seconds must be between 1 and " + maxTtl.toSeconds());
            }
            ttl = Duration.ofSeconds(ttlSeconds);
        }
        try {
            String token = tokens.mint(user, device, ttl);
            // read exp back from the token itself: minting rounds the issue time to the second
            Principal p = tokens.verify(token, device == null ? CoreGateway.DEVICE_ID : device);
            return new Dto.TokenResult(token, user, device, p.expiresAt().minus(tokens.clockSkew()).toEpochMilli());
        } catch (ParleyException e) {
            throw ApiException.from(e);
        }
    }
}
