package io.parley.core.spi.cluster;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ProviderType;

import java.util.List;

/**
 * This node's core as a {@link ClusterLink} sees it: where what other nodes send arrives. Registered as an OSGi
 * service by the core while it runs.
 *
 * <p>Threading: every method is thread-safe and never blocks (what needs the store runs on the core's workers); the
 * link may call it from its own threads. Calls of one thread take effect in call order, so a link that hands a
 * node's inbox over in order keeps each conversation's deliveries in seq order.
 */
@ProviderType
public interface LocalNode {

    /** @return this node's id ({@code node.id} of {@code parley.core}), unique in the cluster */
    String nodeId();

    /**
     * Delivers a message another node stored (or relayed, seq 0) to every session of {@code users} on this node, as
     * a local delivery would (held while a device's resume streams the conversation, so its order holds). Nothing
     * is notified: the node the message came from did that. Users without a session here are skipped.
     */
    void deliver(Message message, List<String> users);

    /** Sends {@code frame} as it is to every session of {@code users} on this node. */
    void relay(Frame frame, List<String> users);

    /**
     * Another node's member marked a large group read ({@link ClusterLink#readMarked}): the user's sessions here get
     * a {@code ReadUpdate}, and the mark counts in the {@code ReadCounts} this node sends its sessions.
     */
    void readMarked(String conversation, String user, long seq);

    /**
     * Closes with {@code Notice{KIND_KICKED}} the sessions of {@code user} on {@code device} on this node that started
     * before {@code startedBefore} (wall-clock milliseconds).
     */
    void kick(String user, String device, long startedBefore);

    /** The group's record changed on another node: this node forgets what it cached of it. */
    void groupChanged(String groupId);

    /**
     * Closes every session on this node with {@code Notice{KIND_RECONNECT}}: the link lost its place in the cluster
     * (its lease ran out), so other nodes may have stopped routing to these sessions; the clients reconnect and
     * resume from their watermarks, losing nothing.
     *
     * @param reason for the log and the notice's text
     */
    void closeSessions(String reason);
}
