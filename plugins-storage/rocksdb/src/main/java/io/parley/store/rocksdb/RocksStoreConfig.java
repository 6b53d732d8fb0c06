package io.parley.store.rocksdb;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the RocksDB message store, PID {@code parley.store.rocksdb}; defaults mirror its .cfg file. */
@ObjectClassDefinition(name = "Parley RocksDB message store")
public @interface RocksStoreConfig {

    @AttributeDefinition(description = "The RocksDB directory; a relative path is resolved against system property "
            + "parley.home if set, else the working directory")
    String dir() default "data/rocksdb";

    @AttributeDefinition(description = "Sync the write-ahead log after each batch, before acknowledging; false "
            + "survives a process crash but may lose the last acknowledged messages on power loss")
    boolean fsync() default true;

    @AttributeDefinition(description = "Most appends, group events and read cursor updates written by one batch "
            + "(one WAL record, one sync)")
    int commit_max_batch() default 4096;

    @AttributeDefinition(description = "Operations waiting for the writer before appends are refused as "
            + "retryable UNAVAILABLE")
    int queue_max() default 100000;

    @AttributeDefinition(description = "Idempotency keys (sender, client_msg_id) are remembered at least this many "
            + "hours; 0 keeps them forever")
    long dedupe_window_hours() default 168;

    @AttributeDefinition(description = "Delivery watermarks are coalesced in memory and written at most every this "
            + "many milliseconds (one write per user, device and conversation), and on flush and close; after a "
            + "kill -9 a watermark may be this much behind, so the device gets those messages again. 0 writes them "
            + "with every batch")
    long watermark_flush_millis() default 1000;
}
