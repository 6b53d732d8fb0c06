package io.parley.blob.s3;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.testing.BlobStoreContract;

import java.nio.file.Path;
import java.util.UUID;

/**
 * The blob store contract on {@link S3BlobStore} over HTTP, against S3Mock (which enforces conditional writes); each
 * test gets a fresh key prefix in the shared bucket.
 */
class S3BlobStoreTest extends BlobStoreContract {

    @Override
    protected BlobStore openStore(Path dir) {
        return S3BlobStore.open(S3TestServers.s3mock().settings("contract/" + UUID.randomUUID()));
    }
}
