package io.parley.blob.s3;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the S3 blob store, PID {@code parley.blob.s3}; see {@code parley.blob.s3.cfg.example}. */
@ObjectClassDefinition(name = "Parley S3 blob store")
public @interface S3BlobStoreConfig {

    @AttributeDefinition(description = "Base URL of an S3-compatible server, e.g. http://127.0.0.1:9000; empty for "
            + "AWS S3")
    String endpoint() default "";

    @AttributeDefinition(description = "Signing region (for AWS S3: the bucket's region)")
    String region() default "us-east-1";

    @AttributeDefinition(description = "The bucket")
    String bucket() default "";

    @AttributeDefinition(description = "Access key id")
    String access_key() default "";

    @AttributeDefinition(description = "Secret access key", type = AttributeType.PASSWORD)
    String secret_key() default "";

    @AttributeDefinition(description = "Path-style URLs (endpoint/bucket/key), which most S3-compatible servers "
            + "need; false: virtual-hosted (bucket.endpoint/key)")
    boolean path_style() default true;

    @AttributeDefinition(description = "Key prefix inside the bucket, e.g. parley/blobs; empty: the bucket's root")
    String prefix() default "";

    @AttributeDefinition(description = "Create the bucket at start when it does not exist")
    boolean create_bucket() default false;

    @AttributeDefinition(description = "true: downloads are pre-signed S3 URLs clients fetch directly; false: the "
            + "bytes go through Parley")
    boolean presign() default true;
}
