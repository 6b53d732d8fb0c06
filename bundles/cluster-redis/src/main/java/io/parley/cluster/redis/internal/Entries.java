package io.parley.cluster.redis.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.cluster.LocalNode;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What an inbox entry holds, and handing it to {@link LocalNode}. Fields: {@code k} the kind (one letter, below),
 * {@code b} its body, {@code u} the recipients (comma-separated user ids; ids cannot contain commas), {@code o} the
 * node that wrote it (for diagnostics).
 *
 * <pre>
 * d  deliver   b = the Message (protobuf)                      u = the users with a session on the receiving node
 * r  relay     b = the Frame (protobuf)                        u = likewise
 * m  read mark b = conversation '\n' user '\n' seq
 * k  kick      b = user '\n' device '\n' started-before (ms)
 * g  group     b = group id
 * </pre>
 * Entries of a kind this version does not know are skipped (and acknowledged), so a newer node may add kinds.
 */
final class Entries {
    static final byte[] KIND = Keys.utf8("k");
    static final byte[] BODY = Keys.utf8("b");
    static final byte[] USERS = Keys.utf8("u");
    static final byte[] ORIGIN = Keys.utf8("o");

    private Entries() {
    }

    static Map<byte[], byte[]> deliver(byte[] message, List<String> users, String origin) {
        return entry('d', message, users, origin);
    }

    static Map<byte[], byte[]> relay(byte[] frame, List<String> users, String origin) {
        return entry('r', frame, users, origin);
    }

    static Map<byte[], byte[]> readMark(String conversation, String user, long seq, String origin) {
        return entry('m', Keys.utf8(conversation + '\n' + user + '\n' + seq), null, origin);
    }

    static Map<byte[], byte[]> kick(String user, String device, long startedBefore, String origin) {
        return entry('k', Keys.utf8(user + '\n' + device + '\n' + startedBefore), null, origin);
    }

    static Map<byte[], byte[]> groupChanged(String groupId, String origin) {
        return entry('g', Keys.utf8(groupId), null, origin);
    }

    private static Map<byte[], byte[]> entry(char kind, byte[] body, List<String> users, String origin) {
        Map<byte[], byte[]> m = new HashMap<>(8);
        m.put(KIND, new byte[]{(byte) kind});
        m.put(BODY, body);
        if (users != null) {
            m.put(USERS, Keys.utf8(String.join(",", users)));
        }
        m.put(ORIGIN, Keys.utf8(origin));
        return m;
    }

    /**
     * Hands one entry to {@code local}.
     *
     * @return false if the entry was not understood (an unknown kind, or a field missing)
     * @throws InvalidProtocolBufferException if its message or frame cannot be parsed
     */
    static boolean dispatch(Map<byte[], byte[]> fields, LocalNode local) throws InvalidProtocolBufferException {
        byte[] kind = get(fields, KIND);
        byte[] body = get(fields, BODY);
        if (kind == null || kind.length != 1 || body == null) {
            return false;
        }
        switch (kind[0]) {
            case 'd' -> local.deliver(Message.parseFrom(body), users(fields));
            case 'r' -> local.relay(Frame.parseFrom(body), users(fields));
            case 'm' -> {
                String[] p = Keys.string(body).split("\n", -1);
                local.readMarked(p[0], p[1], Long.parseLong(p[2]));
            }
            case 'k' -> {
                String[] p = Keys.string(body).split("\n", -1);
                local.kick(p[0], p[1], Long.parseLong(p[2]));
            }
            case 'g' -> local.groupChanged(Keys.string(body));
            default -> {
                return false;
            }
        }
        return true;
    }

    private static List<String> users(Map<byte[], byte[]> fields) {
        byte[] u = get(fields, USERS);
        return u == null || u.length == 0 ? List.of() : List.of(Keys.string(u).split(","));
    }

    /** Stream fields come back as a map keyed by byte arrays (identity): looked up by content. */
    static byte[] get(Map<byte[], byte[]> fields, byte[] name) {
        for (Map.Entry<byte[], byte[]> e : fields.entrySet()) {
            if (Arrays.equals(e.getKey(), name)) {
                return e.getValue();
            }
        }
        return null;
    }
}
