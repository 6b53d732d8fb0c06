package io.parley.type.file;

import io.parley.core.spi.blob.BlobTicket;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;
import io.parley.type.file.proto.UploadRequest;

import java.util.Set;
import java.util.regex.Pattern;

/**
 * The checks of file and image bodies and upload requests that need nothing but the fields (no blob store): pure and
 * thread-safe. Each check returns null when the input is acceptable, else the reason a client is told.
 */
final class FileRules {

    static final Set<String> IMAGE_TYPES = Set.of("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final int MAX_NAME = 255;

    private FileRules() {
    }

    static String checkUpload(UploadRequest request) {
        String name = checkName(request.getName());
        if (name != null) {
            return name;
        }
        if (request.getSize() <= 0) {
            return "size must be at least 1 byte";
        }
        if (!BlobTicket.validContentType(request.getContentType())) {
            return "content_type must be a media type type/subtype without parameters, e.g. application/pdf";
        }
        return null;
    }

    /** @return the reason a size over the limit is refused, or null */
    static String checkSize(long size, long maxBytes) {
        return size > maxBytes ? "the file has " + size + " bytes; this server takes at most " + maxBytes : null;
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
        if (!BlobTicket.validKey(key) || !BlobKeys.ownedBy(key, sender)) {
            return "key must be the key of an upload ticket issued to the sender";
        }
        String nameProblem = checkName(name);
        if (nameProblem != null) {
            return nameProblem;
        }
        if (size <= 0) {
            return "size must be at least 1 byte";
        }
        if (!BlobTicket.validContentType(contentType)) {
            return "content_type must be a media type type/subtype without parameters";
        }
        if (!SHA256.matcher(sha256).matches()) {
            return "sha256 must be 64 lower-case hex digits";
        }
        return null;
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
