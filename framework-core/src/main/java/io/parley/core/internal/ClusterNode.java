package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.Message;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.spi.cluster.LocalNode;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * What other nodes send, arriving through the cluster link ({@link LocalNode}): deliveries and relays go to the
 * sessions here through the same paths as local ones ({@link Delivery#deliverLocal}, {@link Delivery#relayLocal});
 * kicks and "close everything" to {@link Sessions}; group changes drop the cached record and read-count index; a
 * large group's read mark updates this node's read counts.
 *
 * <p>Threading: any thread (the link's); never blocks. Deliveries, relays, kicks and group changes act at once, in
 * call order; a read mark, which may need the store, runs on a core worker.
 */
@Singleton
final class ClusterNode implements LocalNode {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterNode.class);

    private final EngineConfig config;
    private final ExecutorService workers;
    private final CurrentStore store;
    private final SessionRegistry registry;
    private final Delivery delivery;
    private final Sessions sessions;
    private final GroupService groups;
    private final ReadCounter readCounts;

    @Inject
    ClusterNode(EngineConfig config, @Named("workers") ExecutorService workers, CurrentStore store,
                SessionRegistry registry, Delivery delivery, Sessions sessions, GroupService groups,
                ReadCounter readCounts) {
        this.config = config;
        this.workers = workers;
        this.store = store;
        this.registry = registry;
        this.delivery = delivery;
        this.sessions = sessions;
        this.groups = groups;
        this.readCounts = readCounts;
    }

    @Override
    public String nodeId() {
        return config.node_id();
    }

    @Override
    public void deliver(Message message, List<String> users) {
        delivery.deliverLocal(message, users);
    }

    @Override
    public void relay(Frame frame, List<String> users) {
        delivery.relayLocal(null, frame, users);
    }

    @Override
    public void readMarked(String conversation, String user, long seq) {
        String groupId = Ids.groupIdOf(conversation);
        if (groupId == null || seq <= 0) {
            return; // marks of small conversations arrive as ReadUpdate relays
        }
        try {
            workers.execute(() -> countRead(groupId, conversation, user, seq));
        } catch (RejectedExecutionException stopping) {
            LOG.debug("Engine stopping: a read mark from another node was dropped");
        }
    }

    private void countRead(String groupId, String conversation, String user, long seq) {
        try {
            MessageStore s = store.get();
            Group g = s == null ? null : groups.find(s, groupId).orElse(null);
            if (g == null || g.getMembersCount() <= config.read_fanout_max()
                    || GroupService.member(g, user).isEmpty()) {
                return;
            }
            delivery.relayLocal(null, Frame.newBuilder().setReadUpdate(ReadUpdate.newBuilder()
                    .setConversation(conversation).setUser(user).setSeq(seq)).build(), List.of(user));
            // a node with none of the group's members online neither counts nor loads the group's cursors
            if (readCounts.indexes(groupId) || anyMemberHere(g)) {
                readCounts.markRead(groupId, g, user, seq);
            }
        } catch (RuntimeException e) {
            LOG.warn("Could not count a read mark of {} in {} from another node", user, conversation, e);
        }
    }

    private boolean anyMemberHere(Group g) {
        for (String member : groups.members(g)) {
            if (registry.sessions(member).length > 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void kick(String user, String device, long startedBefore) {
        sessions.kick(user, device, startedBefore, "signed in again on this device (on another node)");
    }

    @Override
    public void groupChanged(String groupId) {
        groups.forget(groupId);
        readCounts.forget(groupId);
    }

    @Override
    public void closeSessions(String reason) {
        LOG.warn("Closing every session on this node: {}", reason);
        sessions.closeAll(reason);
    }
}
