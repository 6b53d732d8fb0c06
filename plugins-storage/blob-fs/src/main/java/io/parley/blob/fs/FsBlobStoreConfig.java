package io.parley.blob.fs;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the filesystem blob store, PID {@code parley.blob.fs}; defaults mirror its .cfg file. */
@ObjectClassDefinition(name = "Parley filesystem blob store")
public @interface FsBlobStoreConfig {

    @AttributeDefinition(description = "Directory of the blobs (objects/, tmp/, lock); a relative path is resolved "
            + "against system property parley.home if set, else the working directory")
    String dir() default "data/blobs";
}
