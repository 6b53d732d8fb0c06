package io.parley.store.mvstore;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the MVStore message store, PID {@code parley.store.mvstore}; defaults mirror its .cfg file. */
@ObjectClassDefinition(name = "Parley MVStore message store")
public @interface MvStoreConfig {

    @AttributeDefinition(description = "Directory of the store file messages.mv.db; a relative path is resolved "
            + "against system property parley.home if set, else the working directory")
    String dir() default "data/store";

    @AttributeDefinition(description = "Most appends, group events and read cursor updates written by one commit "
            + "(and one fsync)")
    int commit_max_batch() default 4096;

    @AttributeDefinition(description = "Microseconds the writer waits for more work before committing a batch "
            + "that is not full; 0 commits as soon as the writer is free")
    long commit_max_delay_micros() default 0;

    @AttributeDefinition(description = "Force the file to disk after each commit, before acknowledging; false "
            + "survives a process crash but may lose the last acknowledged messages on power loss")
    boolean fsync() default true;

    @AttributeDefinition(description = "Idempotency keys (sender, client_msg_id) are remembered at least this many "
            + "hours; 0 keeps them forever")
    long dedupe_window_hours() default 168;

    @AttributeDefinition(description = "Operations waiting for the writer before appends are refused as "
            + "retryable UNAVAILABLE")
    int queue_max() default 100000;

    @AttributeDefinition(description = "MVStore page cache size in MiB")
    int cache_mb() default 64;

    @AttributeDefinition(description = "Compact the file (at most once a second) while live data is below this percentage; 0 disables")
    int compact_fill_rate() default 80;

    @AttributeDefinition(description = "Seconds between passes that prune expired idempotency keys")
    int housekeeping_seconds() default 60;

    @AttributeDefinition(description = "Delivery watermarks are coalesced in memory and written at most every this "
            + "many milliseconds (one write per user, device and conversation), and on flush and close; after a "
            + "kill -9 a watermark may be this much behind, so the device gets those messages again. 0 writes them "
            + "with every commit")
    long watermark_flush_millis() default 1000;
}
