package io.parley.type.sticker;

import io.parley.type.sticker.proto.StickerPackPut;
import io.parley.type.sticker.proto.StickerPut;

import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules of sticker packs that need no blob store: ids, names, the shape of a {@code sticker.pack.put} and the
 * blob keys. Each check returns null when it passes, else the reason for the client. Stateless, thread-safe.
 */
final class StickerRules {

    static final int MAX_NAME = 100;
    static final int MAX_STICKERS = 200;
    static final Set<String> CONTENT_TYPES = Set.of(StickerImages.PNG, StickerImages.GIF, StickerImages.WEBP,
            StickerImages.JPEG);

    private static final Pattern ID = Pattern.compile("[a-z0-9_-]{1,64}");
    private static final Pattern MANIFEST = Pattern.compile("s/([a-z0-9_-]{1,64})/m/([0-9]{20})");
    private static final String PREFIX = "s/";

    private StickerRules() {
    }

    static boolean validId(String id) {
        return id != null && ID.matcher(id).matches();
    }

    /** @return null if {@code name} is 1–100 characters (code points) without control characters, else the reason */
    static String checkName(String what, String name) {
        if (name == null || name.isBlank()) {
            return what + " needs a name";
        }
        int length = name.codePointCount(0, name.length());
        if (length > MAX_NAME) {
            return what + ": the name has " + length + " characters; at most " + MAX_NAME;
        }
        if (name.codePoints().anyMatch(c -> Character.getType(c) == Character.CONTROL)) {
            return what + ": the name contains control characters";
        }
        return null;
    }

    /**
     * Checks everything of a put but the images' contents: ids, names, 1–200 stickers with distinct ids, content
     * types, and image sizes up to {@code imageMaxBytes}. A sticker without image bytes is allowed here (it keeps its
     * current image; whether it has one is checked against the current version).
     */
    static String checkPut(StickerPackPut put, int imageMaxBytes) {
        if (!validId(put.getId())) {
            return "the pack id must be 1-64 characters of [a-z0-9_-]: \"" + put.getId() + "\"";
        }
        String problem = checkName("sticker pack \"" + put.getId() + "\"", put.getName());
        if (problem != null) {
            return problem;
        }
        if (put.getStickersCount() < 1 || put.getStickersCount() > MAX_STICKERS) {
            return "a pack has 1-" + MAX_STICKERS + " stickers, not " + put.getStickersCount();
        }
        Set<String> ids = new HashSet<>();
        for (StickerPut sticker : put.getStickersList()) {
            if (!validId(sticker.getId())) {
                return "a sticker id must be 1-64 characters of [a-z0-9_-]: \"" + sticker.getId() + "\"";
            }
            String what = "sticker \"" + sticker.getId() + "\"";
            if (!ids.add(sticker.getId())) {
                return what + " is in the pack twice";
            }
            problem = checkName(what, sticker.getName());
            if (problem != null) {
                return problem;
            }
            if (sticker.getImage().isEmpty()) {
                if (!sticker.getContentType().isEmpty() && !CONTENT_TYPES.contains(sticker.getContentType())) {
                    return what + ": content_type must be one of " + String.join(", ", sortedTypes());
                }
                continue;
            }
            if (!CONTENT_TYPES.contains(sticker.getContentType())) {
                return what + ": content_type must be one of " + String.join(", ", sortedTypes());
            }
            if (sticker.getImage().size() > imageMaxBytes) {
                return what + ": the image has " + sticker.getImage().size() + " bytes; at most " + imageMaxBytes;
            }
        }
        return null;
    }

    private static java.util.List<String> sortedTypes() {
        return CONTENT_TYPES.stream().sorted().toList();
    }

    // ---- blob keys ------------------------------------------------------------------------------------------------

    /** @return the prefix under which everything of every pack is kept */
    static String allPrefix() {
        return PREFIX;
    }

    /** @return the prefix of the manifests of {@code pack} */
    static String manifestPrefix(String pack) {
        return PREFIX + pack + "/m/";
    }

    /** @return the manifest key of a pack's version: the version zero-padded to 20 digits, so keys sort by version */
    static String manifestKey(String pack, long version) {
        return manifestPrefix(pack) + String.format("%020d", version);
    }

    /** @return the content-addressed image key of a sticker */
    static String imageKey(String pack, String sticker, String sha256) {
        return PREFIX + pack + "/" + sticker + "/" + sha256;
    }

    /** A manifest's pack and version. */
    record ManifestKey(String pack, long version) {
    }

    /** @return the pack and version of a manifest key, or null for any other key (images) */
    static ManifestKey parseManifestKey(String key) {
        java.util.regex.Matcher m = MANIFEST.matcher(key);
        if (!m.matches()) {
            return null;
        }
        try {
            return new ManifestKey(m.group(1), Long.parseLong(m.group(2)));
        } catch (NumberFormatException tooLarge) {
            return null;
        }
    }
}
