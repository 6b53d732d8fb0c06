package io.parley.store.redis;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the Redis message store, PID {@code parley.store.redis}; defaults mirror its .cfg file. */
@ObjectClassDefinition(name = "Parley Redis message store")
public @interface RedisStoreConfig {

    @AttributeDefinition(description = "The Redis server, as a Redis URI (redis://[user:password@]host:port/db, "
            + "rediss:// for TLS); with cluster = true, one or more seed nodes of the cluster, comma-separated")
    String uri() default "redis://127.0.0.1:6379/0";

    @AttributeDefinition(description = "true: uri names seed nodes of a Redis Cluster (the topology is discovered "
            + "and followed); false: one standalone Redis server")
    boolean cluster() default false;

    @AttributeDefinition(description = "Prepended to every key this store writes, so several Parley instances or "
            + "other applications can share one Redis; must not contain { or }")
    String key_prefix() default "parley:";

    @AttributeDefinition(description = "Milliseconds to establish a connection")
    long connect_timeout_millis() default 10000;

    @AttributeDefinition(description = "Milliseconds a command may wait for its reply (across reconnects) before "
            + "the operation fails with the retryable UNAVAILABLE")
    long command_timeout_millis() default 10000;

    @AttributeDefinition(description = "Idempotency keys (sender, client_msg_id) are reserved across conversations "
            + "for at least this many hours; 0 keeps them forever")
    long dedupe_window_hours() default 168;

    @AttributeDefinition(description = "Most appends of one conversation written by one script call (group commit)")
    int commit_max_batch() default 256;
}
