package io.parley.type.file;

import io.parley.type.support.BlobLinks;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * What the file types read from {@code conf/parley.blob.cfg} (PID {@code parley.blob}), checked. Immutable.
 *
 * @param publicUrl         the base URL clients reach the HTTP transport's {@code /blobs/} endpoints at
 * @param secret            the ticket secret (≥ 32 bytes), or empty when none is configured: no tickets then
 * @param uploadMaxBytes    the largest object a ticket is issued for
 * @param chunkMaxBytes     the largest upload chunk the HTTP transport takes (told to clients)
 * @param uploadTicketTtl   how long an upload ticket is honoured
 * @param downloadTicketTtl how long a download URL works
 * @param quotaBytes        what one user may store (objects, thumbnails, open tickets); 0: no limit
 * @param orphanAge         an uploaded object not sent in a message within this is deleted
 * @param sweepInterval     how often objects never sent are looked for
 * @param imageMaxPixels    the largest width × height an image may declare
 * @param thumbnailMaxSide  the longer side of a thumbnail, in pixels
 */
public record FileSettings(URI publicUrl, byte[] secret, long uploadMaxBytes, int chunkMaxBytes,
                           Duration uploadTicketTtl, Duration downloadTicketTtl, long quotaBytes, Duration orphanAge,
                           Duration sweepInterval, long imageMaxPixels, int thumbnailMaxSide) {

    public FileSettings {
        Objects.requireNonNull(publicUrl, "publicUrl");
        secret = secret.clone();
        require(uploadMaxBytes > 0, "upload.max.bytes must be positive");
        require(chunkMaxBytes >= 65536, "upload.chunk.max.bytes must be at least 65536");
        require(!uploadTicketTtl.isNegative() && !uploadTicketTtl.isZero(), "upload.ticket.seconds must be positive");
        require(!downloadTicketTtl.isNegative() && !downloadTicketTtl.isZero(),
                "download.ticket.seconds must be positive");
        require(quotaBytes >= 0, "quota.bytes must not be negative");
        require(orphanAge.compareTo(Duration.ofHours(2)) >= 0, "orphan.hours must be at least 2");
        require(orphanAge.compareTo(uploadTicketTtl.plusHours(1)) >= 0,
                "orphan.hours must exceed upload.ticket.seconds by an hour");
        require(!sweepInterval.isNegative() && !sweepInterval.isZero(), "sweep.minutes must be positive");
        require(imageMaxPixels > 0, "image.max.pixels must be positive");
        require(thumbnailMaxSide >= 16 && thumbnailMaxSide <= 2048, "thumbnail.max.side must be 16-2048");
        BlobLinks.checkPublicUrl(publicUrl);
    }

    /** @return the configured secret, or a refusal saying why there is none */
    public byte[] requireSecret() {
        return links().requireSecret();
    }

    /** @return {@code public.url} and {@code ticket.secret}, for the URLs and tickets handed to clients */
    BlobLinks links() {
        return new BlobLinks(publicUrl, secret);
    }

    /** An upload must be sent in a message this long after its ticket, so the sweep never races a send. */
    Duration sendWithin() {
        return orphanAge.minusHours(1);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
