package io.parley.auth.jwt;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimNames;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ErrorCode;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;

/**
 * Mints and verifies HS256-signed JWTs that identify a user (and optionally pin a device).
 *
 * <p>Claims written by {@link #mint}: {@code iss} (this instance's issuer), {@code sub} (the user id),
 * {@code iat}, {@code exp}, {@code jti} (a random UUID) and, when a device is given, {@code dev}.
 * {@link #verify} accepts only tokens whose header says {@code alg=HS256}, whose signature matches the secret,
 * whose {@code iss} equals the issuer, that carry an {@code exp}, whose {@code nbf} (if any) and {@code iat} (if any)
 * are not in the future, whose lifetime ({@code exp} minus {@code iat}, or minus now without {@code iat}) is at most
 * the maximum lifetime, and whose {@code sub} is a valid user id. A lifetime cap keeps a leaked or carelessly minted
 * token (e.g. {@code exp} in the year 9999) from being a permanent credential.
 *
 * <p>The secret is the UTF-8 bytes of the configured value; at least 32 bytes (256 bits) are required, so a
 * 43-character base64url string (32 random bytes) is fine.
 *
 * <p>Thread-safe and immutable; one instance can serve every connection.
 */
public final class JwtTokens {
    /** The issuer used when a configuration does not name one. */
    public static final String DEFAULT_ISSUER = "parley";
    /** The clock skew tolerated on {@code exp} and {@code iat} unless another one is given. */
    public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(30);
    /** The smallest secret accepted, in bytes. */
    public static final int MIN_SECRET_BYTES = 32;
    /** Claim name holding the pinned device id. */
    public static final String DEVICE_CLAIM = "dev";
    /** Tokens longer than this are refused before parsing. */
    public static final int MAX_TOKEN_CHARS = 8192;
    /** The longest token lifetime accepted (and minted) unless another one is given: 30 days. */
    public static final Duration DEFAULT_MAX_LIFETIME = Duration.ofDays(30);

    private final byte[] secret;
    private final String issuer;
    private final Duration clockSkew;
    private final Duration maxLifetime;
    private final Clock clock;
    private final MACSigner signer;
    private final MACVerifier verifier;

    /**
     * @param secret at least {@value #MIN_SECRET_BYTES} bytes; copied
     * @param issuer the {@code iss} written and required; not blank
     * @throws IllegalArgumentException if the secret is too short or the issuer blank
     */
    public JwtTokens(byte[] secret, String issuer) {
        this(secret, issuer, DEFAULT_CLOCK_SKEW, Clock.systemUTC());
    }

    /**
     * @param clockSkew tolerance applied to {@code exp} (a token stays valid this long after it expires) and
     *                  {@code iat} (a token may be issued this far in the future); not negative
     * @param clock     the time source for minting and verification
     */
    public JwtTokens(byte[] secret, String issuer, Duration clockSkew, Clock clock) {
        this(secret, issuer, clockSkew, DEFAULT_MAX_LIFETIME, clock);
    }

    /**
     * @param maxLifetime the longest lifetime a token may have, to be minted or accepted; positive
     */
    public JwtTokens(byte[] secret, String issuer, Duration clockSkew, Duration maxLifetime, Clock clock) {
        Objects.requireNonNull(secret, "secret");
        if (maxLifetime == null || maxLifetime.isZero() || maxLifetime.isNegative()) {
            throw new IllegalArgumentException("max lifetime must be positive: " + maxLifetime);
        }
        this.maxLifetime = maxLifetime;
        if (secret.length < MIN_SECRET_BYTES) {
            throw new IllegalArgumentException("JWT secret must be at least " + MIN_SECRET_BYTES + " bytes, got "
                    + secret.length);
        }
        if (issuer == null || issuer.isBlank()) {
            throw new IllegalArgumentException("JWT issuer must not be blank");
        }
        if (clockSkew == null || clockSkew.isNegative()) {
            throw new IllegalArgumentException("clock skew must not be negative: " + clockSkew);
        }
        this.secret = secret.clone();
        this.issuer = issuer;
        this.clockSkew = clockSkew;
        this.clock = Objects.requireNonNull(clock, "clock");
        try {
            this.signer = new MACSigner(this.secret);
            this.verifier = new MACVerifier(this.secret);
        } catch (JOSEException e) {
            throw new IllegalArgumentException("unusable JWT secret: " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@code secret} (required, its UTF-8 bytes are the key), {@code issuer} (default
     * {@value #DEFAULT_ISSUER}), {@code clock.skew.seconds} and {@code max.lifetime.seconds} from a FileInstall
     * {@code .cfg} file (java properties syntax).
     *
     * @throws IllegalArgumentException if the file cannot be read or the secret is missing or too short
     */
    public static JwtTokens fromConfig(Path cfgFile) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(cfgFile, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + cfgFile + ": " + e, e);
        }
        String secret = p.getProperty("secret", "").trim();
        if (secret.isEmpty()) {
            throw new IllegalArgumentException("no secret set in " + cfgFile
                    + " (run `bin/parley start` once to generate one, or set secret= yourself)");
        }
        String issuer = p.getProperty("issuer", DEFAULT_ISSUER).trim();
        return new JwtTokens(secret.getBytes(StandardCharsets.UTF_8), issuer.isEmpty() ? DEFAULT_ISSUER : issuer,
                Duration.ofSeconds(seconds(p, "clock.skew.seconds", DEFAULT_CLOCK_SKEW, cfgFile)),
                Duration.ofSeconds(seconds(p, "max.lifetime.seconds", DEFAULT_MAX_LIFETIME, cfgFile)),
                Clock.systemUTC());
    }

    private static long seconds(Properties p, String key, Duration absent, Path cfgFile) {
        String value = p.getProperty(key, "").trim();
        if (value.isEmpty()) {
            return absent.toSeconds();
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " in " + cfgFile + " is not a number of seconds: " + value);
        }
    }

    /** The tolerated clock difference: a token is accepted until this long after its {@code exp}. */
    public Duration clockSkew() {
        return clockSkew;
    }

    /** The longest lifetime a token may have. */
    public Duration maxLifetime() {
        return maxLifetime;
    }

    public String issuer() {
        return issuer;
    }

    /**
     * @param userId        the subject; must satisfy {@link Ids#checkUserId}
     * @param deviceIdOrNull when not null, the token is only accepted from this device
     * @param ttl           how long the token is valid; positive and at most {@link #maxLifetime()}
     * @return the compact serialization ({@code header.payload.signature})
     * @throws ParleyException          {@code INVALID_REQUEST} for an invalid user or device id
     * @throws IllegalArgumentException for a non-positive ttl or one over the maximum lifetime
     */
    public String mint(String userId, String deviceIdOrNull, Duration ttl) {
        Ids.checkUserId(userId);
        if (deviceIdOrNull != null) {
            Ids.checkDeviceId(deviceIdOrNull);
        }
        if (ttl == null || ttl.isZero() || ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must be positive: " + ttl);
        }
        if (ttl.compareTo(maxLifetime) > 0) {
            throw new IllegalArgumentException("ttl " + ttl.toSeconds() + " s is longer than the maximum token lifetime "
                    + maxLifetime.toSeconds() + " s (max.lifetime.seconds)");
        }
        // JWT times have second precision: round now down so iat never lies in the future.
        Instant now = Instant.ofEpochSecond(clock.instant().getEpochSecond());
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .subject(userId)
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(ttl)))
                .jwtID(UUID.randomUUID().toString());
        if (deviceIdOrNull != null) {
            claims.claim(DEVICE_CLAIM, deviceIdOrNull);
        }
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).type(JOSEObjectType.JWT).build(),
                claims.build());
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("HS256 signing failed", e);
        }
        return jwt.serialize();
    }

    /**
     * Checks a token presented by a client on {@code deviceId}.
     *
     * @return the principal: {@code sub} as user, {@code deviceId}, and as expiry the last instant this instance
     *         accepts the token ({@code exp} plus the clock skew): the core ends the session then, and a new hello
     *         with the same token is refused from then on
     * @throws ParleyException {@code TOKEN_EXPIRED} if {@code exp} is more than the clock skew in the past;
     *                         {@code UNAUTHENTICATED} for anything else wrong (malformed, not HS256, bad signature,
     *                         other issuer, no {@code exp}, issued in the future or not valid yet ({@code nbf}),
     *                         a lifetime over the maximum, invalid subject or device id, or a pinned {@code dev}
     *                         that differs from {@code deviceId})
     */
    public Principal verify(String token, String deviceId) {
        if (token == null || token.isEmpty()) {
            throw unauthenticated("missing token");
        }
        if (token.length() > MAX_TOKEN_CHARS) {
            throw unauthenticated("token too long");
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (ParseException | RuntimeException e) {
            throw unauthenticated("malformed token");
        }
        if (!JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm())) {
            throw unauthenticated("token algorithm not accepted: " + jwt.getHeader().getAlgorithm());
        }
        boolean valid;
        try {
            valid = jwt.verify(verifier);
        } catch (JOSEException | RuntimeException e) {
            valid = false;
        }
        if (!valid) {
            throw unauthenticated("bad token signature");
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw unauthenticated("malformed token claims");
        }
        if (!issuer.equals(claims.getIssuer())) {
            throw unauthenticated("token issuer not accepted");
        }
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            throw unauthenticated("token has no expiry");
        }
        if (exp.getTime() < 0) { // before 1970: an exp past ~2.9e11 s overflows milliseconds and wraps around
            throw unauthenticated("token expiry is out of range");
        }
        Instant now = clock.instant();
        Instant expiresAt = exp.toInstant();
        if (now.isAfter(expiresAt.plus(clockSkew))) {
            throw new ParleyException(ErrorCode.ERROR_CODE_TOKEN_EXPIRED, "token expired at " + expiresAt);
        }
        Date iat = claims.getIssueTime();
        if (iat != null && iat.toInstant().isAfter(now.plus(clockSkew))) {
            throw unauthenticated("token issued in the future");
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && nbf.toInstant().isAfter(now.plus(clockSkew))) {
            throw unauthenticated("token not valid before " + nbf.toInstant());
        }
        Instant start = iat != null ? iat.toInstant() : now;
        if (Duration.between(start, expiresAt).compareTo(maxLifetime.plus(iat != null ? Duration.ZERO : clockSkew)) > 0) {
            throw unauthenticated("token lifetime is longer than the " + maxLifetime.toSeconds()
                    + " s this server accepts");
        }
        String userId = claims.getSubject();
        // a JSON string (RFC 7519), as sent: the claims set turns a number into its decimal digits
        Map<String, Object> payload = jwt.getPayload().toJSONObject();
        if (payload == null || !(payload.get(JWTClaimNames.SUBJECT) instanceof String) || !Ids.isValidId(userId)) {
            throw unauthenticated("token subject is not a valid user id");
        }
        if (!Ids.isValidId(deviceId)) {
            throw unauthenticated("invalid device id");
        }
        Object pinned = claims.getClaim(DEVICE_CLAIM);
        if (pinned != null && !pinned.equals(deviceId)) {
            throw unauthenticated("token is not valid for this device");
        }
        return new Principal(userId, deviceId, expiresAt.plus(clockSkew));
    }

    private static ParleyException unauthenticated(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAUTHENTICATED, message);
    }

    @Override
    public String toString() {
        // never print the secret
        return "JwtTokens[issuer=" + issuer + ", skew=" + clockSkew + ", maxLifetime=" + maxLifetime + ", secretBytes="
                + secret.length + "]";
    }
}
