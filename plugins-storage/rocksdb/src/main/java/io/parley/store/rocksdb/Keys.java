package io.parley.store.rocksdb;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The key layout of the RocksDB store: one ordered key space (the default column family), compared as unsigned bytes
 * (RocksDB's bytewise comparator). Every key starts with one byte naming its kind; a composite key then has its
 * parts' UTF-8 bytes, each but the last followed by {@code 0x00}. User, device, group and conversation ids are free of
 * NUL characters ({@link #checkPart}), so all keys sharing the prefix {@code kind a 0x00} form one contiguous range.
 * Numbers are 8 bytes big-endian, so byte order is numeric order for non-negative values.
 *
 * <pre>
 * m conversation 0 seq(8)            → the serialized Message (with its seq)        a conversation is one range
 * d sender 0 clientMsgId             → the message's m key                          idempotency key
 * E millis(8) n(8)                   → the d keys a batch wrote, with their m keys   idempotency keys by age
 * e millis(8) dedupeKey              → the message's m key                          the same per key (earlier versions)
 * l user 0 conversation              → seq(8) of the message that listed the user   conversation lists
 * w user 0 device 0 conversation     → seq(8)                                       delivery watermarks
 * r user 0 conversation              → seq(8)                                       read cursors
 * g groupId                          → the group's record
 * # name                             → store metadata (format, write probe)
 * </pre>
 */
final class Keys {
    static final byte MESSAGE = 'm';
    static final byte DEDUPE = 'd';
    static final byte DEDUPE_EXPIRY = 'e';
    static final byte DEDUPE_EXPIRY_BATCH = 'E';
    static final byte LISTED = 'l';
    static final byte WATERMARK = 'w';
    static final byte READ_CURSOR = 'r';
    static final byte GROUP = 'g';
    static final byte META = '#';

    private static final byte SEP = 0;

    private Keys() {
    }

    /** {@code m conversation 0x00 seq}: a conversation's messages are adjacent and in seq order. */
    static byte[] message(String conversation, long seq) {
        byte[] prefix = prefix(MESSAGE, conversation);
        byte[] key = Arrays.copyOf(prefix, prefix.length + Long.BYTES);
        putLong(key, prefix.length, seq);
        return key;
    }

    /** The seq of a {@link #message} key. */
    static long seqOf(byte[] messageKey) {
        return getLong(messageKey, messageKey.length - Long.BYTES);
    }

    /** {@code d sender 0x00 clientMsgId}; the client id is last, so it may hold any character. */
    static byte[] dedupe(String sender, String clientMsgId) {
        return concat(prefix(DEDUPE, sender), clientMsgId.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * {@code e millis dedupeKey}: the per-key expiry entry that earlier versions wrote (still pruned; tests write it to
     * stand in for such a database).
     */
    static byte[] dedupeExpiry(long millis, byte[] dedupeKey) {
        byte[] key = new byte[1 + Long.BYTES + dedupeKey.length];
        key[0] = DEDUPE_EXPIRY;
        putLong(key, 1, millis);
        System.arraycopy(dedupeKey, 0, key, 1 + Long.BYTES, dedupeKey.length);
        return key;
    }

    /**
     * {@code E millis n}: the idempotency keys one batch wrote at {@code millis}, in the order they expire; {@code n}
     * (unique per entry, see the writer) keeps entries of the same millisecond apart. The value is a
     * {@link #expiryPairs} list.
     */
    static byte[] dedupeExpiryBatch(long millis, long n) {
        byte[] key = new byte[1 + 2 * Long.BYTES];
        key[0] = DEDUPE_EXPIRY_BATCH;
        putLong(key, 1, millis);
        putLong(key, 1 + Long.BYTES, n);
        return key;
    }

    /**
     * An {@link #dedupeExpiryBatch} value: {@code parts[from..to)}, alternately an idempotency key and its message
     * key, each preceded by its length (4 bytes, big-endian).
     */
    static byte[] expiryValue(List<byte[]> parts, int from, int to) {
        int length = 0;
        for (int i = from; i < to; i++) {
            length += Integer.BYTES + parts.get(i).length;
        }
        ByteBuffer value = ByteBuffer.allocate(length);
        for (int i = from; i < to; i++) {
            value.putInt(parts.get(i).length).put(parts.get(i));
        }
        return value.array();
    }

    /**
     * The pairs of an {@link #dedupeExpiryBatch} value: even indexes are idempotency keys, each followed by its
     * message key.
     *
     * @throws IllegalStateException if the value is not such a list
     */
    static List<byte[]> expiryPairs(byte[] value) {
        List<byte[]> parts = new ArrayList<>();
        int at = 0;
        while (at < value.length) {
            if (value.length - at < Integer.BYTES) {
                throw new IllegalStateException("corrupt idempotency key expiry entry");
            }
            int length = getInt(value, at);
            at += Integer.BYTES;
            if (length < 0 || length > value.length - at) {
                throw new IllegalStateException("corrupt idempotency key expiry entry");
            }
            parts.add(Arrays.copyOfRange(value, at, at + length));
            at += length;
        }
        if (parts.size() % 2 != 0) {
            throw new IllegalStateException("corrupt idempotency key expiry entry");
        }
        return parts;
    }

    static long expiryMillis(byte[] expiryKey) {
        return getLong(expiryKey, 1);
    }

    static byte[] dedupeKeyOfExpiry(byte[] expiryKey) {
        return Arrays.copyOfRange(expiryKey, 1 + Long.BYTES, expiryKey.length);
    }

    /** {@code l user 0x00 conversation}: a user's conversations are adjacent. */
    static byte[] listed(String user, String conversation) {
        return concat(prefix(LISTED, user), utf8(conversation));
    }

    /** {@code r user 0x00 conversation}: a user's read cursors are adjacent. */
    static byte[] readCursor(String user, String conversation) {
        return concat(prefix(READ_CURSOR, user), utf8(conversation));
    }

    /** {@code w user 0x00 device 0x00 conversation}: a device's watermarks are adjacent. */
    static byte[] watermark(String user, String device, String conversation) {
        return concat(prefix(WATERMARK, user, device), utf8(conversation));
    }

    /** {@code g groupId}. */
    static byte[] group(String groupId) {
        return concat(new byte[] {GROUP}, utf8(groupId));
    }

    /** {@code # name}. */
    static byte[] meta(String name) {
        return concat(new byte[] {META}, utf8(name));
    }

    /** The prefix shared by all keys of {@code kind} whose leading parts are {@code parts}: each followed by 0x00. */
    static byte[] prefix(byte kind, String... parts) {
        int length = 1;
        byte[][] encoded = new byte[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            encoded[i] = utf8(parts[i]);
            length += encoded[i].length + 1;
        }
        byte[] prefix = new byte[length];
        prefix[0] = kind;
        int at = 1;
        for (byte[] part : encoded) {
            System.arraycopy(part, 0, prefix, at, part.length);
            at += part.length;
            prefix[at++] = SEP;
        }
        return prefix;
    }

    /**
     * The smallest key greater than every key starting with {@code prefix} (an exclusive upper bound), or null if
     * there is none (a prefix of 0xff bytes only).
     */
    static byte[] upperBound(byte[] prefix) {
        byte[] bound = prefix.clone();
        for (int i = bound.length - 1; i >= 0; i--) {
            if (bound[i] != (byte) 0xff) {
                bound[i]++;
                return Arrays.copyOf(bound, i + 1);
            }
        }
        return null;
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

    static byte[] longValue(long value) {
        byte[] bytes = new byte[Long.BYTES];
        putLong(bytes, 0, value);
        return bytes;
    }

    static long longOf(byte[] value) {
        if (value.length != Long.BYTES) {
            throw new IllegalStateException("corrupt number of " + value.length + " bytes");
        }
        return getLong(value, 0);
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
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

    private static int getInt(byte[] source, int at) {
        return ((source[at] & 0xff) << 24) | ((source[at + 1] & 0xff) << 16) | ((source[at + 2] & 0xff) << 8)
                | (source[at + 3] & 0xff);
    }

    private static long getLong(byte[] source, int at) {
        long value = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            value = (value << 8) | (source[at + i] & 0xff);
        }
        return value;
    }
}
