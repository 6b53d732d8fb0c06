package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ConversationList;
import io.parley.core.proto.ConversationListRequest;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;

/**
 * {@code ConversationListRequest}: the user's conversations, latest first, each with its head, the user's read
 * cursor, the unread count, the last message, a title (the group's name or the peer) and, in 1:1 conversations, how
 * far the peer has read. Read from the store on every request; this class keeps no state.
 *
 * <p>Threading: {@link #list} returns at once and builds the answer on a core worker, beside the session's frame
 * queue (it reads a page of every conversation: the session's next frames need not wait for it).
 */
@Singleton
final class ConversationLists {
    private static final Logger LOG = LoggerFactory.getLogger(ConversationLists.class);
    /** Unread counts are exact up to this many messages after the read cursor (see {@link #unread}). */
    static final int UNREAD_EXACT_MAX = 1000;

    private final ExecutorService workers;
    private final CurrentStore store;
    private final GroupService groups;

    @Inject
    ConversationLists(@Named("workers") ExecutorService workers, CurrentStore store, GroupService groups) {
        this.workers = workers;
        this.store = store;
        this.groups = groups;
    }

    /** Answers request {@code rid} from a worker; errors are answered too. */
    void list(ServerSession session, long rid, ConversationListRequest request) {
        workers.execute(() -> build(session, rid, request));
    }

    private void build(ServerSession session, long rid, ConversationListRequest request) {
        try {
            MessageStore s = store.require();
            String user = session.userId();
            Map<String, Long> read = s.readCursors(user);
            List<ConversationSummary> out = new ArrayList<>();
            for (MessageStore.ConversationHead h : s.conversations(user)) {
                long readSeq = Math.min(read.getOrDefault(h.conversation(), 0L), h.head());
                ConversationSummary.Builder b = ConversationSummary.newBuilder().setConversation(h.conversation())
                        .setHead(h.head()).setReadSeq(readSeq).setUnread(unread(s, h.conversation(), readSeq, h.head(), user));
                if (h.head() > 0) {
                    List<Message> last = s.range(h.conversation(), h.head(), h.head(), 1);
                    if (!last.isEmpty()) {
                        b.setLast(last.get(0));
                    }
                }
                String groupId = Ids.groupIdOf(h.conversation());
                if (groupId != null) {
                    groups.find(s, groupId).ifPresent(g -> b.setTitle(g.getName()));
                } else {
                    String peer = Ids.directMembers(h.conversation()).stream().filter(u -> !u.equals(user))
                            .findFirst().orElse(user);
                    b.setTitle(peer);
                    b.setPeerReadSeq(Math.min(h.head(),
                            s.readCursorsIn(h.conversation(), List.of(peer)).getOrDefault(peer, 0L)));
                }
                out.add(b.build());
            }
            out.sort(Comparator.comparingLong((ConversationSummary c) -> c.getLast().getServerTime()).reversed()
                    .thenComparing(ConversationSummary::getConversation));
            long limit = Integer.toUnsignedLong(request.getLimit());
            if (limit > 0 && out.size() > limit) {
                out = out.subList(0, (int) limit);
            }
            session.send(Frame.newBuilder().setRequestId(rid)
                    .setConversationListResponse(ConversationList.newBuilder().addAllConversations(out)).build());
        } catch (ParleyException e) {
            session.reject(rid, e);
        } catch (RuntimeException e) {
            LOG.error("{}: conversation list failed", session, e);
            session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
        }
    }

    /**
     * Messages after the read cursor that others sent: the user's own messages (from any device) are never unread.
     * Counted exactly up to {@link #UNREAD_EXACT_MAX} messages after the cursor; beyond that {@code head - readSeq}.
     */
    private static long unread(MessageStore s, String conversation, long readSeq, long head, String user) {
        long after = head - readSeq;
        if (after <= 0 || after > UNREAD_EXACT_MAX) {
            return Math.max(0, after);
        }
        long unread = 0;
        for (Message m : s.range(conversation, readSeq + 1, head, (int) after)) {
            if (!m.getSender().equals(user)) {
                unread++;
            }
        }
        return unread;
    }
}
