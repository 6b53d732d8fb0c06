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

    // ---------------------------------------------------------------- limits (Limits, LoginPolicy); rate 0 = off

    @AttributeDefinition(min = "0", max = "1000000", description = "Messages a user may send per second, over all of the user's connections on this node; beyond the burst a send is refused with RATE_LIMITED and retry_after_ms (nothing is stored); 0 = unlimited")
    int limit_sends_per_user_per_second() default 200;

    @AttributeDefinition(min = "0", max = "10000000", description = "Messages a user may send at once before limit.sends.per.user.per.second applies")
    int limit_sends_per_user_burst() default 1000;

    @AttributeDefinition(min = "0", max = "60000", description = "A send over limit.sends.per.user waits for its turn when that comes within this many ms (the connection's next request waits with it), else it is refused with RATE_LIMITED; 0 = refuse at once")
    int limit_sends_max_wait_millis() default 1000;

    @AttributeDefinition(min = "0", max = "1000000", description = "Request frames (every kind after the hello: sends, acks, read marks, syncs, pings…) one connection may send per second; beyond the burst answered with RATE_LIMITED; 0 = unlimited")
    int limit_frames_per_connection_per_second() default 300;

    @AttributeDefinition(min = "0", max = "10000000", description = "Request frames one connection may send at once before limit.frames.per.connection.per.second applies")
    int limit_frames_per_connection_burst() default 1000;

    @AttributeDefinition(min = "0", max = "1000000", description = "Typing notices one connection may have relayed per second; further ones are dropped silently; 0 = unlimited")
    int limit_typing_per_connection_per_second() default 2;

    @AttributeDefinition(min = "0", max = "10000000", description = "Typing notices one connection may have relayed at once before limit.typing.per.connection.per.second applies")
    int limit_typing_per_connection_burst() default 5;

    @AttributeDefinition(min = "0", max = "1000000", description = "Group operations that add other users (a create with members, an add of members) a user may make per second; beyond the burst refused with RATE_LIMITED; 0 = unlimited")
    int limit_group_adds_per_user_per_second() default 10;

    @AttributeDefinition(min = "0", max = "10000000", description = "Group operations adding other users a user may make at once before limit.group.adds.per.user.per.second applies")
    int limit_group_adds_per_user_burst() default 100;

    @AttributeDefinition(min = "0", max = "1000000", description = "New connections (TCP and WebSocket) one peer IP address may open per second; beyond the burst a connection is answered with RATE_LIMITED and retry_after_ms and closed; 0 = unlimited")
    int limit_connections_per_ip_per_second() default 20;

    @AttributeDefinition(min = "0", max = "10000000", description = "New connections one IP address may open at once before limit.connections.per.ip.per.second applies")
    int limit_connections_per_ip_burst() default 100;

    @AttributeDefinition(description = "Loopback peers (127.0.0.0/8, ::1) are not limited per address: a local reverse proxy or load tool shares one address for every client; set false when clients connect from this host directly")
    boolean limit_connections_exempt_loopback() default true;

    @AttributeDefinition(min = "0", max = "100000", description = "Devices one user may have signed in on this node at once; a hello from one more device signs out (Notice KIND_KICKED) the device signed in longest; 0 = unlimited")
    int max_devices_per_user() default 10;
}
