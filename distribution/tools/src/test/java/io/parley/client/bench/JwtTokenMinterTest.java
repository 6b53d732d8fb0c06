package io.parley.client.bench;

import io.parley.auth.jwt.JwtTokens;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JwtTokenMinterTest {
    private static final String SECRET = "0123456789abcdef0123456789abcdef-bench";

    @Test
    void mintsTokensTheServerSideVerifies(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("parley.auth.jwt.cfg");
        Files.writeString(cfg, "# test\nsecret=" + SECRET + "\nissuer=acme\n", StandardCharsets.UTF_8);
        JwtTokens verifier = new JwtTokens(SECRET.getBytes(StandardCharsets.UTF_8), "acme");

        String fromFile = JwtTokenMinter.fromConfig(cfg, Duration.ofMinutes(5)).mint("bench-00001", "bench");
        assertEquals("bench-00001", verifier.verify(fromFile, "bench").userId());

        String fromSecret = JwtTokenMinter.fromSecret(SECRET, "acme", Duration.ofMinutes(5)).mint("bench-00002", "bench");
        assertEquals("bench-00002", verifier.verify(fromSecret, "bench").userId());
    }
}
