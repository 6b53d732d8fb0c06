package io.parley.cluster.redis.internal;

import java.nio.charset.StandardCharsets;

/**
 * The key layout. Every key carries a hash tag, so each is one Redis Cluster slot and each command touches one key
 * (nothing here needs two keys in one slot).
 *
 * <pre>
 * P{n:N}:epoch     string  the last epoch node N started with (INCR at every start: the fencing token)
 * P{n:N}:lease     string  N's current epoch, set with PX lease.seconds and renewed every heartbeat; gone = N is gone
 * P{n:N}:inbox     stream  entries for N's sessions, read by N through consumer group "parley" (consumer N)
 * P{nodes}         hash    node id → the epoch it last started with (every node that ever joined)
 * P{u:U}:presence  hash    "N:D" → epoch: user U has a session on device D on node N (written by N)
 * </pre>
 * P is {@code key.prefix}. User, device and node ids cannot contain ':', '{' or '}' (core id rules), so the tags and
 * the "N:D" fields are unambiguous.
 */
final class Keys {
    /** The consumer group every inbox is read through. */
    static final byte[] GROUP = utf8("parley");

    private final String prefix;

    Keys(String prefix) {
        this.prefix = prefix;
    }

    byte[] epoch(String node) {
        return utf8(prefix + "{n:" + node + "}:epoch");
    }

    byte[] lease(String node) {
        return utf8(prefix + "{n:" + node + "}:lease");
    }

    byte[] inbox(String node) {
        return utf8(prefix + "{n:" + node + "}:inbox");
    }

    byte[] nodes() {
        return utf8(prefix + "{nodes}");
    }

    byte[] presence(String user) {
        return utf8(prefix + "{u:" + user + "}:presence");
    }

    /** The presence field of a session of device {@code device} on node {@code node}. */
    static byte[] presenceField(String node, String device) {
        return utf8(node + ':' + device);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String string(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
