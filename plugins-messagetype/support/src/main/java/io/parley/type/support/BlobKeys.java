package io.parley.type.support;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.OptionalLong;

/**
 * The key layout in the blob store. Every object a user uploads lives under {@code f/<user>/<yyyyMMdd>/<random>} (so
 * quotas are a prefix listing) — or, for a user id that is no key segment (one with {@code @}, or {@code .} or
 * {@code ..}), under {@code h/<the user id's UTF-8 in lower-case hex>/<yyyyMMdd>/<random>} — an image's thumbnail at
 * {@code <key>.thumb}; two kinds of markers track an object's life: {@code p/<key>/<size>} (pending: a ticket was
 * issued, no message sent yet; the declared size is in the key so quotas need no reads) and {@code c/<key>} (claimed
 * by one message; its bytes are {@code sender "\n" client_msg_id}). Shared by every type whose bodies name uploads
 * (file, image, voice, video): one layout, one quota, one sweep. Thread-safe.
 */
public final class BlobKeys {

    public static final String FILES = "f/";
    /** Where the objects of users whose ids cannot be a key segment live, under the id in hex. */
    public static final String HEX_FILES = "h/";
    public static final String PENDING = "p/";
    public static final String CLAIMS = "c/";
    public static final String THUMB_SUFFIX = ".thumb";
    private static final char[] ALPHABET =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    private static final DateTimeFormatter DAY = DateTimeFormatter.BASIC_ISO_DATE;

    private final SecureRandom random = new SecureRandom();

    /** @return a fresh key for an upload by {@code user}: 22 random base-62 characters (131 bits) */
    public String newKey(String user, long nowMillis) {
        StringBuilder b = new StringBuilder(userPrefix(user))
                .append(LocalDate.ofEpochDay(Math.floorDiv(nowMillis, 86_400_000L)).format(DAY)).append('/');
        for (int i = 0; i < 22; i++) {
            b.append(ALPHABET[random.nextInt(ALPHABET.length)]);
        }
        return b.toString();
    }

    /**
     * @return where {@code user}'s objects live: {@code f/<user>/}, or {@code h/<hex>/} for a user id that is not a
     *         valid key segment (user ids may hold {@code @} and be {@code .} or {@code ..}; keys may not). Distinct
     *         users never share a prefix, nor is one's a prefix of another's.
     */
    public static String userPrefix(String user) {
        if (user.indexOf('@') < 0 && !user.equals(".") && !user.equals("..")) {
            return FILES + user + "/";
        }
        return HEX_FILES + HexFormat.of().formatHex(user.getBytes(StandardCharsets.UTF_8)) + "/";
    }

    /** @return true if {@code key} is an upload key of {@code user} (not a thumbnail, not a marker) */
    public static boolean ownedBy(String key, String user) {
        return key.startsWith(userPrefix(user)) && !key.endsWith(THUMB_SUFFIX)
                && key.chars().filter(c -> c == '/').count() == 3;
    }

    public static String thumbnail(String key) {
        return key + THUMB_SUFFIX;
    }

    public static String pending(String key, long size) {
        return PENDING + key + "/" + size;
    }

    public static String pendingPrefix(String key) {
        return PENDING + key + "/";
    }

    public static String claim(String key) {
        return CLAIMS + key;
    }

    /** @return the upload key a pending marker stands for, or null if {@code marker} is not one */
    public static String keyOfPending(String marker) {
        int slash = marker.lastIndexOf('/');
        return marker.startsWith(PENDING) && slash > PENDING.length() ? marker.substring(PENDING.length(), slash) : null;
    }

    /** @return the size a pending marker declares, or empty if {@code marker} is not one */
    public static OptionalLong sizeOfPending(String marker) {
        int slash = marker.lastIndexOf('/');
        if (!marker.startsWith(PENDING) || slash < 0) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(marker.substring(slash + 1)));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
