package io.parley.core.spi.admin;

import java.util.Map;

/**
 * This node's numbers at one moment.
 *
 * @param startedMillis         when the core started (epoch ms)
 * @param uptimeMillis          ms since then
 * @param sessionsByTransport   logged-in sessions by transport name, sorted by name
 * @param usersOnline           distinct users with at least one logged-in session
 * @param store                 the message store in use ({@code parley.store.name}), or null while none is bound
 * @param problems              what keeps the core from working (empty when healthy), as {@code GET /health} says
 * @param queues                queue depths the core keeps, by name: {@code inbound.frames} (frames received and not
 *                              yet handled, over all sessions)
 */
public record Stats(long startedMillis, long uptimeMillis, Map<String, Integer> sessionsByTransport, int usersOnline,
                    String store, java.util.List<String> problems,
                    Map<String, Long> queues) {
}
