package io.parley.store.memory;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the in-memory message store, PID {@code parley.store.memory}; defaults mirror its .cfg file. */
@ObjectClassDefinition(name = "Parley in-memory message store")
public @interface MemoryStoreConfig {

    @AttributeDefinition(description = "Most messages held (group events included); further sends are refused as "
            + "retryable UNAVAILABLE and health turns DOWN")
    long max_messages() default 1_000_000;

    @AttributeDefinition(description = "Most bytes of messages held (serialized size + 600 each); 0 means a quarter "
            + "of the JVM's maximum heap")
    long max_bytes() default 0;
}
