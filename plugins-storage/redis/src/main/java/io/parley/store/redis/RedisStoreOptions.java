package io.parley.store.redis;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * How a {@link RedisMessageStore} connects and behaves.
 *
 * @param uris              one standalone server, or the seed nodes of a cluster
 * @param cluster           use the Redis Cluster client
 * @param keyPrefix         prepended to every key; without { or }
 * @param connectTimeout    to establish a connection
 * @param commandTimeout    how long a command may wait for its reply, reconnects included
 * @param dedupeWindowHours how long a (sender, client_msg_id) reservation lives; 0 forever
 * @param maxBatch          most appends of one conversation per script call
 */
public record RedisStoreOptions(List<String> uris, boolean cluster, String keyPrefix, Duration connectTimeout,
                                Duration commandTimeout, long dedupeWindowHours, int maxBatch) {

    public RedisStoreOptions {
        uris = List.copyOf(uris);
        if (uris.isEmpty()) {
            throw new IllegalArgumentException("no Redis uri");
        }
        if (!cluster && uris.size() != 1) {
            throw new IllegalArgumentException("a standalone Redis takes one uri, got " + uris);
        }
        if (keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0) {
            throw new IllegalArgumentException("key.prefix must not contain { or }: " + keyPrefix);
        }
        if (maxBatch < 1 || dedupeWindowHours < 0 || connectTimeout.isNegative() || connectTimeout.isZero()
                || commandTimeout.isNegative() || commandTimeout.isZero()) {
            throw new IllegalArgumentException("bad Redis store options");
        }
    }

    /** The shipped defaults with another server (or seed list, comma-separated) and key prefix. */
    public static RedisStoreOptions defaults(String uri, boolean cluster, String keyPrefix) {
        return new RedisStoreOptions(splitUris(uri), cluster, keyPrefix, Duration.ofSeconds(10),
                Duration.ofSeconds(10), 168, 256);
    }

    /** @return the comma-separated uris, trimmed, empty ones dropped */
    public static List<String> splitUris(String uris) {
        return Arrays.stream(uris.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
}
