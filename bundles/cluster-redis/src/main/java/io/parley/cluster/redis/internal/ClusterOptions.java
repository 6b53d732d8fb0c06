package io.parley.cluster.redis.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Validated settings of the link.
 *
 * @param nodeId         this node's id (the core's {@code node.id})
 * @param uris           Redis URIs: one server, or Redis Cluster seed nodes
 * @param redisCluster   whether {@code uris} are Redis Cluster seeds
 * @param keyPrefix      prepended to every key (no braces: keys carry hash tags)
 * @param lease          how long a node counts as live after its last renewal
 * @param heartbeat      how often the lease is renewed and the node table re-read
 * @param inboxMaxlen    approximate cap of an inbox stream
 * @param inboxBatch     entries per read
 * @param connectTimeout connecting to Redis
 * @param commandTimeout one command, reconnects included
 */
public record ClusterOptions(String nodeId, List<String> uris, boolean redisCluster, String keyPrefix, Duration lease,
                             Duration heartbeat, long inboxMaxlen, int inboxBatch, Duration connectTimeout,
                             Duration commandTimeout) {

    /** What the core accepts as {@code node.id} (and message ids start with). */
    public static final Pattern NODE_ID = Pattern.compile("[a-z0-9]{1,8}");

    public ClusterOptions {
        uris = List.copyOf(uris);
    }

    /** @return the comma-separated URIs, trimmed, without empty parts */
    public static List<String> splitUris(String value) {
        List<String> out = new ArrayList<>();
        for (String part : value.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "node " + nodeId + " on " + (redisCluster ? "Redis Cluster " : "Redis ") + redacted() + ", keys "
                + keyPrefix + "*, lease " + lease.toSeconds() + " s, heartbeat " + heartbeat.toSeconds() + " s";
    }

    /** The URIs without passwords, for logs. */
    String redacted() {
        List<String> out = new ArrayList<>();
        for (String u : uris) {
            out.add(u.replaceAll("//[^@/]*@", "//***@"));
        }
        return String.join(",", out);
    }
}
