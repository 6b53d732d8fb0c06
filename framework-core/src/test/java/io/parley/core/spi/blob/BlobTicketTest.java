package io.parley.core.spi.blob;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlobTicketTest {
    static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);
    static final Instant NOW = Instant.parse("2026-12-06T10:00:00Z");
    final BlobTicket ticket = new BlobTicket(BlobTicket.Access.UPLOAD, "f/alice/20261206/abc", "alice", 1234,
            "image/png", NOW.plusSeconds(60));

    @Test
    void aSignedTicketVerifiesUntilItExpires() throws Exception {
        String token = ticket.sign(SECRET);
        assertEquals(ticket, BlobTicket.verify(token, SECRET, NOW));
        assertEquals(ticket, BlobTicket.verify(token, SECRET, NOW.plusSeconds(60)));
        BlobTicket.InvalidTicketException expired = assertThrows(BlobTicket.InvalidTicketException.class,
                () -> BlobTicket.verify(token, SECRET, NOW.plusSeconds(61)));
        assertEquals(BlobTicket.Problem.EXPIRED, expired.problem());
        assertEquals("ticket expired", expired.getMessage());
    }

    @Test
    void anyChangeOrAnotherSecretBreaksTheSignature() throws Exception {
        String token = ticket.sign(SECRET);
        byte[] other = "another secret, long enough: 32+ bytes".getBytes(StandardCharsets.UTF_8);
        assertEquals(BlobTicket.Problem.BAD_SIGNATURE, assertThrows(BlobTicket.InvalidTicketException.class,
                () -> BlobTicket.verify(token, other, NOW)).problem());
        // the same fields for another key, signature kept
        String fields = new String(Base64.getUrlDecoder().decode(token.substring(0, token.indexOf('.'))),
                StandardCharsets.US_ASCII).replace("f/alice/20261206/abc", "f/alice/20261206/abd");
        String forged = Base64.getUrlEncoder().withoutPadding().encodeToString(fields.getBytes(StandardCharsets.US_ASCII))
                + token.substring(token.indexOf('.'));
        assertEquals(BlobTicket.Problem.BAD_SIGNATURE, assertThrows(BlobTicket.InvalidTicketException.class,
                () -> BlobTicket.verify(forged, SECRET, NOW)).problem());
        for (String malformed : new String[] {"", ".", "abc", "a.b.c", "!!!.###", "x".repeat(2000), null}) {
            assertThrows(BlobTicket.InvalidTicketException.class, () -> BlobTicket.verify(malformed, SECRET, NOW));
        }
        assertThrows(IllegalArgumentException.class, () -> ticket.sign("short".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void keysAndFieldsAreChecked() {
        for (String good : new String[] {"a", "f/alice/20261206/x", "a.b/c-d_e", "x.thumb", "a".repeat(200)}) {
            assertTrue(BlobTicket.validKey(good), good);
        }
        for (String bad : new String[] {"", "/a", "a/", "a//b", "../a", "a/..", "a/./b", ".", "a b", "a\\b", "a%2Fb",
                "a".repeat(201), null}) {
            assertFalse(BlobTicket.validKey(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> new BlobTicket(BlobTicket.Access.DOWNLOAD, "../x", "alice",
                1, "text/plain", NOW));
        assertThrows(IllegalArgumentException.class, () -> new BlobTicket(BlobTicket.Access.DOWNLOAD, "x", "al|ce",
                1, "text/plain", NOW));
        assertThrows(IllegalArgumentException.class, () -> new BlobTicket(BlobTicket.Access.DOWNLOAD, "x", "alice",
                1, "text/plain; charset=utf-8", NOW));
        assertThrows(IllegalArgumentException.class, () -> new BlobTicket(BlobTicket.Access.DOWNLOAD, "x", "alice",
                -1, "text/plain", NOW));
    }
}
