package io.parley.transport.http.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The files under one directory (the web client, {@code web/} of the distribution), for {@code GET} and {@code HEAD}
 * of paths outside {@code /v1}. {@code /} and directories serve their {@code index.html}. A path that is not a
 * regular file inside the root (after decoding; {@code ..}, backslashes, NULs, hidden names and symbolic links
 * leading out are refused) is not found.
 *
 * <p>Files are read on one thread of this object's own ({@code parley-http-files}), never on an event loop, and kept
 * in memory while their size and modification time stay the same, up to {@link #CACHE_BYTES} in all; a file changed
 * on disk is served fresh on the next request. {@link #close()} stops the thread.
 */
final class StaticFiles implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StaticFiles.class);
    /** Total bytes of file contents kept in memory. */
    static final long CACHE_BYTES = 32L << 20;
    /** Files larger than this are refused (404 with a log line): the web client's files are far smaller. */
    static final long MAX_FILE_BYTES = 16L << 20;

    private static final Map<String, String> TYPES = Map.ofEntries(
            Map.entry("html", "text/html; charset=utf-8"),
            Map.entry("js", "text/javascript; charset=utf-8"),
            Map.entry("mjs", "text/javascript; charset=utf-8"),
            Map.entry("css", "text/css; charset=utf-8"),
            Map.entry("json", "application/json; charset=utf-8"),
            Map.entry("map", "application/json; charset=utf-8"),
            Map.entry("txt", "text/plain; charset=utf-8"),
            Map.entry("svg", "image/svg+xml"),
            Map.entry("png", "image/png"),
            Map.entry("ico", "image/x-icon"),
            Map.entry("webp", "image/webp"),
            Map.entry("woff2", "font/woff2"));

    /** A file to answer with; {@code etag} is a strong validator of this content. */
    record File(byte[] body, String contentType, String etag) {
    }

    private record Cached(long size, long modified, File file) {
    }

    private final Path root;
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "parley-http-files");
        t.setDaemon(true);
        return t;
    });
    // confined to the reader thread; access order for LRU eviction
    private final LinkedHashMap<Path, Cached> cache = new LinkedHashMap<>(16, 0.75f, true);
    private long cachedBytes;

    /** @param root an existing directory; files are served from below it only */
    StaticFiles(Path root) throws IOException {
        this.root = root.toRealPath();
        if (!Files.isDirectory(this.root)) {
            throw new IOException("not a directory: " + root);
        }
    }

    Path root() {
        return root;
    }

    /**
     * Looks a request path up (raw, still percent-encoded, without the query). Any thread; completes on the reader
     * thread with the file, or empty if there is none to serve.
     */
    CompletableFuture<Optional<File>> get(String rawPath) {
        Optional<String> relative = relativePath(rawPath);
        if (relative.isEmpty()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        try {
            return CompletableFuture.supplyAsync(() -> read(relative.get()), reader);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
    }

    /**
     * @return the path below the root a request path names ({@code index.html} for a trailing slash), or empty if it
     *         cannot name a servable file; pure, no file system access
     */
    static Optional<String> relativePath(String rawPath) {
        if (rawPath == null || !rawPath.startsWith("/")) {
            return Optional.empty();
        }
        String decoded;
        try {
            decoded = URLDecoder.decode(rawPath.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        if (decoded.indexOf('\0') >= 0 || decoded.indexOf('\\') >= 0) {
            return Optional.empty();
        }
        String path = decoded.endsWith("/") ? decoded + "index.html" : decoded;
        StringBuilder out = new StringBuilder();
        for (String segment : path.substring(1).split("/", -1)) {
            if (segment.isEmpty() || segment.startsWith(".")) { // "", ".", "..", hidden files
                return Optional.empty();
            }
            if (out.length() > 0) {
                out.append('/');
            }
            out.append(segment);
        }
        return Optional.of(out.toString());
    }

    private Optional<File> read(String relative) {
        Path path = root.resolve(relative).normalize();
        try {
            if (Files.isDirectory(path)) {
                path = path.resolve("index.html");
            }
            Path real = path.toRealPath();
            if (!real.startsWith(root)) {
                LOG.warn("Web: refusing {}: it leads outside {}", relative, root);
                return Optional.empty();
            }
            BasicFileAttributes attributes = Files.readAttributes(real, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isRegularFile()) {
                return Optional.empty();
            }
            long size = attributes.size();
            long modified = attributes.lastModifiedTime().toMillis();
            Cached hit = cache.get(real);
            if (hit != null && hit.size() == size && hit.modified() == modified) {
                return Optional.of(hit.file());
            }
            if (size > MAX_FILE_BYTES) {
                LOG.warn("Web: refusing {}: {} bytes is over the limit of {}", relative, size, MAX_FILE_BYTES);
                return Optional.empty();
            }
            byte[] body = Files.readAllBytes(real);
            File file = new File(body, contentType(real.getFileName().toString()),
                    "\"" + Long.toHexString(body.length) + "-" + Long.toHexString(modified) + "\"");
            remember(real, new Cached(body.length, modified, file), hit);
            return Optional.of(file);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            LOG.warn("Web: cannot read {}: {}", relative, e.toString());
            return Optional.empty();
        }
    }

    private void remember(Path path, Cached entry, Cached replaced) {
        if (replaced != null) {
            cache.remove(path);
            cachedBytes -= replaced.size();
        }
        if (entry.size() > CACHE_BYTES / 4) {
            return;
        }
        cache.put(path, entry);
        cachedBytes += entry.size();
        var eldest = cache.entrySet().iterator();
        while (cachedBytes > CACHE_BYTES && eldest.hasNext()) {
            cachedBytes -= eldest.next().getValue().size();
            eldest.remove();
        }
    }

    static String contentType(String fileName) {
        int dot = fileName.lastIndexOf('.');
        String ext = dot < 0 ? "" : fileName.substring(dot + 1).toLowerCase(Locale.ROOT);
        return TYPES.getOrDefault(ext, "application/octet-stream");
    }

    /** Stops the reader thread (bounded wait); lookups after this find nothing. */
    @Override
    public void close() {
        reader.shutdownNow();
        try {
            reader.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
