package io.parley.auth.jwt;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ErrorCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.Date;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JwtTokensTest {
    static final byte[] SECRET = "0123456789abcdef0123456789abcdef-parley-test".getBytes(StandardCharsets.UTF_8);
    static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

    static JwtTokens at(Instant now) {
        return new JwtTokens(SECRET, "parley", Duration.ofSeconds(30), Clock.fixed(now, ZoneOffset.UTC));
    }

    static void assertCode(ErrorCode expected, Runnable r) {
        ParleyException e = assertThrows(ParleyException.class, r::run);
        assertEquals(expected, e.code(), e.getMessage());
    }

    @Test
    void roundTrip() {
        JwtTokens tokens = new JwtTokens(SECRET, "parley");
        String token = tokens.mint("alice", null, Duration.ofHours(1));
        assertEquals(3, token.split("\\.").length);
        Principal p = tokens.verify(token, "phone-1");
        assertEquals("alice", p.userId());
        assertEquals("phone-1", p.deviceId());
        Instant exp = p.expiresAt();
        assertTrue(exp.isAfter(Instant.now().plus(Duration.ofMinutes(59))) && exp.isBefore(Instant.now().plus(Duration.ofMinutes(61))), exp::toString);
        // the same token works on any device when not pinned
        assertEquals("laptop", tokens.verify(token, "laptop").deviceId());
        // the principal lasts as long as the token is accepted: exp plus the clock skew
        assertEquals(T0.plus(Duration.ofHours(1)).plusSeconds(30),
                at(T0).verify(at(T0).mint("alice", null, Duration.ofHours(1)), "d").expiresAt());
    }

    @Test
    void tokensAreUnique() {
        JwtTokens tokens = at(T0);
        assertNotEquals(tokens.mint("alice", null, Duration.ofHours(1)), tokens.mint("alice", null, Duration.ofHours(1)));
    }

    @Test
    void expiredTokenIsRejectedAfterClockSkew() {
        String token = at(T0).mint("alice", null, Duration.ofMinutes(5));
        // within exp
        at(T0.plusSeconds(299)).verify(token, "d1");
        // past exp but within the 30 s skew
        at(T0.plusSeconds(300 + 29)).verify(token, "d1");
        assertCode(ErrorCode.ERROR_CODE_TOKEN_EXPIRED, () -> at(T0.plusSeconds(300 + 31)).verify(token, "d1"));
    }

    @Test
    void skewIsConfigurable() {
        String token = at(T0).mint("alice", null, Duration.ofMinutes(5));
        JwtTokens strict = new JwtTokens(SECRET, "parley", Duration.ZERO, Clock.fixed(T0.plusSeconds(301), ZoneOffset.UTC));
        assertCode(ErrorCode.ERROR_CODE_TOKEN_EXPIRED, () -> strict.verify(token, "d1"));
    }

    @Test
    void tokenFromTheFutureIsRejected() {
        String token = at(T0.plusSeconds(3600)).mint("alice", null, Duration.ofHours(2));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(token, "d1"));
        at(T0.plusSeconds(3600 - 20)).verify(token, "d1");
    }

    @Test
    void wrongSecretIsRejected() {
        String token = at(T0).mint("alice", null, Duration.ofHours(1));
        JwtTokens other = new JwtTokens("another-secret-that-is-long-enough-32b".getBytes(StandardCharsets.UTF_8), "parley",
                Duration.ofSeconds(30), Clock.fixed(T0, ZoneOffset.UTC));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> other.verify(token, "d1"));
    }

    @Test
    void wrongIssuerIsRejected() {
        String token = at(T0).mint("alice", null, Duration.ofHours(1));
        JwtTokens other = new JwtTokens(SECRET, "someone-else", Duration.ofSeconds(30), Clock.fixed(T0, ZoneOffset.UTC));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> other.verify(token, "d1"));
    }

    @Test
    void tamperedPayloadIsRejected() {
        String token = at(T0).mint("alice", null, Duration.ofHours(1));
        String[] parts = token.split("\\.");
        String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        assertTrue(payload.contains("\"alice\""), payload);
        String forged = Base64.getUrlEncoder().withoutPadding()
                .encodeToString(payload.replace("\"alice\"", "\"admin\"").getBytes(StandardCharsets.UTF_8));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(parts[0] + "." + forged + "." + parts[2], "d1"));
        // a flipped signature character
        char last = parts[2].charAt(0);
        String badSig = (last == 'A' ? 'B' : 'A') + parts[2].substring(1);
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(parts[0] + "." + parts[1] + "." + badSig, "d1"));
    }

    @Test
    void algNoneIsRejected() {
        String plain = new PlainJWT(claims("alice")).serialize();   // header {"alg":"none"}, empty signature
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(plain, "d1"));
        // the classic attack: a valid HS256 token with its header swapped to alg none and the signature dropped
        String token = at(T0).mint("alice", null, Duration.ofHours(1));
        String noneHeader = Base64.getUrlEncoder().withoutPadding()
                .encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String[] parts = token.split("\\.");
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(noneHeader + "." + parts[1] + ".", "d1"));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(noneHeader + "." + parts[1] + "." + parts[2], "d1"));
    }

    @Test
    void hs512IsRejectedEvenWithTheRightSecret() throws Exception {
        byte[] longSecret = new byte[64];
        System.arraycopy(SECRET, 0, longSecret, 0, SECRET.length);
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS512), claims("alice"));
        jwt.sign(new MACSigner(longSecret));
        JwtTokens tokens = new JwtTokens(longSecret, "parley", Duration.ofSeconds(30), Clock.fixed(T0, ZoneOffset.UTC));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> tokens.verify(jwt.serialize(), "d1"));
    }

    @Test
    void rs256IsRejected() throws Exception {
        KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
        gen.initialize(2048);
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.RS256), claims("alice"));
        jwt.sign(new RSASSASigner(gen.generateKeyPair().getPrivate()));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(jwt.serialize(), "d1"));
    }

    @Test
    void malformedTokensAreRejected() {
        for (String bad : new String[] {"", "abc", "a.b.c", "....", "x".repeat(JwtTokens.MAX_TOKEN_CHARS + 1)}) {
            assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(bad, "d1"));
        }
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(null, "d1"));
    }

    @Test
    void tokenWithoutExpiryIsRejected() throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256),
                new JWTClaimsSet.Builder().issuer("parley").subject("alice").build());
        jwt.sign(new MACSigner(SECRET));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(jwt.serialize(), "d1"));
    }

    @Test
    void aSubjectThatIsNotAJsonStringIsRefused() throws Exception {
        JWTClaimsSet.Builder c = new JWTClaimsSet.Builder().issuer("parley").expirationTime(Date.from(T0.plusSeconds(60)));
        String number = signed(c.claim("sub", 12345).build());
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(number, "d1"));
        assertEquals("12345", at(T0).verify(signed(c.subject("12345").build()), "d1").userId(), "as a string it is fine");
    }

    @Test
    void anExpiryTooLargeForMillisecondsIsRefusedAsOutOfRangeNotAsExpired() throws Exception {
        // 9e18 s: in milliseconds it wraps around to a date before 1970
        String huge = signed(new JWTClaimsSet.Builder().issuer("parley").subject("alice")
                .claim("exp", 9_000_000_000_000_000_000L).build());
        ParleyException e = assertThrows(ParleyException.class, () -> at(T0).verify(huge, "d1"));
        assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("token expiry is out of range"), e.getMessage());
    }

    private static String signed(JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(SECRET));
        return jwt.serialize();
    }

    @Test
    void tokenNotValidYetIsRejected() throws Exception {
        JWTClaimsSet.Builder c = new JWTClaimsSet.Builder().issuer("parley").subject("alice")
                .issueTime(Date.from(T0)).expirationTime(Date.from(T0.plusSeconds(3600)));
        String later = signed(c.notBeforeTime(Date.from(T0.plusSeconds(600))).build());
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(later, "d1"));
        assertEquals("alice", at(T0.plusSeconds(600)).verify(later, "d1").userId(), "valid from nbf on");
        // within the clock skew
        String soon = signed(c.notBeforeTime(Date.from(T0.plusSeconds(20))).build());
        assertEquals("alice", at(T0).verify(soon, "d1").userId());
    }

    @Test
    void tokenLivingLongerThanTheMaximumIsRejected() throws Exception {
        // exp in the year 9999, with and without iat
        Date far = Date.from(Instant.parse("9999-12-31T00:00:00Z"));
        String withIat = signed(new JWTClaimsSet.Builder().issuer("parley").subject("alice")
                .issueTime(Date.from(T0)).expirationTime(far).build());
        String withoutIat = signed(new JWTClaimsSet.Builder().issuer("parley").subject("alice").expirationTime(far).build());
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(withIat, "d1"));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(withoutIat, "d1"));
        // exactly the maximum (30 days by default) is accepted; a second more is not
        String max = signed(new JWTClaimsSet.Builder().issuer("parley").subject("alice").issueTime(Date.from(T0))
                .expirationTime(Date.from(T0.plus(JwtTokens.DEFAULT_MAX_LIFETIME))).build());
        assertEquals("alice", at(T0).verify(max, "d1").userId());
        String over = signed(new JWTClaimsSet.Builder().issuer("parley").subject("alice").issueTime(Date.from(T0))
                .expirationTime(Date.from(T0.plus(JwtTokens.DEFAULT_MAX_LIFETIME).plusSeconds(1))).build());
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(over, "d1"));
        // a configured maximum applies to minting and to verifying
        JwtTokens hour = new JwtTokens(SECRET, "parley", Duration.ofSeconds(30), Duration.ofHours(1),
                Clock.fixed(T0, ZoneOffset.UTC));
        assertThrows(IllegalArgumentException.class, () -> hour.mint("alice", null, Duration.ofHours(2)));
        String day = at(T0).mint("alice", null, Duration.ofDays(1));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> hour.verify(day, "d1"));
        assertEquals("alice", hour.verify(hour.mint("alice", null, Duration.ofHours(1)), "d1").userId());
        assertThrows(IllegalArgumentException.class, () -> at(T0).mint("alice", null, Duration.ofDays(31)));
    }

    @Test
    void devicePinning() {
        String token = at(T0).mint("alice", "phone-1", Duration.ofHours(1));
        assertEquals("phone-1", at(T0).verify(token, "phone-1").deviceId());
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(token, "laptop"));
    }

    @Test
    void invalidDeviceIdAtVerifyIsRejected() {
        String token = at(T0).mint("alice", null, Duration.ofHours(1));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(token, "bad device"));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(token, null));
    }

    @Test
    void badUserIdIsRefusedWhenMintingAndWhenVerifying() throws Exception {
        assertCode(ErrorCode.ERROR_CODE_INVALID_REQUEST, () -> at(T0).mint("bad user", null, Duration.ofHours(1)));
        assertCode(ErrorCode.ERROR_CODE_INVALID_REQUEST, () -> at(T0).mint("", null, Duration.ofHours(1)));
        assertCode(ErrorCode.ERROR_CODE_INVALID_REQUEST, () -> at(T0).mint("x".repeat(65), null, Duration.ofHours(1)));
        assertCode(ErrorCode.ERROR_CODE_INVALID_REQUEST, () -> at(T0).mint("alice", "bad/device", Duration.ofHours(1)));
        // a correctly signed token whose subject breaks the id rules (minted by someone else's code)
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims("no spaces allowed"));
        jwt.sign(new MACSigner(SECRET));
        assertCode(ErrorCode.ERROR_CODE_UNAUTHENTICATED, () -> at(T0).verify(jwt.serialize(), "d1"));
    }

    @Test
    void constructorRejectsShortSecretsAndBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> new JwtTokens(new byte[31], "parley"));
        assertThrows(IllegalArgumentException.class, () -> new JwtTokens(SECRET, " "));
        assertThrows(IllegalArgumentException.class, () -> at(T0).mint("alice", null, Duration.ZERO));
        new JwtTokens(new byte[32], "parley");
    }

    @Test
    void fromConfig(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("parley.auth.jwt.cfg");
        Files.writeString(cfg, "# comment\nsecret=" + new String(SECRET, StandardCharsets.UTF_8) + "\nissuer=acme\nclock.skew.seconds=30\n");
        JwtTokens fromFile = JwtTokens.fromConfig(cfg);
        assertEquals("acme", fromFile.issuer());
        String token = fromFile.mint("bob", null, Duration.ofMinutes(1));
        assertEquals("bob", new JwtTokens(SECRET, "acme").verify(token, "d").userId());

        Files.writeString(cfg, "secret=" + new String(SECRET, StandardCharsets.UTF_8) + "\nmax.lifetime.seconds=3600\n");
        assertEquals(Duration.ofHours(1), JwtTokens.fromConfig(cfg).maxLifetime());
        assertThrows(IllegalArgumentException.class, () -> JwtTokens.fromConfig(cfg).mint("bob", null, Duration.ofHours(2)));
        Files.writeString(cfg, "secret=\nissuer=parley\n");
        assertThrows(IllegalArgumentException.class, () -> JwtTokens.fromConfig(cfg));
        Files.writeString(cfg, "secret=too-short\n");
        assertThrows(IllegalArgumentException.class, () -> JwtTokens.fromConfig(cfg));
        assertThrows(IllegalArgumentException.class, () -> JwtTokens.fromConfig(dir.resolve("missing.cfg")));
    }

    @Test
    void shippedDefaultConfigHasEveryKeyAndAnEmptySecret() throws Exception {
        Path shipped = Path.of("src/main/conf/parley.auth.jwt.cfg");
        java.util.Properties p = new java.util.Properties();
        try (var r = Files.newBufferedReader(shipped)) {
            p.load(r);
        }
        assertEquals("", p.getProperty("secret"));
        assertEquals("parley", p.getProperty("issuer"));
        assertEquals("30", p.getProperty("clock.skew.seconds"));
        assertEquals(String.valueOf(JwtTokens.DEFAULT_MAX_LIFETIME.toSeconds()), p.getProperty("max.lifetime.seconds"));
    }

    private static JWTClaimsSet claims(String sub) {
        return new JWTClaimsSet.Builder().issuer("parley").subject(sub)
                .issueTime(Date.from(T0)).expirationTime(Date.from(T0.plusSeconds(3600))).build();
    }
}
