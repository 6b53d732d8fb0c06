package io.parley.type.support;

import io.parley.core.spi.blob.BlobTicket;

import java.util.regex.Pattern;

/**
 * The checks of the fields with which a body names an uploaded object (key, size, content type, SHA-256), shared by
 * every type whose bodies name uploads. They need nothing but the fields; {@link ObjectClaims} checks the object.
 * Pure and thread-safe; each check returns null when acceptable, else the reason a client is told.
 */
public final class ObjectRules {

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    private ObjectRules() {
    }

    /**
     * @param field the body's name for the object's key field ({@code key}, {@code poster_key}); the reasons name the
     *              fields with its prefix ({@code poster_size}, …)
     * @return null if the fields can name an upload of {@code sender}, else why not
     */
    public static String checkNamed(String field, ObjectClaims.Named object, String sender) {
        String prefix = field.endsWith("key") ? field.substring(0, field.length() - 3) : "";
        if (!BlobTicket.validKey(object.key()) || !BlobKeys.ownedBy(object.key(), sender)) {
            return field + " must be the key of an upload ticket issued to the sender";
        }
        if (object.size() <= 0) {
            return prefix + "size must be at least 1 byte";
        }
        if (!BlobTicket.validContentType(object.contentType())) {
            return prefix + "content_type must be a media type type/subtype without parameters";
        }
        if (!SHA256.matcher(object.sha256()).matches()) {
            return prefix + "sha256 must be 64 lower-case hex digits";
        }
        return null;
    }
}
