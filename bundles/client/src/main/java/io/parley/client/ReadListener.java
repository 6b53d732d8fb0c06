package io.parley.client;

import io.parley.core.proto.DeliveryUpdate;
import io.parley.core.proto.ReadCount;
import io.parley.core.proto.ReadCounts;
import io.parley.core.proto.ReadUpdate;

/**
 * Receives read-cursor updates: {@code update.user} has read {@code update.conversation} up to
 * {@code update.seq}. They come for the other members of this user's conversations and for this user's own other
 * devices ({@code update.user} is then this client's user). Not persisted by the client; a reconnect may skip
 * updates, so refresh unread counts with {@link ParleyClient#conversations()} after {@code onConnected}.
 *
 * <p>In groups with more than the server's {@code read.fanout.max} members (100 by default) other members' reads
 * come as counts instead ({@link #onReadCounts}); this user's own reads still come as {@link #onRead} updates.
 *
 * <p>Threading: called on the client's event loop thread, never concurrently for one client; must not block. An
 * exception it throws is logged.
 */
@FunctionalInterface
public interface ReadListener {
    void onRead(ReadUpdate update);

    /**
     * How many members of a large group have read its latest messages; replaces what the previous counts of the
     * conversation said. Sent when the counts change, at most about once a second per group, and not re-sent on
     * reconnect. Use {@link #readers(ReadCounts, long)} to look up one message. The default ignores them.
     *
     * @since 1.3
     */
    default void onReadCounts(ReadCounts counts) {
    }

    /**
     * In a 1:1 conversation, a device of the peer ({@code update.user}) acknowledged receiving everything up to
     * {@code update.seq}: this user's messages up to there are delivered. Not sent in groups, not re-sent on
     * reconnect. The default ignores them.
     *
     * @since 1.3
     */
    default void onDelivered(DeliveryUpdate update) {
    }

    /**
     * @return how many members' read cursors are at or past {@code seq} according to {@code counts} (the message's
     *         sender included if they marked it read), or -1 if {@code counts} does not cover {@code seq} (it is below
     *         {@code from_seq}, or above the head they were counted at)
     * @since 1.3
     */
    static int readers(ReadCounts counts, long seq) {
        if (seq < counts.getFromSeq() || seq > counts.getHead()) {
            return -1;
        }
        for (ReadCount c : counts.getCountsList()) { // ascending seq: the first step at or past seq holds its readers
            if (c.getSeq() >= seq) {
                return c.getReaders();
            }
        }
        return 0;
    }
}
