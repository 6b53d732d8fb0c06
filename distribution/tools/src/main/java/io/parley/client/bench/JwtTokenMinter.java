package io.parley.client.bench;

import io.parley.auth.jwt.JwtTokens;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Mints HS256 tokens with the server's secret through {@link JwtTokens} (artifact {@code parley-auth-jwt}, an
 * optional dependency: only the load tool needs it on the class path). Thread-safe.
 */
public final class JwtTokenMinter implements TokenMinter {
    private final JwtTokens tokens;
    private final Duration ttl;

    private JwtTokenMinter(JwtTokens tokens, Duration ttl) {
        this.tokens = tokens;
        this.ttl = ttl;
    }

    /** Reads {@code secret} and {@code issuer} from the server's {@code parley.auth.jwt.cfg}. */
    public static JwtTokenMinter fromConfig(Path cfgFile, Duration ttl) {
        return new JwtTokenMinter(JwtTokens.fromConfig(cfgFile), ttl);
    }

    /** @param secret the secret string as written in the .cfg file (its UTF-8 bytes are the key) */
    public static JwtTokenMinter fromSecret(String secret, String issuer, Duration ttl) {
        return new JwtTokenMinter(new JwtTokens(secret.getBytes(StandardCharsets.UTF_8),
                issuer == null ? JwtTokens.DEFAULT_ISSUER : issuer), ttl);
    }

    @Override
    public String mint(String userId, String deviceId) {
        return tokens.mint(userId, deviceId, ttl);
    }
}
