package io.parley.type.support;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.blob.BlobTicket;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlobLinksTest {
    static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);
    static final Instant EXPIRES = Instant.parse("2026-03-01T10:05:00Z");

    @Test
    void thePublicUrlMustBeHttpOrHttpsWithAHost() {
        for (String ok : new String[] {"http://127.0.0.1:7702", "https://chat.example.com/", "https://x/base"}) {
            assertEquals(URI.create(ok), BlobLinks.checkPublicUrl(URI.create(ok)));
        }
        for (String bad : new String[] {"ftp://x", "file:///tmp", "https:relative", "/blobs"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new BlobLinks(URI.create(bad), SECRET));
            assertEquals("public.url must be an http(s) URL: " + bad, e.getMessage());
        }
        assertThrows(NullPointerException.class, () -> BlobLinks.checkPublicUrl(null));
    }

    @Test
    void theSecretIsTrimmedAndRequiredWithAMessageNamingTheKey() {
        assertEquals(0, BlobLinks.secretOf(null).length);
        assertEquals(0, BlobLinks.secretOf("  ").length);
        assertArrayEquals(SECRET, BlobLinks.secretOf(" " + new String(SECRET, StandardCharsets.UTF_8) + "\n"));

        BlobLinks none = new BlobLinks(URI.create("https://x"), BlobLinks.secretOf("k".repeat(31)));
        IllegalStateException missing = assertThrows(IllegalStateException.class, none::requireSecret);
        assertEquals("no ticket.secret of at least 32 bytes in conf/parley.blob.cfg", missing.getMessage());
        ParleyException refused = assertThrows(ParleyException.class, none::ticketSecret);
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refused.code());
        assertFalse(refused.retryable(), "a configuration problem: retrying does not help");
        assertEquals(missing.getMessage(), refused.getMessage());

        byte[] given = SECRET.clone();
        BlobLinks links = new BlobLinks(URI.create("https://x"), given);
        given[0] = 'X';
        assertArrayEquals(SECRET, links.requireSecret(), "copied in");
        links.requireSecret()[0] = 'Y';
        assertArrayEquals(SECRET, links.ticketSecret(), "copied out");
    }

    @Test
    void blobUrlsHangOffThePublicUrlWithOrWithoutItsSlash() {
        assertEquals("https://chat.example.com/blobs/f/a/b", new BlobLinks(URI.create("https://chat.example.com/"),
                SECRET).blobUrl("f/a/b"));
        assertEquals("http://h:7702/base/blobs/k", new BlobLinks(URI.create("http://h:7702/base"), SECRET)
                .blobUrl("k"));
    }

    @Test
    void aDownloadUrlIsTheStoresOwnWhenItHasOneElseASignedDownloadTicket() throws Exception {
        BlobLinks links = new BlobLinks(URI.create("https://chat.example.com/"), SECRET);
        String url = links.downloadUrl(new MemoryBlobs(null), "s/cats/hello/ab", 123, "image/png", "alice",
                Duration.ofMinutes(5), EXPIRES);
        String prefix = "https://chat.example.com/blobs/s/cats/hello/ab?ticket=";
        assertTrue(url.startsWith(prefix), url);
        BlobTicket ticket = BlobTicket.verify(url.substring(prefix.length()), SECRET, EXPIRES.minusSeconds(1));
        assertEquals(new BlobTicket(BlobTicket.Access.DOWNLOAD, "s/cats/hello/ab", "alice", 123, "image/png",
                EXPIRES), ticket);

        assertEquals("https://cdn.example.com/k?seconds=300", links.downloadUrl(new MemoryBlobs(
                "https://cdn.example.com/"), "k", 1, "image/png", "alice", Duration.ofMinutes(5), EXPIRES));
    }

    @Test
    void theSecretIsNeededOnlyForATicket() {
        BlobLinks none = new BlobLinks(URI.create("https://chat.example.com/"), new byte[0]);
        assertEquals("https://cdn.example.com/k?seconds=60", none.downloadUrl(new MemoryBlobs(
                "https://cdn.example.com/"), "k", 1, "image/png", "alice", Duration.ofMinutes(1), EXPIRES));
        ParleyException refused = assertThrows(ParleyException.class, () -> none.downloadUrl(new MemoryBlobs(null),
                "k", 1, "image/png", "alice", Duration.ofMinutes(1), EXPIRES));
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refused.code());
        assertTrue(refused.getMessage().contains("ticket.secret"), refused.getMessage());
    }
}
