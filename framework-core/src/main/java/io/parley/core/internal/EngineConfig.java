package io.parley.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the core engine, PID {@code parley.core}; defaults mirror {@code conf/parley.core.cfg}. */
@ObjectClassDefinition(id = "parley.core", name = "Parley core engine")
public @interface EngineConfig {

    @AttributeDefinition(description = "Worker threads that run processors and the send pipeline; 0 = number of cores")
    int workers() default 0;

    @AttributeDefinition(description = "Largest inbound frame in bytes; transports refuse bigger frames before parsing")
    int max_frame_bytes() default 65536;

    @AttributeDefinition(description = "Largest message body (the serialized Any) in bytes")
    int max_body_bytes() default 32768;

    @AttributeDefinition(description = "How long sends of a type are held while its bundle is updated, in ms")
    long hold_millis() default 10000;

    @AttributeDefinition(description = "How many sends of one type may be held at once; further ones are refused as UNAVAILABLE")
    int hold_max_sends() default 10000;

    @AttributeDefinition(description = "How long a hello waits for the authenticator and the store while they start or are swapped, ms")
    long wait_available_millis() default 5000;

    @AttributeDefinition(description = "Heartbeat interval announced to clients in HelloOk, seconds")
    int heartbeat_seconds() default 30;

    @AttributeDefinition(description = "Messages per Deliver frame while resuming; also the default and maximum range page")
    int page_size() default 200;

    @AttributeDefinition(description = "Largest page (resume Deliver frame or range response) in bytes; keep it well below the transports' outbound.max.bytes")
    int page_max_bytes() default 1048576;

    @AttributeDefinition(description = "Frames a session may have waiting for the engine before further ones are refused as RATE_LIMITED")
    int session_max_pending() default 1024;

    @AttributeDefinition(description = "Notifications a dispatcher may have queued beyond its concurrency before overflow is dropped and logged")
    int dispatch_queue() default 10000;

    @AttributeDefinition(description = "Largest number of members a group may have")
    int group_max_members() default 10000;

    @AttributeDefinition(description = "Group records kept in memory, counted in members (a group weighs 1 + its members); beyond it the least needed are re-read from the store")
    long group_cache_members() default 1_000_000;

    @AttributeDefinition(description = "Read receipts and typing notices are relayed to the other members only in conversations with at most this many members; bigger groups get read counts and no typing notices")
    int read_fanout_max() default 100;

    @AttributeDefinition(description = "In groups above read.fanout.max members, ReadCounts go out at most this often per group, ms")
    long read_counts_interval_millis() default 1000;

    @AttributeDefinition(description = "ReadCounts cover this many seqs, from the head down")
    int read_counts_window() default 50;

    @AttributeDefinition(description = "A large group's in-memory read-cursor index is dropped after this many seconds without a read mark")
    int read_counts_idle_seconds() default 600;

    @AttributeDefinition(description = "This node's id, a prefix of every server message id (1-8 characters [a-z0-9]); unique in a cluster")
    String node_id() default "n1";

    @AttributeDefinition(description = "With a cluster link: how long notifications wait for the link to say which members are online on other nodes, and a hello for its session to be announced, ms")
    long cluster_route_timeout_millis() default 500;

    @AttributeDefinition(description = "A hello from a device that has a session already ends the older one (on any node of a cluster) with Notice KIND_KICKED; false: both stay and both get every delivery")
    boolean one_session_per_device() default false;
}
