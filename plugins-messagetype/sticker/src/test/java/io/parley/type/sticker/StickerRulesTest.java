package io.parley.type.sticker;

import com.google.protobuf.ByteString;
import io.parley.type.sticker.proto.StickerPackPut;
import io.parley.type.sticker.proto.StickerPut;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StickerRulesTest {

    final StickerImages images = new StickerImages(1024);

    @Test
    void idsAreShortLowerCaseWords() {
        for (String ok : new String[] {"cats", "a", "a_b-1", "x".repeat(64)}) {
            assertTrue(StickerRules.validId(ok), ok);
        }
        for (String bad : new String[] {null, "", "Cats", "a b", "a/b", "a.b", "é", "x".repeat(65)}) {
            assertFalse(StickerRules.validId(bad), bad);
        }
    }

    @Test
    void namesHaveOneToAHundredCharactersAndNoControlCharacters() {
        assertNull(StickerRules.checkName("s", "Happy cat"));
        assertNull(StickerRules.checkName("s", "😀".repeat(100)), "code points are counted, not chars");
        assertTrue(StickerRules.checkName("sticker \"a\"", "").contains("sticker \"a\" needs a name"));
        assertTrue(StickerRules.checkName("s", "  ").contains("needs a name"));
        assertTrue(StickerRules.checkName("s", "x".repeat(101)).contains("101 characters; at most 100"));
        assertTrue(StickerRules.checkName("s", "a\nb").contains("control characters"));
        assertTrue(StickerRules.checkName("s", "a\u0000b").contains("control characters"));
    }

    @Test
    void aPutNeedsAValidIdNameAndOneToTwoHundredDistinctStickersOfTheFourTypesWithinTheByteLimit() {
        StickerPut ok = sticker("a", "image/png", 100);
        assertNull(StickerRules.checkPut(pack("cats", "Cats", ok), 1000));
        assertNull(StickerRules.checkPut(pack("cats", "Cats", StickerPut.newBuilder().setId("a").setName("A").build()),
                1000), "a sticker without an image keeps its current one: checked against the pack later");
        assertTrue(StickerRules.checkPut(pack("Cats", "Cats", ok), 1000).contains("pack id"));
        assertTrue(StickerRules.checkPut(pack("cats", "", ok), 1000).contains("sticker pack \"cats\" needs a name"));
        assertTrue(StickerRules.checkPut(pack("cats", "Cats"), 1000).contains("1-200 stickers, not 0"));
        StickerPut[] many = new StickerPut[201];
        for (int i = 0; i < many.length; i++) {
            many[i] = sticker("s" + i, "image/png", 1);
        }
        assertTrue(StickerRules.checkPut(pack("cats", "Cats", many), 1000).contains("not 201"));
        assertNull(StickerRules.checkPut(pack("cats", "Cats", Arrays.copyOf(many, 200)), 1000));
        assertTrue(StickerRules.checkPut(pack("cats", "Cats", ok, ok), 1000).contains("sticker \"a\" is in the pack twice"));
        assertTrue(StickerRules.checkPut(pack("cats", "Cats", sticker("A", "image/png", 1)), 1000)
                .contains("sticker id"));
        assertTrue(StickerRules.checkPut(pack("cats", "Cats", ok.toBuilder().setName("").build()), 1000)
                .contains("sticker \"a\" needs a name"));
        String bmp = StickerRules.checkPut(pack("cats", "Cats", sticker("b", "image/bmp", 1)), 1000);
        assertTrue(bmp.contains("sticker \"b\": content_type must be one of image/gif, image/jpeg, image/png, "
                + "image/webp"), bmp);
        assertTrue(StickerRules.checkPut(pack("cats", "Cats", sticker("big", "image/png", 1001)), 1000)
                .contains("sticker \"big\": the image has 1001 bytes; at most 1000"));
    }

    @Test
    void keysAreContentAddressedAndManifestKeysSortByVersion() {
        assertEquals("s/cats/m/00000000000000000042", StickerRules.manifestKey("cats", 42));
        assertEquals(new StickerRules.ManifestKey("cats", 42),
                StickerRules.parseManifestKey("s/cats/m/00000000000000000042"));
        String sha = "ab".repeat(32);
        assertEquals("s/cats/m/" + sha, StickerRules.imageKey("cats", "m", sha), "a sticker may be called m");
        assertNull(StickerRules.parseManifestKey(StickerRules.imageKey("cats", "m", sha)));
        assertNull(StickerRules.parseManifestKey("s/cats/m/42"));
        assertNull(StickerRules.parseManifestKey("s/cats/m/99999999999999999999"), "past a long: not a version");
        assertTrue(StickerRules.manifestKey("cats", 9).compareTo(StickerRules.manifestKey("cats", 10)) < 0);
        assertTrue(io.parley.core.spi.blob.BlobTicket.validKey(
                StickerRules.imageKey("x".repeat(64), "y".repeat(64), sha)), "the longest image key is a valid key");
    }

    @Test
    void pngGifAndJpegImagesAreMeasuredAndDecoded() throws Exception {
        assertEquals(new StickerImages.Checked("image/png", 64, 48),
                images.check(TestImages.image("png", 64, 48, 1), "image/png"));
        assertEquals(new StickerImages.Checked("image/gif", 30, 20),
                images.check(TestImages.image("gif", 30, 20, 1), "image/gif"));
        assertEquals(new StickerImages.Checked("image/jpeg", 1024, 16),
                images.check(TestImages.image("jpeg", 1024, 16, 1), "image/jpeg"));
    }

    @Test
    void anOversizedImageIsRefusedFromItsHeaderBeforeAnyPixelIsDecoded() throws Exception {
        byte[] bomb = TestImages.withDimensions(TestImages.image("png", 8, 8, 1), 60_000, 60_000);
        StickerImages.ImageRefused refused = assertTimeoutPreemptively(java.time.Duration.ofSeconds(2),
                () -> assertThrows(StickerImages.ImageRefused.class, () -> images.check(bomb, "image/png")));
        assertEquals("the image is 60000x60000 pixels; at most 1024 on a side are accepted", refused.getMessage());

        assertTrue(assertThrows(StickerImages.ImageRefused.class, () -> images.check(
                TestImages.image("png", 1025, 10, 1), "image/png")).getMessage().contains("1025x10 pixels"));
        assertTrue(assertThrows(StickerImages.ImageRefused.class, () -> images.check(
                TestImages.image("jpeg", 10, 1500, 1), "image/jpeg")).getMessage().contains("10x1500 pixels"),
                "a JPEG's size is read by Image I/O from its header");
        assertTrue(assertThrows(StickerImages.ImageRefused.class, () -> images.check(
                TestImages.webpExtended(2000, 2000), "image/webp")).getMessage().contains("2000x2000 pixels"));
    }

    /**
     * A JPEG of thousands of empty progressive scans: the decoder works through (and outputs) the whole frame for each
     * scan. Refused once its scans pass {@link StickerImages#MAX_JPEG_SCANS}.
     */
    @Test
    void aJpegWithThousandsOfScansIsRefused() throws Exception {
        byte[] bomb = TestImages.scanBomb(1024, 1024, 20_000);
        assertTrue(bomb.length < 524_288, bomb.length + " bytes: within image.max.bytes");
        StickerImages.ImageRefused refused = assertTimeoutPreemptively(java.time.Duration.ofSeconds(5),
                () -> assertThrows(StickerImages.ImageRefused.class, () -> images.check(bomb, "image/jpeg")));
        assertTrue(refused.getMessage().contains("more than " + StickerImages.MAX_JPEG_SCANS + " scans"),
                refused.getMessage());
        assertEquals(new StickerImages.Checked("image/jpeg", 100, 80),
                images.check(TestImages.scanBomb(100, 80, StickerImages.MAX_JPEG_SCANS), "image/jpeg"));
    }

    @Test
    void unreadableOrMislabelledImagesAreRefused() throws Exception {
        byte[] png = TestImages.image("png", 40, 40, 1);
        assertEquals("the image is image/png, not image/gif",
                assertThrows(StickerImages.ImageRefused.class, () -> images.check(png, "image/gif")).getMessage());
        assertEquals("the image is not a PNG, GIF, WebP or JPEG image", assertThrows(StickerImages.ImageRefused.class,
                () -> images.check("GIF? no, text".getBytes(), "image/gif")).getMessage());
        byte[] truncated = Arrays.copyOf(png, 40);
        assertTrue(assertThrows(StickerImages.ImageRefused.class, () -> images.check(truncated, "image/png"))
                .getMessage().startsWith("the image cannot be decoded"));
    }

    @Test
    void webpIsMeasuredFromItsHeaderAndDecodedOnlyWhenAReaderIsInstalled() throws Exception {
        boolean reader = ImageIO.getImageReadersByMIMEType("image/webp").hasNext();
        if (!reader) {
            assertEquals(new StickerImages.Checked("image/webp", 100, 50),
                    images.check(TestImages.webpLossless(100, 50), "image/webp"));
            assertEquals(new StickerImages.Checked("image/webp", 512, 512),
                    images.check(TestImages.webpExtended(512, 512), "image/webp"));
        }
        byte[] truncated = Arrays.copyOf(TestImages.webpLossless(100, 50), 32);
        assertEquals("the WebP image is truncated", assertThrows(StickerImages.ImageRefused.class,
                () -> images.check(truncated, "image/webp")).getMessage());
    }

    static StickerPackPut pack(String id, String name, StickerPut... stickers) {
        return StickerPackPut.newBuilder().setId(id).setName(name).addAllStickers(Arrays.asList(stickers)).build();
    }

    static StickerPut sticker(String id, String type, int bytes) {
        return StickerPut.newBuilder().setId(id).setName("Sticker " + id).setContentType(type)
                .setImage(ByteString.copyFrom(new byte[bytes])).build();
    }
}
