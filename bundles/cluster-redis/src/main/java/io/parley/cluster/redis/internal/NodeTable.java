package io.parley.cluster.redis.internal;

import java.util.List;
import java.util.Map;

/**
 * The nodes as one read of the registry and the leases saw them, and what that says about a presence entry. Immutable.
 *
 * @param self       this node's id
 * @param selfEpoch  this node's epoch when the table was read
 * @param registered node → the epoch it last joined with (every node that ever joined)
 * @param live       node → the epoch its lease holds, for nodes whose lease has not run out
 */
record NodeTable(String self, long selfEpoch, Map<String, Long> registered, Map<String, Long> live) {

    /** What a presence entry {@code node → epoch} means. */
    enum Verdict {
        /** this node's own session (delivered here by the core itself) */
        SELF,
        /** a session on a live node: route there */
        LIVE,
        /** written by a node (or an epoch of it) newer than this table: route there, and re-read the table */
        NEWER,
        /** left by a node that is gone or has restarted since: ignore it, and delete it */
        STALE
    }

    NodeTable {
        registered = Map.copyOf(registered);
        live = Map.copyOf(live);
    }

    static NodeTable empty(String self) {
        return new NodeTable(self, 0, Map.of(), Map.of());
    }

    Verdict judge(String node, long epoch, long currentSelfEpoch) {
        if (node.equals(self)) {
            // (a higher epoch under this id would be another process that took the id over: this node is fenced
            // at its next renewal; until then it does not write to its own inbox)
            return epoch < currentSelfEpoch ? Verdict.STALE : Verdict.SELF;
        }
        Long known = registered.get(node);
        if (known == null || epoch > known) {
            return Verdict.NEWER;
        }
        if (epoch < known) {
            return Verdict.STALE;
        }
        Long leased = live.get(node);
        return leased != null && leased == epoch ? Verdict.LIVE : Verdict.STALE;
    }

    /** @return the other nodes that hold a lease */
    List<String> liveOthers() {
        return live.keySet().stream().filter(n -> !n.equals(self)).sorted().toList();
    }
}
