package io.parley.store.mvstore;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Binary key encodings of the MVStore maps, compared as unsigned bytes ({@link BytesType}). A composite key is
 * its parts' UTF-8 bytes joined by a {@code 0x00} byte; every part but the last must be free of NUL characters
 * (user, device and conversation ids are, see {@link io.parley.core.api.Ids}), so UTF-8 puts no {@code 0x00}
 * inside them and all keys sharing the prefix {@code a 0x00} form one contiguous range of the ordered map.
 * Numbers are 8 bytes big-endian, so byte order is numeric order for non-negative values.
 */
final class Keys {
    private static final byte SEP = 0;

    private Keys() {
    }

    /** {@code conversation 0x00 seq}: the index entries of one conversation are adjacent and in seq order. */
    static byte[] message(String conversation, long seq) {
        byte[] prefix = prefix(conversation);
        byte[] key = Arrays.copyOf(prefix, prefix.length + Long.BYTES);
        putLong(key, prefix.length, seq);
        return key;
    }

    /** The seq of a {@link #message} key. */
    static long seqOf(byte[] messageKey) {
        return getLong(messageKey, messageKey.length - Long.BYTES);
    }

    /** {@code sender 0x00 clientMsgId}; the client id is last, so it may hold any character. */
    static byte[] dedupe(String sender, String clientMsgId) {
        return concat(prefix(sender), clientMsgId.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code millis dedupeKey}: idempotency keys in the order they expire. */
    static byte[] dedupeExpiry(long millis, byte[] dedupeKey) {
        byte[] key = new byte[Long.BYTES + dedupeKey.length];
        putLong(key, 0, millis);
        System.arraycopy(dedupeKey, 0, key, Long.BYTES, dedupeKey.length);
        return key;
    }

    static long expiryMillis(byte[] expiryKey) {
        return getLong(expiryKey, 0);
    }

    static byte[] dedupeKeyOfExpiry(byte[] expiryKey) {
        return Arrays.copyOfRange(expiryKey, Long.BYTES, expiryKey.length);
    }

    /** {@code user 0x00 conversation}: a user's conversations are adjacent. */
    static byte[] member(String user, String conversation) {
        return concat(prefix(user), conversation.getBytes(StandardCharsets.UTF_8));
    }

    /** The group's UTF-8 id (a single part). */
    static byte[] group(String groupId) {
        return groupId.getBytes(StandardCharsets.UTF_8);
    }

    /** {@code user 0x00 device 0x00 conversation}: a device's watermarks are adjacent. */
    static byte[] watermark(String user, String device, String conversation) {
        return concat(prefix(user, device), conversation.getBytes(StandardCharsets.UTF_8));
    }

    /** The prefix shared by all keys whose leading parts are {@code parts}: each part followed by 0x00. */
    static byte[] prefix(String... parts) {
        int length = 0;
        byte[][] encoded = new byte[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            encoded[i] = parts[i].getBytes(StandardCharsets.UTF_8);
            length += encoded[i].length + 1;
        }
        byte[] prefix = new byte[length];
        int at = 0;
        for (byte[] part : encoded) {
            System.arraycopy(part, 0, prefix, at, part.length);
            at += part.length;
            prefix[at++] = SEP;
        }
        return prefix;
    }

    static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    /** The last part of a key, after {@code prefixLength} bytes, as a string. */
    static String lastPart(byte[] key, int prefixLength) {
        return new String(key, prefixLength, key.length - prefixLength, StandardCharsets.UTF_8);
    }

    /** @throws IllegalArgumentException if {@code part} cannot be a leading key part */
    static String checkPart(String what, String part) {
        if (part == null || part.isEmpty() || part.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " must be non-empty and free of NUL characters");
        }
        return part;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] result = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, result, a.length, b.length);
        return result;
    }

    private static void putLong(byte[] target, int at, long value) {
        for (int i = Long.BYTES - 1; i >= 0; i--) {
            target[at + i] = (byte) value;
            value >>>= 8;
        }
    }

    private static long getLong(byte[] source, int at) {
        long value = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            value = (value << 8) | (source[at + i] & 0xff);
        }
        return value;
    }
}
