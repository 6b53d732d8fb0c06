package io.parley.blob.s3;

import io.parley.core.spi.blob.BlobStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The OSGi face of {@link S3BlobStore}: a {@link BlobStore} service with {@code parley.blob.store.name=s3},
 * configuration PID {@code parley.blob.s3}, registered only while that configuration exists (the file system store is
 * the default). Activation builds the SDK clients and checks the bucket (creating it with {@code create.bucket});
 * a failed check is logged and the service is registered anyway, so a store that was unreachable at start works once
 * S3 is back (every call fails with the same clear message until then). A configuration change re-creates the
 * component; deactivation closes the SDK clients.
 */
@Component(service = BlobStore.class, configurationPid = "parley.blob.s3",
        configurationPolicy = ConfigurationPolicy.REQUIRE, property = BlobStore.NAME + "=s3")
@Designate(ocd = S3BlobStoreConfig.class)
public final class S3BlobStoreComponent implements BlobStore {

    private static final Logger LOG = LoggerFactory.getLogger(S3BlobStoreComponent.class);

    private final S3BlobStore store;

    @Activate
    public S3BlobStoreComponent(S3BlobStoreConfig config) {
        this.store = S3BlobStore.open(settings(config));
        try {
            store.ensureBucket();
            LOG.info("S3 blob store ready: {}", store.settings());
        } catch (IOException e) {
            LOG.error("S3 blob store {} is not usable yet: {}", store.settings(), e.getMessage());
        }
    }

    static S3Settings settings(S3BlobStoreConfig config) {
        return new S3Settings(config.endpoint(), config.region(), config.bucket(), config.access_key(),
                config.secret_key(), config.path_style(), config.prefix(), config.create_bucket(), config.presign());
    }

    @Deactivate
    void deactivate() {
        store.close();
    }

    @Override
    public Info put(String key, InputStream content, long length, String contentType) throws IOException {
        return store.put(key, content, length, contentType);
    }

    @Override
    public Optional<Info> stat(String key) throws IOException {
        return store.stat(key);
    }

    @Override
    public Optional<InputStream> open(String key, long offset) throws IOException {
        return store.open(key, offset);
    }

    @Override
    public boolean delete(String key) throws IOException {
        return store.delete(key);
    }

    @Override
    public List<Info> list(String prefix, String after, int limit) throws IOException {
        return store.list(prefix, after, limit);
    }

    @Override
    public Optional<URI> downloadUrl(String key, Duration ttl) {
        return store.downloadUrl(key, ttl);
    }
}
