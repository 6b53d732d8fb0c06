package io.parley.store.redis;

import java.nio.charset.StandardCharsets;

/**
 * The key layout. Every key of a conversation carries the hash tag {@code {<conversation>}} and every key of a user
 * the hash tag {@code {u:<user>}}, so a script touching one conversation's keys (or one user's) runs on one Redis
 * Cluster slot. A tag ends at the first '}', so even an id containing braces keeps all its keys in one slot.
 *
 * <pre>
 * P{C}:seq             string   the conversation's head (highest seq)
 * P{C}:m               hash     seq → the stored message (protobuf, seq field left 0: the hash field is the seq)
 * P{C}:idem            hash     sender \0 client_msg_id → seq (kept as long as the messages)
 * P{C}:pend            hash     seq → conversation-list changes not yet applied to the users' lists
 * P{C}:rec             string   the group record (C = "g:" + group id)
 * P{u:U}:cid:&lt;id&gt;       string   the conversation that owns U's client_msg_id id (expires after the dedupe window)
 * P{u:U}:convs         hash     conversation → seq of the change that listed it (negative: unlisted by a leave)
 * P{u:U}:read          hash     conversation → read cursor
 * P{u:U}:wm:&lt;device&gt;    hash     conversation → delivery watermark of the device
 * </pre>
 * P is {@code key.prefix}.
 */
final class Keys {

    private final String prefix;

    Keys(String prefix) {
        this.prefix = prefix;
    }

    byte[] head(String conversation) {
        return conv(conversation, "seq");
    }

    byte[] messages(String conversation) {
        return conv(conversation, "m");
    }

    byte[] idempotency(String conversation) {
        return conv(conversation, "idem");
    }

    byte[] pending(String conversation) {
        return conv(conversation, "pend");
    }

    byte[] record(String conversation) {
        return conv(conversation, "rec");
    }

    byte[] reservation(String sender, String clientMsgId) {
        return user(sender, "cid:" + clientMsgId);
    }

    byte[] conversations(String user) {
        return user(user, "convs");
    }

    byte[] readCursors(String user) {
        return user(user, "read");
    }

    byte[] watermarks(String user, String device) {
        return user(user, "wm:" + device);
    }

    /** The field of a conversation's idempotency index. */
    static byte[] idempotencyField(String sender, String clientMsgId) {
        return utf8(sender + '\0' + clientMsgId);
    }

    private byte[] conv(String conversation, String suffix) {
        return utf8(prefix + '{' + conversation + "}:" + suffix);
    }

    private byte[] user(String user, String suffix) {
        return utf8(prefix + "{u:" + user + "}:" + suffix);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String string(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
