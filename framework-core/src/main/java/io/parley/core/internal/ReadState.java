package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.DeliveryUpdate;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.Typing;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.List;

/**
 * What a device tells the others about what it has seen: delivery acks (its watermark, and a {@code DeliveryUpdate}
 * receipt to the peer of a 1:1 conversation), read marks (the user's read cursor, a {@code ReadUpdate} to the user's
 * other sessions and, up to {@code read.fanout.max} members, to the other members; above that coalesced
 * {@code ReadCounts} from {@link ReadCounter}) and typing notices (relayed, never stored). The watermarks and cursors
 * live in the store. A receipt or read update goes out only when it passes the highest seq this node relayed for the
 * same user and conversation ({@link Highest}): a repeated mark, or a device catching up behind another, tells the
 * others nothing new. With a cluster link, receipts, read updates and typing notices also
 * reach the sessions on other nodes, and a read mark in a large group is handed to every other node for its counts.
 *
 * <p>Threading: every method runs on a core worker in the session's frame order (acks and read marks also just after
 * the connection closed, see {@link ServerSession}), except {@link #deliverAckNow}, which runs on the connection's
 * event loop when the session has no frame queued (so still in frame order). Watermarks and cursors are raised in the
 * store, which may apply them asynchronously (see {@link io.parley.core.spi.store.MessageStore#advanceWatermark});
 * relays never block.
 */
@Singleton
final class ReadState {
    private final EngineConfig config;
    private final CurrentStore store;
    private final GroupService groups;
    private final Authorization authorization;
    private final ReadCounter readCounts;
    private final SessionRegistry sessions;
    private final Delivery delivery;
    private final CurrentLink link;
    private final Limits limits;
    /** (conversation, acking user) → highest seq sent out in a {@code DeliveryUpdate}. */
    private final Highest receipts = new Highest(Highest.DEFAULT_MAX);
    /** (conversation, reading user) → highest seq sent out in a {@code ReadUpdate}. */
    private final Highest reads = new Highest(Highest.DEFAULT_MAX);

    @Inject
    ReadState(EngineConfig config, CurrentStore store, GroupService groups, Authorization authorization,
              ReadCounter readCounts, SessionRegistry sessions, Delivery delivery, CurrentLink link, Limits limits) {
        this.config = config;
        this.limits = limits;
        this.store = store;
        this.groups = groups;
        this.authorization = authorization;
        this.readCounts = readCounts;
        this.sessions = sessions;
        this.delivery = delivery;
        this.link = link;
    }

    /**
     * Raises the device's watermark; in a 1:1 conversation the peer's online devices hear of it (DeliveryUpdate). Every
     * delivered message is acknowledged, so the receipt frame is built only when the peer has a session to send it to.
     */
    void deliverAck(ServerSession session, DeliverAck ack) {
        String user = session.userId();
        List<String> members = authorization.authorize(user, ack.getConversation());
        if (ack.getSeq() == 0) {
            return;
        }
        requireWithinHead(ack.getConversation(), ack.getSeq());
        applyAck(session, ack, members);
    }

    /**
     * {@link #deliverAck} on the calling thread — the connection's event loop — when every check can be answered from
     * memory: the group's record is cached, the store knows the seq is held ({@link MessageStore#knownToHold}), the
     * connection's ack bucket has a token, and no cluster link is bound (a link keeps the order of one thread's
     * relays only). Nothing here blocks: the store's watermark raise and the receipt's send never do.
     *
     * @return true if the ack was applied; false, having done nothing (no token taken), if a check needs the store or
     *         would fail — the caller then hands the frame to a worker, which runs {@link #deliverAck} and answers
     *         the errors
     */
    boolean deliverAckNow(ServerSession session, DeliverAck ack) {
        MessageStore s = store.get();
        if (s == null || link.get() != null) {
            return false;
        }
        String user = session.userId();
        String conversation = ack.getConversation();
        String groupId = Ids.groupIdOf(conversation);
        List<String> members = null;
        if (groupId != null) {
            if (!groups.cachedMember(groupId, user)) {
                return false;
            }
        } else {
            members = Ids.directMembers(conversation);
            if (!members.contains(user)) {
                return false;
            }
        }
        if (ack.getSeq() < 0 // uint64 on the wire: 2^63 and more, beyond every head; refused on a worker
                || ack.getSeq() > 0 && !s.knownToHold(conversation, ack.getSeq()) || !limits.ackNow(session)) {
            return false;
        }
        if (ack.getSeq() > 0) {
            applyAck(session, ack, members);
        }
        return true;
    }

    /** @param members the 1:1 conversation's members; null or anything for a group (no receipt is sent there) */
    private void applyAck(ServerSession session, DeliverAck ack, List<String> members) {
        String user = session.userId();
        store.require().advanceWatermark(user, session.deviceId(), ack.getConversation(), ack.getSeq());
        if (Ids.groupIdOf(ack.getConversation()) != null) {
            return;
        }
        String peer = members.get(0).equals(user) ? members.get(members.size() - 1) : members.get(0);
        if (peer.equals(user)) {
            return; // a conversation with oneself: the user's other devices got the message itself
        }
        if (!receipts.raise(ack.getConversation(), user, ack.getSeq())) {
            return; // a repeat, or a device behind another of the user's: the peer heard of this seq already
        }
        ServerSession[] targets = sessions.sessions(peer);
        ClusterLink cluster = link.get();
        if (targets.length > 0 || cluster != null) {
            Frame receipt = Frame.newBuilder().setDeliveryUpdate(DeliveryUpdate.newBuilder()
                    .setConversation(ack.getConversation()).setUser(user).setSeq(ack.getSeq())).build();
            for (ServerSession target : targets) {
                target.send(receipt);
            }
            if (cluster != null) {
                link.relay(cluster, receipt, List.of(peer));
            }
        }
    }

    /**
     * Moves the user's read cursor and tells the user's other sessions and, in conversations with at most
     * {@code read.fanout.max} members, the other members. In bigger groups the other members get coalesced
     * {@code ReadCounts} from {@link ReadCounter} instead.
     */
    void markRead(ServerSession session, MarkRead read) {
        String user = session.userId();
        String conversation = read.getConversation();
        String groupId = Ids.groupIdOf(conversation);
        Group group = null;
        List<String> members = null;
        int size;
        if (groupId != null) { // no member list is built for a large group: a read mark there is O(1) apart from the check
            group = groups.require(store.require(), groupId);
            groups.requireMemberOf(group, user);
            size = group.getMembersCount();
        } else {
            members = authorization.authorize(user, conversation);
            size = members.size();
        }
        if (read.getSeq() == 0) {
            return;
        }
        requireWithinHead(conversation, read.getSeq());
        store.require().advanceReadCursor(user, conversation, read.getSeq());
        if (!reads.raise(conversation, user, read.getSeq())) {
            return; // the cursor stays where an earlier mark put it: nothing to tell anyone
        }
        Frame update = Frame.newBuilder().setReadUpdate(ReadUpdate.newBuilder().setConversation(conversation)
                .setUser(user).setSeq(read.getSeq())).build();
        if (size <= config.read_fanout_max()) {
            delivery.relay(session, update, members != null ? members : GroupService.memberIds(group));
        } else {
            delivery.relayLocal(session, update, List.of(user));
            if (group != null) {
                readCounts.markRead(groupId, group, user, read.getSeq());
                ClusterLink cluster = link.get();
                if (cluster != null) { // other nodes count it and tell the reader's devices there
                    link.readMarked(cluster, conversation, user, read.getSeq());
                }
            }
        }
    }

    /** Relays a typing notice to the other members' sessions; never stored. Dropped above {@code read.fanout.max}. */
    void typing(ServerSession session, Typing typing) {
        if (!limits.typing(session)) {
            return; // limit.typing.per.connection: fire-and-forget, dropped silently
        }
        List<String> members = authorization.authorize(session.userId(), typing.getConversation());
        if (members.size() > config.read_fanout_max()) {
            return;
        }
        Frame notice = Frame.newBuilder().setTyping(typing.toBuilder().setUser(session.userId())).build();
        List<String> others = new ArrayList<>(members);
        others.remove(session.userId());
        delivery.relay(session, notice, others);
    }

    /**
     * @throws ParleyException INVALID_REQUEST if {@code seq} lies beyond the conversation's head: an ack or read mark
     *                         there would let a watermark or cursor pass messages not yet sent, and tell the other
     *                         side of receipts for them
     */
    private void requireWithinHead(String conversation, long seq) {
        MessageStore s = store.require();
        if (seq < 0 || !s.holdsSeq(conversation, seq)) { // negative: 2^63 and more as uint64
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "seq " + Long.toUnsignedString(seq)
                    + " is beyond the head of " + conversation + " (" + s.head(conversation) + ")");
        }
    }
}
