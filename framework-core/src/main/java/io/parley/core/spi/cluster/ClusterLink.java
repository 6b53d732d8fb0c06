package io.parley.core.spi.cluster;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * This node's connection to the other nodes of a cluster. Registered as an OSGi service by a cluster bundle; the core
 * binds the highest-ranking one (dynamically: it may come and go at run time) and, while one is bound, tells it about
 * every session that opens and closes here and hands it whatever must also reach sessions on other nodes. Those nodes
 * receive it through their {@link LocalNode}. While none is bound the core is a single node.
 *
 * <p>The nodes of a cluster share one message store (seqs, watermarks, read cursors, group records): a device
 * may connect to any node and resumes there from its watermarks. The link carries only what is live.
 *
 * <p>Threading: every method is called on core threads (workers, the store's completion thread, the timer) and
 * <b>must not block</b>: do I/O asynchronously. Calls made one after the other from one thread must reach each other
 * node in that order (a conversation's deliveries are handed over in seq order and must arrive in it). A method that
 * throws is logged by the core and otherwise ignored. Lists passed in are immutable; the link may keep them.
 */
@ConsumerType
public interface ClusterLink {

    /**
     * A session of {@code user} on {@code device} was authenticated on this node: from now on other nodes must route
     * the user's deliveries here. Called once per session; a device may have several sessions (on this node and
     * others), each announced and withdrawn on its own.
     *
     * @return completed when other nodes will find the session (the core answers the hello then, or after
     *         {@code cluster.route.timeout.millis} at the latest, so a device's resume cannot miss a message that
     *         neither the store nor live routing would give it)
     */
    CompletionStage<Void> sessionOpened(String user, String device);

    /** A session announced with {@link #sessionOpened} closed. Called at most once per announced session. */
    void sessionClosed(String user, String device);

    /**
     * A message (stored, or relayed with seq 0) for {@code members}: sends it once to every other node that has a
     * session of any of them, with that node's list of those members, which delivers it to their sessions there
     * ({@link LocalNode#deliver}). This node delivers to its own sessions itself.
     *
     * @param members every member of the conversation, the sender included (their other devices get it too)
     * @return the members that have a session on some other node (completed when that is known; the sends themselves
     *         need not be done); the core notifies (offline push…) the members that have a session on no node.
     *         A stage that fails or is late (past {@code cluster.route.timeout.millis}) counts as "none": those
     *         members are notified as offline
     */
    CompletionStage<Set<String>> route(Message message, List<String> members);

    /**
     * Sends {@code frame} (a delivery receipt, read update, typing notice) to the sessions of {@code users} on other
     * nodes ({@link LocalNode#relay}); best effort, like the frames themselves.
     */
    void relay(Frame frame, List<String> users);

    /**
     * {@code user} marked group {@code conversation} read up to {@code seq}, in a group too large for per-reader
     * receipts: hands it to every other live node ({@link LocalNode#readMarked}), which counts it in its read counts
     * and tells the user's devices there. Best effort.
     */
    void readMarked(String conversation, String user, long seq);

    /**
     * A newer session of {@code user} on {@code device} started here: the other nodes close that device's sessions
     * that started before {@code startedBefore} ({@link LocalNode#kick}).
     *
     * @param startedBefore wall-clock milliseconds; sessions on other nodes that started earlier are closed
     */
    void kick(String user, String device, long startedBefore);

    /**
     * The record of group {@code groupId} changed (its event is stored): every other live node drops what it cached
     * of the group ({@link LocalNode#groupChanged}). Called before the event itself is routed, and must reach each
     * node before it.
     */
    void groupChanged(String groupId);
}
