package io.parley.cluster.redis;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of cluster routing on Redis, PID {@code parley.cluster.redis}; defaults mirror the shipped .cfg. */
@ObjectClassDefinition(id = RedisClusterComponent.PID, name = "Parley cluster routing on Redis")
public @interface RedisClusterConfig {

    @AttributeDefinition(description = "This node's id in the cluster: the same as node.id in parley.core.cfg, 1-8 characters [a-z0-9], unique per node. Empty: the bundle stays inactive")
    String node_id() default "";

    @AttributeDefinition(description = "The Redis server as a Redis URI (redis://[user:password@]host:port/db, rediss:// for TLS); with redis.cluster, comma-separated seed nodes")
    String redis_uri() default "redis://127.0.0.1:6379/0";

    @AttributeDefinition(description = "true: redis.uri names seed nodes of a Redis Cluster")
    boolean redis_cluster() default false;

    @AttributeDefinition(description = "Prepended to every key; must not contain { or }")
    String key_prefix() default "parley:cluster:";

    @AttributeDefinition(description = "A node that has not renewed its lease for this many seconds is gone: its presence is ignored")
    int lease_seconds() default 15;

    @AttributeDefinition(description = "How often the lease is renewed and the table of live nodes re-read, seconds (less than lease.seconds)")
    int heartbeat_seconds() default 5;

    @AttributeDefinition(description = "Approximate cap on the entries of a node's inbox stream (for nodes that are down)")
    long inbox_maxlen() default 100000;

    @AttributeDefinition(description = "Inbox entries read (and acknowledged) per XREADGROUP")
    int inbox_batch() default 256;

    @AttributeDefinition(description = "Milliseconds to connect to Redis")
    long connect_timeout_millis() default 10000;

    @AttributeDefinition(description = "Milliseconds a Redis command may take, reconnects included")
    long command_timeout_millis() default 5000;
}
