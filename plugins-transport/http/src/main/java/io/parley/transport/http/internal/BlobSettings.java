package io.parley.transport.http.internal;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * What the blob endpoints read from PID {@code parley.blob} ({@code conf/parley.blob.cfg}, shared with the file
 * types). Immutable.
 *
 * @param ticketSecret   the ticket secret, UTF-8 of the trimmed {@code ticket.secret}; shorter than
 *                       {@link #MIN_SECRET_BYTES} (empty included) disables the endpoints (503)
 * @param secretConfigured false if there is no {@code ticket.secret} key at all (no {@code parley.blob}
 *                       configuration): the endpoints are off without an ERROR in the log
 * @param chunkMaxBytes  {@code upload.chunk.max.bytes}: the largest {@code PATCH} body
 * @param uploadDir      {@code upload.dir}: where partial uploads are staged (relative to the working directory)
 * @param maxConcurrent  {@code upload.max.concurrent}: chunks being received or written at once, all connections
 */
public record BlobSettings(byte[] ticketSecret, boolean secretConfigured, int chunkMaxBytes, Path uploadDir,
                           int maxConcurrent) {

    /** The shortest usable secret, in bytes (what {@link io.parley.core.spi.blob.BlobTicket} requires). */
    public static final int MIN_SECRET_BYTES = 32;
    public static final int DEFAULT_CHUNK_MAX_BYTES = 8_388_608;
    public static final String DEFAULT_UPLOAD_DIR = "data/uploads";
    public static final int DEFAULT_MAX_CONCURRENT = 16;

    public BlobSettings {
        ticketSecret = Objects.requireNonNull(ticketSecret, "ticketSecret").clone();
        Objects.requireNonNull(uploadDir, "uploadDir");
        if (chunkMaxBytes < 65_536 || chunkMaxBytes > (1 << 30)) {
            throw new IllegalArgumentException("upload.chunk.max.bytes must be 65536 to 1073741824: " + chunkMaxBytes);
        }
        if (maxConcurrent < 1 || maxConcurrent > 1024) {
            throw new IllegalArgumentException("upload.max.concurrent must be 1 to 1024: " + maxConcurrent);
        }
    }

    /** No {@code parley.blob} configuration: every {@code /blobs} request gets 503. */
    public static BlobSettings disabled() {
        return new BlobSettings(new byte[0], false, DEFAULT_CHUNK_MAX_BYTES, Path.of(DEFAULT_UPLOAD_DIR),
                DEFAULT_MAX_CONCURRENT);
    }

    /**
     * Reads {@code ticket.secret}, {@code upload.chunk.max.bytes}, {@code upload.dir} and {@code upload.max.concurrent}
     * from a component's merged configuration (values may be strings or numbers), the defaults where absent.
     *
     * @throws IllegalArgumentException for a value that is not a number or out of range
     */
    public static BlobSettings fromProperties(Map<String, ?> properties) {
        Object secret = properties.get("ticket.secret");
        String dir = string(properties, "upload.dir", DEFAULT_UPLOAD_DIR);
        byte[] bytes = secret == null ? new byte[0] : secret.toString().trim().getBytes(StandardCharsets.UTF_8);
        return new BlobSettings(bytes, secret != null,
                integer(properties, "upload.chunk.max.bytes", DEFAULT_CHUNK_MAX_BYTES),
                Path.of(dir.isEmpty() ? DEFAULT_UPLOAD_DIR : dir),
                integer(properties, "upload.max.concurrent", DEFAULT_MAX_CONCURRENT));
    }

    /** True if the secret is long enough for the endpoints to serve. */
    public boolean secretUsable() {
        return ticketSecret.length >= MIN_SECRET_BYTES;
    }

    /** The secret (a copy). */
    @Override
    public byte[] ticketSecret() {
        return ticketSecret.clone();
    }

    private static String string(Map<String, ?> properties, String key, String fallback) {
        Object value = properties.get(key);
        return value == null ? fallback : value.toString().trim();
    }

    private static int integer(Map<String, ?> properties, String key, int fallback) {
        Object value = properties.get(key);
        if (value == null || value.toString().isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(value.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " in conf/parley.blob.cfg is not a number: " + value);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlobSettings b && java.util.Arrays.equals(ticketSecret, b.ticketSecret)
                && secretConfigured == b.secretConfigured && chunkMaxBytes == b.chunkMaxBytes
                && uploadDir.equals(b.uploadDir) && maxConcurrent == b.maxConcurrent;
    }

    @Override
    public int hashCode() {
        return Objects.hash(java.util.Arrays.hashCode(ticketSecret), chunkMaxBytes, uploadDir, maxConcurrent);
    }

    @Override
    public String toString() {
        // never print the secret
        return "BlobSettings[ticketSecret=" + (ticketSecret.length == 0 ? "<empty>" : "<set>") + ", chunkMaxBytes="
                + chunkMaxBytes + ", uploadDir=" + uploadDir + ", maxConcurrent=" + maxConcurrent + "]";
    }
}
