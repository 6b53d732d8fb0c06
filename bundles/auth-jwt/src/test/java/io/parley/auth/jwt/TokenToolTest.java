package io.parley.auth.jwt;

import io.parley.core.api.Principal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenToolTest {
    static final String SECRET = "0123456789abcdef0123456789abcdef-parley-test";

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = TokenTool.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void mintsAVerifiableTokenWithDeviceAndTtl(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("parley.auth.jwt.cfg");
        Files.writeString(cfg, "secret=" + SECRET + "\nissuer=parley\n");
        Result r = run("alice", "--device", "phone-1", "--ttl", "30m", "--config", cfg.toString());
        assertEquals(0, r.code(), r.err());
        String token = r.out().trim();
        assertEquals(r.out(), token + System.lineSeparator(), "only the token is printed");
        Principal p = new JwtTokens(SECRET.getBytes(StandardCharsets.UTF_8), "parley").verify(token, "phone-1");
        assertEquals("alice", p.userId());
        Duration left = Duration.between(Instant.now(), p.expiresAt());
        assertTrue(left.compareTo(Duration.ofMinutes(29)) > 0 && left.compareTo(Duration.ofMinutes(31)) < 0, left::toString);
    }

    @Test
    void errorsAreReportedWithExitCodes(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("parley.auth.jwt.cfg");
        Files.writeString(cfg, "secret=\n");
        assertEquals(2, run().code());
        assertEquals(2, run("alice", "--ttl").code());
        assertEquals(2, run("alice", "--ttl", "5x", "--config", cfg.toString()).code());
        assertEquals(2, run("alice", "bob").code());
        Result noSecret = run("alice", "--config", cfg.toString());
        assertEquals(1, noSecret.code());
        assertTrue(noSecret.err().contains("no secret"), noSecret.err());
        assertEquals(1, run("alice", "--config", dir.resolve("nope.cfg").toString()).code());
        Files.writeString(cfg, "secret=" + SECRET + "\n");
        Result badUser = run("not valid", "--config", cfg.toString());
        assertEquals(1, badUser.code());
        assertTrue(badUser.err().contains("invalid user id"), badUser.err());
    }

    @Test
    void durations() {
        assertEquals(Duration.ofSeconds(45), TokenTool.parseDuration("45s"));
        assertEquals(Duration.ofMinutes(30), TokenTool.parseDuration("30m"));
        assertEquals(Duration.ofHours(12), TokenTool.parseDuration("12h"));
        assertEquals(Duration.ofDays(7), TokenTool.parseDuration("7d"));
        assertEquals(Duration.ofMinutes(90), TokenTool.parseDuration("PT90M"));
        assertThrows(IllegalArgumentException.class, () -> TokenTool.parseDuration("0m"));
        assertThrows(IllegalArgumentException.class, () -> TokenTool.parseDuration("-5m"));
        assertThrows(IllegalArgumentException.class, () -> TokenTool.parseDuration("m"));
        assertThrows(IllegalArgumentException.class, () -> TokenTool.parseDuration("10w"));
    }
}
