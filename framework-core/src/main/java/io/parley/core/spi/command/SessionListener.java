package io.parley.core.spi.command;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Told when a device comes online on this node and when it goes offline here: a whiteboard service (register it and
 * the core calls it; every registered one is called). "Online" means at least one authenticated session of the user
 * on that device is open on this node (a trusted in-process adapter's sessions do not count); {@link #opened} comes
 * with the first such session, {@link #closed} when the last one has closed. Sessions on other nodes of a cluster
 * are not reported.
 *
 * <p>Called synchronously on the thread that authenticated or closed the session — a core worker, or a transport's
 * I/O thread — so a device's {@link #closed} is told before anything its next session does is handled: return at
 * once (take a short lock, schedule work elsewhere), never block or do I/O. An exception is logged and changes
 * nothing.
 *
 * @since 1.4
 */
@ConsumerType
public interface SessionListener {

    /** The first session of {@code user} on {@code device} on this node was authenticated. */
    default void opened(String user, String device) {
    }

    /** The last session of {@code user} on {@code device} on this node closed. */
    void closed(String user, String device);
}
