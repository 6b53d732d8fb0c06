package io.parley.type.file;

import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;
import io.parley.type.file.proto.UploadRequest;
import io.parley.type.support.BlobKeys;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileRulesTest {
    static final String SHA = "a".repeat(64);
    final BlobKeys keys = new BlobKeys();

    @Test
    void keysAreServerChosenPerUserAndDayAndUnguessable() {
        String a = keys.newKey("alice", 1_780_000_000_000L);
        String b = keys.newKey("alice", 1_780_000_000_000L);
        assertTrue(a.matches("f/alice/\\d{8}/[0-9A-Za-z]{22}"), a);
        assertFalse(a.equals(b));
        assertTrue(BlobKeys.ownedBy(a, "alice"));
        assertFalse(BlobKeys.ownedBy(a, "alic"));
        assertFalse(BlobKeys.ownedBy(a, "bob"));
        assertFalse(BlobKeys.ownedBy(BlobKeys.thumbnail(a), "alice"));
        assertFalse(BlobKeys.ownedBy("f/alice/x", "alice"));
        assertFalse(BlobKeys.ownedBy("f/alice/a/b/c", "alice"));
    }

    @Test
    void pendingMarkersCarryTheirKeyAndSize() {
        String marker = BlobKeys.pending("f/alice/20261206/abc", 1234);
        assertEquals("p/f/alice/20261206/abc/1234", marker);
        assertEquals("f/alice/20261206/abc", BlobKeys.keyOfPending(marker));
        assertEquals(1234, BlobKeys.sizeOfPending(marker).getAsLong());
        assertTrue(marker.startsWith(BlobKeys.pendingPrefix("f/alice/20261206/abc")));
        assertNull(BlobKeys.keyOfPending("c/f/alice/20261206/abc"));
    }

    @Test
    void uploadRequests() {
        assertNull(FileRules.checkUpload(UploadRequest.newBuilder().setName("report.pdf").setSize(1)
                .setContentType("application/pdf").build()));
        assertNotNull(FileRules.checkUpload(UploadRequest.newBuilder().setName("report.pdf").setSize(0)
                .setContentType("application/pdf").build()));
        assertNotNull(FileRules.checkUpload(UploadRequest.newBuilder().setName("r.pdf").setSize(1)
                .setContentType("application/pdf; charset=x").build()));
        for (String bad : new String[] {"", " ", "a/b", "a\\b", "a\nb", "x".repeat(256), "a\u0000"}) {
            assertNotNull(FileRules.checkName(bad), bad);
        }
        assertNull(FileRules.checkName("Résumé 2026 (final).pdf"));
        assertNotNull(FileRules.checkSize(101, 100));
        assertNull(FileRules.checkSize(100, 100));
        assertNotNull(FileRules.checkSize(-1, 100), "2^64 - 1 as a uint64");
    }

    @Test
    void bodiesMustNameTheSendersOwnUpload() {
        String key = keys.newKey("alice", 0);
        File ok = File.newBuilder().setKey(key).setName("a.txt").setSize(3).setContentType("text/plain").setSha256(SHA)
                .build();
        assertNull(FileRules.checkFile(ok, "alice"));
        assertTrue(FileRules.checkFile(ok, "bob").contains("key"));
        assertNotNull(FileRules.checkFile(ok.toBuilder().setKey("f/alice/../bob/x").build(), "alice"));
        assertNotNull(FileRules.checkFile(ok.toBuilder().setSha256("A".repeat(64)).build(), "alice"));
        assertNotNull(FileRules.checkFile(ok.toBuilder().setSize(0).build(), "alice"));
        Image image = Image.newBuilder().setKey(key).setName("p.png").setSize(3).setContentType("image/png")
                .setSha256(SHA).build();
        assertNull(FileRules.checkImage(image, "alice"));
        assertTrue(FileRules.checkImage(image.toBuilder().setContentType("image/svg+xml").build(), "alice")
                .contains("image/svg+xml"));
    }
}
