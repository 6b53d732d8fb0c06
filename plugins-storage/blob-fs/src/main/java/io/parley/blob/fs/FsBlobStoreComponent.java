package io.parley.blob.fs;

import io.parley.core.spi.blob.BlobStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The OSGi face of {@link FsBlobStore}: a {@link BlobStore} service with {@code parley.blob.store.name=fs},
 * configuration PID {@code parley.blob.fs}. Activation opens (and locks) the directory and removes unfinished
 * uploads; deactivation (bundle stop or update, config change) releases it. A configuration change re-creates the
 * component. Thread-safe like the store it forwards to.
 */
@Component(service = BlobStore.class, configurationPid = "parley.blob.fs",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = BlobStore.NAME + "=fs")
@Designate(ocd = FsBlobStoreConfig.class)
public final class FsBlobStoreComponent implements BlobStore {

    private final FsBlobStore store;

    @Activate
    public FsBlobStoreComponent(FsBlobStoreConfig config) throws IOException {
        this.store = new FsBlobStore(dir(config));
    }

    /** The configured directory, resolved against system property {@code parley.home} when relative. */
    static Path dir(FsBlobStoreConfig config) {
        Path path = Path.of(config.dir());
        if (!path.isAbsolute()) {
            String home = System.getProperty("parley.home");
            path = (home == null || home.isBlank() ? Path.of("") : Path.of(home)).resolve(path);
        }
        return path.toAbsolutePath().normalize();
    }

    @Deactivate
    void deactivate() throws IOException {
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
}
