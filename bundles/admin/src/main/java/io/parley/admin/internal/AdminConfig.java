package io.parley.admin.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** PID {@code parley.admin} ({@code conf/parley.admin.cfg}, optional). */
@ObjectClassDefinition(name = "Parley administration", description = "Bundle deployment through the admin commands "
        + "and the HTTP admin API")
@interface AdminConfig {

    @AttributeDefinition(name = "max.bundle.bytes", min = "1", description = "The largest jar accepted by install, "
            + "update and PUT /v1/bundles/{name}, in bytes")
    long max_bundle_bytes() default 64L * 1024 * 1024;

    @AttributeDefinition(name = "wait.seconds", min = "1", max = "600", description = "How long install, update "
            + "and remove wait for FileInstall to act before answering PENDING")
    int wait_seconds() default 30;
}
