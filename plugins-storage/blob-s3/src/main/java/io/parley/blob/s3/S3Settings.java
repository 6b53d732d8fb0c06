package io.parley.blob.s3;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Objects;

/**
 * Where an {@link S3BlobStore} keeps its blobs and how it reaches them.
 *
 * @param endpoint     the S3 API's base URL for an S3-compatible server (e.g. {@code http://127.0.0.1:9000}); empty
 *                     for AWS S3 (the endpoint of {@code region})
 * @param region       the signing region, e.g. {@code us-east-1}
 * @param bucket       the bucket; it must exist unless {@code createBucket}
 * @param accessKey    the access key id
 * @param secretKey    the secret access key
 * @param pathStyle    true: {@code endpoint/bucket/key} (what most S3-compatible servers need); false: virtual-hosted
 *                     {@code bucket.endpoint/key}
 * @param prefix       a key prefix inside the bucket, e.g. {@code parley/blobs}; empty for the bucket's root. A
 *                     {@code /} is appended when missing
 * @param createBucket create the bucket when it does not exist
 * @param presign      true: {@link S3BlobStore#downloadUrl} answers pre-signed GET URLs; false: it answers empty
 *                     (the bytes go through Parley)
 */
public record S3Settings(String endpoint, String region, String bucket, String accessKey, String secretKey,
                         boolean pathStyle, String prefix, boolean createBucket, boolean presign) {

    public S3Settings {
        endpoint = endpoint == null ? "" : endpoint.trim();
        region = region == null || region.isBlank() ? "us-east-1" : region.trim();
        prefix = normalizePrefix(prefix);
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("the S3 bucket is not set");
        }
        bucket = bucket.trim();
        if (accessKey == null || accessKey.isBlank() || secretKey == null || secretKey.isEmpty()) {
            throw new IllegalArgumentException("the S3 access key and secret key are not set");
        }
        accessKey = accessKey.trim();
        if (!endpoint.isEmpty()) {
            endpointUri(endpoint);
        }
    }

    /** Settings for an S3-compatible server at {@code endpoint}: path-style, no prefix, no bucket creation. */
    public static S3Settings of(String endpoint, String bucket, String accessKey, String secretKey) {
        return new S3Settings(endpoint, "us-east-1", bucket, accessKey, secretKey, true, "", false, true);
    }

    public S3Settings withPrefix(String newPrefix) {
        return new S3Settings(endpoint, region, bucket, accessKey, secretKey, pathStyle, newPrefix, createBucket,
                presign);
    }

    public S3Settings withBucket(String newBucket, boolean create) {
        return new S3Settings(endpoint, region, newBucket, accessKey, secretKey, pathStyle, prefix, create, presign);
    }

    public S3Settings withCredentials(String newAccessKey, String newSecretKey) {
        return new S3Settings(endpoint, region, bucket, newAccessKey, newSecretKey, pathStyle, prefix, createBucket,
                presign);
    }

    public S3Settings withPresign(boolean on) {
        return new S3Settings(endpoint, region, bucket, accessKey, secretKey, pathStyle, prefix, createBucket, on);
    }

    /** @return the endpoint as a URI, or null for AWS S3 */
    URI endpointUri() {
        return endpoint.isEmpty() ? null : endpointUri(endpoint);
    }

    private static URI endpointUri(String endpoint) {
        try {
            URI uri = new URI(endpoint);
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
                throw new IllegalArgumentException("the S3 endpoint must be an http or https URL: " + endpoint);
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("the S3 endpoint is not a URL: " + endpoint, e);
        }
    }

    private static String normalizePrefix(String prefix) {
        String p = Objects.requireNonNullElse(prefix, "").trim();
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        if (!p.isEmpty() && !p.endsWith("/")) {
            p = p + "/";
        }
        return p;
    }

    @Override
    public String toString() {
        return "S3Settings[endpoint=" + (endpoint.isEmpty() ? "(AWS)" : endpoint) + ", region=" + region + ", bucket="
                + bucket + ", prefix=" + prefix + ", pathStyle=" + pathStyle + ", createBucket=" + createBucket
                + ", presign=" + presign + "]";
    }
}
