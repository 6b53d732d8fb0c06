package io.parley.type.sticker;

import io.parley.type.support.BlobLinks;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * What the sticker type reads from its own PID {@code parley.type.sticker} and from the shared PID {@code parley.blob}
 * ({@code public.url}, {@code ticket.secret}), checked. Immutable.
 *
 * @param publicUrl       the base URL clients reach the HTTP transport's {@code /blobs/} endpoints at
 * @param secret          the ticket secret (≥ 32 bytes), or empty when none is configured: no ticket URLs then
 * @param imageMaxBytes   the largest sticker image accepted, in bytes
 * @param imageMaxSide    the largest width and height of a sticker image, in pixels
 * @param catalogUrlTtl   how long the image URLs of a {@code sticker.list} answer work
 * @param refreshInterval how often the packs are read again from the blob store (changes made on other nodes)
 */
public record StickerSettings(URI publicUrl, byte[] secret, int imageMaxBytes, int imageMaxSide,
                              Duration catalogUrlTtl, Duration refreshInterval) {

    public StickerSettings {
        Objects.requireNonNull(publicUrl, "publicUrl");
        secret = secret.clone();
        require(imageMaxBytes >= 1024 && imageMaxBytes <= 16_777_216, "image.max.bytes must be 1024-16777216");
        require(imageMaxSide >= 16 && imageMaxSide <= 4096, "image.max.side must be 16-4096");
        require(catalogUrlTtl.compareTo(Duration.ofMinutes(1)) >= 0 && catalogUrlTtl.compareTo(Duration.ofDays(7)) <= 0,
                "catalog.url.seconds must be 60-604800");
        require(refreshInterval.compareTo(Duration.ofSeconds(1)) >= 0, "refresh.seconds must be at least 1");
        BlobLinks.checkPublicUrl(publicUrl);
    }

    /** @return the configured secret, or a refusal saying why there is none */
    byte[] requireSecret() {
        return links().requireSecret();
    }

    /** @return {@code public.url} and {@code ticket.secret}, for the image URLs handed to clients */
    BlobLinks links() {
        return new BlobLinks(publicUrl, secret);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
