package io.parley.client.internal;

import io.parley.client.ParleyClientException;
import io.parley.core.proto.ErrorCode;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Uploads and downloads over the blob endpoints of docs/protocol.md §6f with {@link HttpClient}, blocking the calling
 * thread (never an event loop). An upload is a series of {@code PATCH}es of at most the ticket's chunk size, each
 * naming its {@code Upload-Offset}; a download is a {@code GET}, resumed with {@code Range}. Network failures, 5xx,
 * 408 and 429 answers are retried a bounded number of times with exponential backoff and jitter, each time after
 * asking where the transfer stands ({@code HEAD} for an upload, the bytes already written for a download); the count
 * restarts whenever bytes move. A download body from which no byte arrives for the request timeout counts as a
 * dropped connection. Other refusals end the transfer with a {@link ParleyClientException} carrying the server's code.
 * Both compute the SHA-256 of what they transfer and check it. Thread-safe (no state between calls); one daemon
 * thread ({@code parley-client-transfer-watchdog}) per JVM watches download bodies.
 */
public final class BlobTransfer {
    /** The media type of a {@code PATCH} body. */
    public static final String CHUNK_CONTENT_TYPE = "application/offset+octet-stream";
    private static final int BUFFER = 64 * 1024;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final long WATCH_MILLIS = 250;
    /** Closes download bodies that stall (no byte for the request timeout), so the download resumes. */
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "parley-client-transfer-watchdog");
        t.setDaemon(true);
        return t;
    });

    /** Reads the bytes of an upload from the first one; see {@code Attachments.Source}. */
    @FunctionalInterface
    public interface Source {
        InputStream open() throws IOException;
    }

    /** Follows a transfer; see {@code ProgressListener}. */
    @FunctionalInterface
    public interface Progress {
        void update(long bytes, long total);
    }

    /** Supplies a fresh download URL when the current one's ticket expired; may block. */
    @FunctionalInterface
    public interface UrlRefresh {
        URI fresh() throws Exception;
    }

    /**
     * @param requestTimeout how long one request may take until its answer's headers (a {@code PATCH} including its
     *                       body)
     * @param maxRetries     how many failures in a row a transfer survives
     */
    public record Settings(Duration requestTimeout, int maxRetries, long backoffInitialMillis, long backoffMaxMillis) {
    }

    /** A completed upload: its size and the SHA-256 (lower-case hex) of its bytes. */
    public record Uploaded(long size, String sha256) {
    }

    private final HttpClient http;
    private final Settings settings;
    private final BooleanSupplier cancelled;
    private final Supplier<ParleyClientException> cancellation;

    /**
     * @param cancelled    polled between requests, buffers and backoff steps: when true the transfer ends with the
     *                     exception {@code cancellation} supplies
     */
    public BlobTransfer(HttpClient http, Settings settings, BooleanSupplier cancelled,
                        Supplier<ParleyClientException> cancellation) {
        this.http = Objects.requireNonNull(http, "http");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
        this.cancellation = Objects.requireNonNull(cancellation, "cancellation");
    }

    /** A failure worth retrying: the network, or a 5xx, 408 or 429 answer. */
    private static final class Transient extends Exception {
        private static final long serialVersionUID = 1L;

        Transient(String message, Throwable cause) {
            super(message, cause);
        }
    }

    // ------------------------------------------------------------------------------------------------ upload

    /**
     * Uploads {@code size} bytes of {@code source} to {@code url}: first asks where the upload stands (so a second
     * call with the same ticket resumes), then sends the rest in chunks of at most {@code chunkMax} bytes.
     *
     * @return the size and the SHA-256 of the bytes, checked against the server's answer to the last chunk
     * @throws ParleyClientException the server refused (its code), the retries ran out ({@code UNAVAILABLE},
     *     retryable), the server's SHA-256 differs from the bytes read, or the transfer was cancelled
     * @throws IOException the source failed, or holds fewer or more than {@code size} bytes
     */
    public Uploaded upload(URI url, String ticket, long size, int chunkMax, Source source, Progress progress)
            throws IOException, InterruptedException {
        MessageDigest digest = sha256();
        byte[] buf = new byte[(int) Math.min(chunkMax, size)];
        long pos = 0;        // the server holds [0, pos); digest covers it
        int have = 0;        // buf holds [pos, pos + have), read from in
        InputStream in = null;
        int failures = 0;
        long target = -1;    // where the server says it stands, to move to before the next chunk
        boolean ask = true;  // ask (HEAD) before the next chunk
        String serverSha = null;
        String lastFailure = null;
        try {
            while (true) {
                checkCancelled();
                if (ask) {
                    try {
                        target = head(url, ticket);
                        ask = false;
                    } catch (Transient t) {
                        lastFailure = t.getMessage();
                        backoff(++failures, lastFailure, t.getCause());
                        continue;
                    }
                }
                if (target >= 0) {
                    if (target > size) {
                        throw new ParleyClientException(ErrorCode.ERROR_CODE_INTERNAL, "the server holds " + target
                                + " bytes of an upload of " + size, false, 0);
                    }
                    if (target != pos) {
                        failures = target > pos ? 0 : failures;
                        if (target >= pos && target - pos <= have) {
                            int n = (int) (target - pos);
                            digest.update(buf, 0, n);
                            System.arraycopy(buf, n, buf, 0, have - n);
                            have -= n;
                        } else {
                            close(in);
                            in = source.open();
                            digest.reset();
                            skipHashing(in, target, digest, buf);
                            have = 0;
                        }
                        pos = target;
                    }
                    target = -1;
                    notify(progress, pos, size);
                }
                if (pos == size) {
                    break;
                }
                int want = (int) Math.min(buf.length, size - pos);
                if (in == null) {
                    in = source.open();
                    skipHashing(in, pos, digest, buf);
                }
                while (have < want) {
                    int n = in.read(buf, have, want - have);
                    if (n < 0) {
                        throw new IOException("the source ended after " + (pos + have) + " bytes; the upload is for "
                                + size);
                    }
                    have += n;
                }
                HttpResponse<String> r;
                try {
                    r = http.send(HttpRequest.newBuilder(url).timeout(settings.requestTimeout())
                            .header("Authorization", "Bearer " + ticket)
                            .header("Upload-Offset", Long.toString(pos))
                            .header("Content-Type", CHUNK_CONTENT_TYPE)
                            .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(buf, 0, want)).build(),
                            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    lastFailure = "chunk at " + pos + ": " + e;
                    backoff(++failures, lastFailure, e);
                    ask = true;
                    continue;
                }
                int status = r.statusCode();
                if (status == 204) {
                    OptionalLong offset = longHeader(r, "Upload-Offset");
                    if (offset.isPresent()) {
                        target = offset.getAsLong();
                    } else {
                        ask = true;
                    }
                } else if (status == 201 || status == 200) {
                    digest.update(buf, 0, want);
                    pos += want;
                    have = 0;
                    serverSha = Json.string(parseQuietly(r.body()), "sha256");
                    notify(progress, pos, size);
                    if (pos != size) {
                        throw new ParleyClientException(ErrorCode.ERROR_CODE_INTERNAL, "the server completed the "
                                + "upload at " + pos + " bytes of " + size, false, 0);
                    }
                    break;
                } else if (status == 409) {
                    // not where the server stands: move to its offset (counted, so a server that never agrees ends it)
                    if (++failures > settings.maxRetries()) {
                        throw error(r, url);
                    }
                    OptionalLong offset = longHeader(r, "Upload-Offset");
                    if (offset.isPresent()) {
                        target = offset.getAsLong();
                    } else {
                        ask = true;
                    }
                } else if (isTransient(status)) {
                    lastFailure = "chunk at " + pos + ": HTTP " + status + " " + r.body();
                    backoff(++failures, lastFailure, null);
                    ask = true;
                } else {
                    throw error(r, url);
                }
            }
            if (in != null && have == 0 && in.read() >= 0) {
                throw new IOException("the source holds more than the " + size + " bytes the upload is for");
            }
        } finally {
            close(in);
        }
        String sha = HexFormat.of().formatHex(digest.digest());
        if (serverSha != null && !serverSha.equalsIgnoreCase(sha)) {
            throw new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, "the server's SHA-256 of the upload ("
                    + serverSha + ") differs from the bytes read (" + sha + "): did the source change?", false, 0);
        }
        return new Uploaded(size, sha);
    }

    /** @return the bytes the server holds of the upload ({@code Upload-Offset} of a {@code HEAD}) */
    private long head(URI url, String ticket) throws Transient, InterruptedException {
        HttpResponse<String> r;
        try {
            r = http.send(HttpRequest.newBuilder(url).timeout(settings.requestTimeout())
                    .header("Authorization", "Bearer " + ticket)
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new Transient("HEAD: " + e, e);
        }
        if (isTransient(r.statusCode())) {
            throw new Transient("HEAD: HTTP " + r.statusCode(), null);
        }
        if (r.statusCode() != 200) {
            throw error(r, url);
        }
        return longHeader(r, "Upload-Offset").orElseThrow(() -> new ParleyClientException(
                ErrorCode.ERROR_CODE_INTERNAL, "the answer to HEAD " + url + " has no Upload-Offset", false, 0));
    }

    private static void skipHashing(InputStream in, long bytes, MessageDigest digest, byte[] scratch)
            throws IOException {
        long left = bytes;
        while (left > 0) {
            int n = in.read(scratch, 0, (int) Math.min(scratch.length, left));
            if (n < 0) {
                throw new IOException("the source ended after " + (bytes - left) + " bytes; the server holds " + bytes);
            }
            digest.update(scratch, 0, n);
            left -= n;
        }
    }

    // ------------------------------------------------------------------------------------------------ download

    /**
     * Downloads {@code url} into a new temporary file next to {@code target}, then moves it to {@code target}. A
     * broken transfer resumes with {@code Range}; an expired ticket ({@code 401}) is replaced once through
     * {@code refresh} (when given).
     *
     * @param expectedSize   the size the message names, or -1
     * @param expectedSha256 the SHA-256 the message names (hex), or null
     * @return {@code target}
     * @throws ParleyClientException the server refused (its code), the retries ran out ({@code UNAVAILABLE},
     *     retryable), the bytes differ from {@code expectedSize} or {@code expectedSha256}, or the transfer was
     *     cancelled
     * @throws IOException writing failed, or {@code target} exists ({@link java.nio.file.FileAlreadyExistsException})
     */
    public Path download(URI url, UrlRefresh refresh, Path target, long expectedSize, String expectedSha256,
                         Progress progress) throws IOException, InterruptedException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        String name = absolute.getFileName().toString();
        Path tmp = Files.createTempFile(dir, "." + name.substring(0, Math.min(name.length(), 64)) + ".", ".part");
        try {
            MessageDigest digest = sha256();
            long written = 0;
            long total = expectedSize;
            int failures = 0;
            boolean refreshed = false;
            URI current = url;
            byte[] buf = new byte[BUFFER];
            notify(progress, 0, total);
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                while (true) {
                    checkCancelled();
                    HttpRequest.Builder request = HttpRequest.newBuilder(current).timeout(settings.requestTimeout())
                            .GET();
                    if (written > 0) {
                        request.header("Range", "bytes=" + written + "-");
                    }
                    HttpResponse<InputStream> r;
                    try {
                        r = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
                    } catch (IOException e) {
                        backoff(++failures, "GET: " + e, e);
                        continue;
                    }
                    int status = r.statusCode();
                    if (status == 200) {
                        if (written > 0) {   // the Range was ignored: start over
                            out.truncate(0);
                            out.position(0);
                            digest.reset();
                            written = 0;
                        }
                        if (total < 0) {
                            total = r.headers().firstValueAsLong("Content-Length").orElse(-1);
                        }
                    } else if (status == 206) {
                        Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
                        if (!m.matches() || Long.parseLong(m.group(1)) != written) {
                            close(r.body());
                            written = restart(out, digest);
                            backoff(++failures, "a 206 answer that does not start at " + written, null);
                            continue;
                        }
                        if (total < 0 && !m.group(3).equals("*")) {
                            total = Long.parseLong(m.group(3));
                        }
                    } else if (status == 416 && total >= 0 && written == total) {
                        close(r.body());
                        break;
                    } else if (status == 401 && refresh != null && !refreshed) {
                        close(r.body());
                        refreshed = true;
                        try {
                            current = refresh.fresh();
                        } catch (InterruptedException | RuntimeException | IOException e) {
                            throw e;
                        } catch (Exception e) {
                            throw new IOException("a new download URL could not be had: " + e, e);
                        }
                        continue;
                    } else if (isTransient(status)) {
                        close(r.body());
                        backoff(++failures, "GET: HTTP " + status, null);
                        continue;
                    } else {
                        throw error(status, readQuietly(r.body()), current);
                    }
                    InputStream in = r.body();
                    IOException broken = null;
                    AtomicLong lastRead = new AtomicLong(System.nanoTime());
                    AtomicBoolean stalled = new AtomicBoolean();
                    long stallNanos = settings.requestTimeout().toNanos();
                    ScheduledFuture<?> watch = WATCHDOG.scheduleWithFixedDelay(() -> {
                        if (System.nanoTime() - lastRead.get() > stallNanos) {
                            stalled.set(true);
                            close(in);
                        }
                    }, WATCH_MILLIS, WATCH_MILLIS, TimeUnit.MILLISECONDS);
                    try {
                        while (true) {
                            int n;
                            try {
                                n = in.read(buf);
                            } catch (IOException e) {
                                broken = e;
                                break;
                            }
                            if (n < 0) {
                                break;
                            }
                            lastRead.set(System.nanoTime());
                            checkCancelled();
                            if (total >= 0 && written + n > total) {
                                throw new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, "the download is "
                                        + "longer than the " + total + " bytes expected", false, 0);
                            }
                            ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                            while (bb.hasRemaining()) {
                                out.write(bb);
                            }
                            digest.update(buf, 0, n);
                            written += n;
                            failures = 0;
                            notify(progress, written, total);
                        }
                    } finally {
                        watch.cancel(false);
                        close(in);
                    }
                    if (broken != null || stalled.get()) {
                        backoff(++failures, "GET at " + written + ": " + (broken != null ? broken
                                : "no byte for " + settings.requestTimeout().toMillis() + " ms"), broken);
                        continue;
                    }
                    if (total >= 0 && written < total) {
                        backoff(++failures, "the answer ended at " + written + " of " + total + " bytes", null);
                        continue;
                    }
                    break;
                }
                out.force(false);
            }
            if (expectedSize >= 0 && written != expectedSize) {
                throw new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, "downloaded " + written
                        + " bytes; the message says " + expectedSize, false, 0);
            }
            String sha = HexFormat.of().formatHex(digest.digest());
            if (expectedSha256 != null && !expectedSha256.isEmpty() && !expectedSha256.equalsIgnoreCase(sha)) {
                throw new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, "the SHA-256 of the bytes "
                        + "downloaded (" + sha + ") differs from the message's (" + expectedSha256 + ")", false, 0);
            }
            notify(progress, written, written);
            Files.move(tmp, absolute);
            return target;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static long restart(FileChannel out, MessageDigest digest) throws IOException {
        out.truncate(0);
        out.position(0);
        digest.reset();
        return 0;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private void checkCancelled() {
        if (cancelled.getAsBoolean()) {
            throw cancellation.get();
        }
    }

    /** Counts a failure: ends the transfer after the last retry, else waits the backoff for {@code failures}. */
    private void backoff(int failures, String what, Throwable cause) throws InterruptedException {
        if (failures > settings.maxRetries()) {
            ParleyClientException e = new ParleyClientException(ErrorCode.ERROR_CODE_UNAVAILABLE, "gave up after "
                    + failures + " failed attempts; the last: " + what, true, 0);
            if (cause != null) {
                e.initCause(cause);
            }
            throw e;
        }
        long cap = settings.backoffMaxMillis();
        long delay = Math.min(cap, settings.backoffInitialMillis() << Math.min(20, failures - 1));
        long sleep = delay / 2 + ThreadLocalRandom.current().nextLong(delay / 2 + 1);
        long deadline = System.nanoTime() + sleep * 1_000_000L;
        while (true) {
            checkCancelled();
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return;
            }
            Thread.sleep(Math.min(left, 100));
        }
    }

    private static boolean isTransient(int status) {
        return status >= 500 || status == 408 || status == 429;
    }

    private static void notify(Progress progress, long bytes, long total) {
        try {
            progress.update(bytes, total);
        } catch (RuntimeException ignored) {
            // a listener's failure does not end the transfer
        }
    }

    private static OptionalLong longHeader(HttpResponse<?> r, String name) {
        try {
            return r.headers().firstValueAsLong(name);
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static ParleyClientException error(HttpResponse<String> r, URI url) {
        return error(r.statusCode(), r.body(), url);
    }

    /** The refusal an error answer carries: its JSON {@code error.code} and {@code message}, else its status. */
    static ParleyClientException error(int status, String body, URI url) {
        Object json = parseQuietly(body);
        String code = Json.string(json, "error", "code");
        String message = Json.string(json, "error", "message");
        ErrorCode c = code == null ? null : errorCode(code);
        if (c == null) {
            c = switch (status) {
                case 400, 409, 416 -> ErrorCode.ERROR_CODE_INVALID_REQUEST;
                case 401 -> ErrorCode.ERROR_CODE_UNAUTHENTICATED;
                case 403 -> ErrorCode.ERROR_CODE_FORBIDDEN;
                case 404, 410 -> ErrorCode.ERROR_CODE_NOT_FOUND;
                case 413 -> ErrorCode.ERROR_CODE_BODY_TOO_LARGE;
                case 503 -> ErrorCode.ERROR_CODE_UNAVAILABLE;
                default -> ErrorCode.ERROR_CODE_UNSPECIFIED;
            };
        }
        String where = url.getScheme() + "://" + url.getRawAuthority() + url.getRawPath();
        return new ParleyClientException(c, "HTTP " + status + " from " + where
                + (message == null || message.isEmpty() ? "" : ": " + message), status == 503, 0);
    }

    private static ErrorCode errorCode(String code) {
        String name = code.toUpperCase(Locale.ROOT);
        for (ErrorCode c : ErrorCode.values()) {
            if (c != ErrorCode.UNRECOGNIZED && (c.name().equals(name) || c.name().equals("ERROR_CODE_" + name))) {
                return c;
            }
        }
        return null;
    }

    private static Object parseQuietly(String body) {
        if (body == null || body.isBlank()) {
            return null;
        }
        try {
            return Json.parse(body);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String readQuietly(InputStream in) {
        try (in) {
            return new String(in.readNBytes(16 * 1024), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static void close(InputStream in) {
        if (in != null) {
            try {
                in.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }
}
