package io.parley.type.file;

import io.parley.core.spi.blob.BlobTicket;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;
import io.parley.type.file.proto.UploadRequest;
import io.parley.type.support.ObjectClaims;
import io.parley.type.support.ObjectRules;

import java.util.Set;

/**
 * The checks of file and image bodies and upload requests that need nothing but the fields (no blob store; the fields
 * naming the object are {@link ObjectRules}'): pure and thread-safe. Each check returns null when the input is
 * acceptable, else the reason a client is told.
 */
final class FileRules {

    static final Set<String> IMAGE_TYPES = Set.of("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp");
    private static final int MAX_NAME = 255;

    private FileRules() {
    }

    static String checkUpload(UploadRequest request) {
        String name = checkName(request.getName());
        if (name != null) {
            return name;
        }
        if (request.getSize() == 0) { // (2^63 and more arrive negative: checkSize refuses them as too large)
            return "size must be at least 1 byte";
        }
        if (!BlobTicket.validContentType(request.getContentType())) {
            return "content_type must be a media type type/subtype without parameters, e.g. application/pdf";
        }
        return null;
    }

    /**
     * @param size a uint64 from the wire: negative is 2^63 or more
     * @return the reason a size over the limit is refused, or null
     */
    static String checkSize(long size, long maxBytes) {
        return size < 0 || size > maxBytes ? "the file has " + Long.toUnsignedString(size)
                + " bytes; this server takes at most " + maxBytes : null;
    }

    static String checkFile(File body, String sender) {
        return checkCommon(body.getKey(), body.getName(), body.getSize(), body.getContentType(), body.getSha256(),
                sender);
    }

    static String checkImage(Image body, String sender) {
        String common = checkCommon(body.getKey(), body.getName(), body.getSize(), body.getContentType(),
                body.getSha256(), sender);
        if (common != null) {
            return common;
        }
        return IMAGE_TYPES.contains(body.getContentType()) ? null
                : "an image must be one of " + String.join(", ", IMAGE_TYPES.stream().sorted().toList())
                + ", not " + body.getContentType();
    }

    private static String checkCommon(String key, String name, long size, String contentType, String sha256,
                                      String sender) {
        String object = ObjectRules.checkNamed("key", new ObjectClaims.Named(key, size, contentType, sha256), sender);
        return object != null ? object : checkName(name);
    }

    static String checkName(String name) {
        if (name.isEmpty() || name.length() > MAX_NAME) {
            return "name must have 1-" + MAX_NAME + " characters";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isISOControl(c) || c == '/' || c == '\\' || c == '\u2028' || c == '\u2029') {
                return "name must not contain control characters, / or \\";
            }
        }
        if (name.isBlank()) {
            return "name must not be blank";
        }
        return null;
    }
}
