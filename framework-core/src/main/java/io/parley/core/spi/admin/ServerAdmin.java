package io.parley.core.spi.admin;

import org.osgi.annotation.versioning.ProviderType;

import java.util.List;

/**
 * What an operator asks the core of this node. Registered by the core while it is active; track it dynamically.
 *
 * <p>Threading: every method may be called from any thread, does not block on I/O and answers from in-memory state
 * (a snapshot: sessions may open and close meanwhile). Not to be called on a Netty event loop only because the
 * answers can be long lists.
 */
@ProviderType
public interface ServerAdmin {

    /**
     * @param user a user id, or null for every user
     * @return the logged-in (authenticated) client sessions on this node, oldest first; in-process API sessions are
     *         not listed
     */
    List<SessionInfo> sessions(String user);

    /**
     * Kicks {@code user}'s sessions on this node (the same path as {@code POST /v1/users/{user}/kick}): each gets a
     * {@code KIND_KICKED} notice with {@code reason} and is closed.
     *
     * @param device a device id, or null for every device
     * @return how many sessions were kicked
     */
    int kick(String user, String device, String reason);

    /** @return the deployed message types and commands with the bundle that provides each, sorted by kind then type */
    List<TypeInfo> types();

    /** @return the registered message stores and blob stores, sorted by kind then name */
    List<StoreInfo> stores();

    /** @return this node's counters and gauges now */
    Stats stats();
}
