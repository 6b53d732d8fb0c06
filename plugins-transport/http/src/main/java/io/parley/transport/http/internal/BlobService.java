package io.parley.transport.http.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileAlreadyExistsException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The blob endpoints ({@code /blobs/<key>}, docs/protocol.md §6f) without the Netty pipeline around them: judges a
 * request's head ({@link #admit}), checks and writes upload chunks, answers upload-offset queries and opens
 * downloads, against the bound {@link BlobStore} and the partial uploads staged on local disk ({@link UploadStaging}).
 *
 * <p>Threading: {@link #admit}, {@link #acquire} and the store binding are non-blocking and may run on an event
 * loop. Everything that touches a disk or the store runs on this object's workers ({@code parley-http-blob-N}, at
 * most {@code upload.max.concurrent} clamped to 4–32, idle ones end after a minute), never on an event loop; the
 * futures complete there. Operations on one key (upload checks, chunk writes, offset queries, the sweep) run one at a
 * time in submission order, so chunks sent back to back are checked against the offset their predecessors left;
 * downloads are not ordered. The sweep of expired partial uploads runs on {@code parley-http-blob-sweep}.
 * {@link #close()} stops both. Thread-safe.
 *
 * <p>Memory: a chunk is buffered whole (at most {@code upload.chunk.max.bytes}) and only while it holds one of the
 * {@code upload.max.concurrent} permits (of which one user holds at most a quarter), so upload buffers never exceed
 * their product; a download holds one
 * {@link Download#CHUNK} buffer at a time and reads the next only once the previous has been written to the socket.
 */
public final class BlobService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BlobService.class);

    /** The media type of a {@code PATCH} body. */
    static final String OFFSET_OCTET_STREAM = "application/offset+octet-stream";
    static final String UPLOAD_OFFSET = "Upload-Offset";
    static final String UPLOAD_LENGTH = "Upload-Length";
    /** Longest {@code Cache-Control: max-age} of a download, in seconds. */
    static final long MAX_AGE_SECONDS = 300;
    /** A staged upload whose ticket expired this long ago is deleted by the sweep. */
    static final Duration EXPIRY_GRACE = Duration.ofMinutes(15);
    /** Staged files without a readable sidecar, last written this long ago, are deleted by the sweep. */
    static final Duration ORPHAN_AGE = Duration.ofHours(24);
    static final Duration SWEEP_INTERVAL = Duration.ofMinutes(10);
    /** A chunk's bytes must arrive at this rate at least (on top of {@code body.timeout.ms}). */
    static final long MIN_UPLOAD_BYTES_PER_SECOND = 65_536;

    private static final Pattern RANGE = Pattern.compile("bytes=(\\d{1,18})-(\\d{0,18})");
    private static final Pattern DIGITS = Pattern.compile("\\d{1,18}");
    private static final String ALLOW = "GET, HEAD, PATCH";

    /** What a blob request does. */
    enum Kind { GET, HEAD, PATCH }

    /** {@code Range: bytes=from-[to]}; {@code to} is -1 for "to the end". */
    record Range(long from, long to) {
    }

    /**
     * A request whose head passed every check that needs no I/O: its ticket is valid, for this key and this access.
     *
     * @param offset,length {@code Upload-Offset} and {@code Content-Length} of a {@code PATCH}; 0 otherwise
     * @param range         a {@code GET}'s range, or null for the whole blob
     * @param remote        the caller, for logs
     */
    record BlobRequest(Kind kind, String key, BlobTicket ticket, long offset, long length, Range range,
                       boolean keepAlive, boolean expectContinue, String remote) {
    }

    /**
     * A successful answer: status, headers, and either a JSON body ({@code json}), a streamed one ({@code download})
     * or none.
     */
    record Reply(int status, Map<String, String> headers, Object json, Download download) {
    }

    /** One of the {@code upload.max.concurrent} slots, taken for {@code user}; released exactly once. */
    final class Permit {
        private final AtomicBoolean released = new AtomicBoolean();
        private final String user;

        Permit(String user) {
            this.user = user;
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                userPermits.computeIfPresent(user, (u, n) -> n <= 1 ? null : n - 1);
                permits.release();
            }
        }
    }

    private final BlobSettings settings;
    private final byte[] secret;
    private final Clock clock;
    private final UploadStaging staging;
    private final AtomicReference<BlobStore> store = new AtomicReference<>();
    private final Semaphore permits;
    /** Slots held by each user's chunks (absent: none); at most {@link #perUser}. */
    private final ConcurrentHashMap<String, Integer> userPermits = new ConcurrentHashMap<>();
    private final int perUser;
    private final ThreadPoolExecutor workers;
    private final KeyOrder order;
    private final ScheduledExecutorService sweeper;
    private final RefusalLog refusals = new RefusalLog();

    public BlobService(BlobSettings settings) {
        this(settings, Clock.systemUTC());
    }

    BlobService(BlobSettings settings, Clock clock) {
        this.settings = settings;
        this.secret = settings.ticketSecret();
        this.clock = clock;
        this.staging = new UploadStaging(settings.uploadDir());
        this.permits = new Semaphore(settings.maxConcurrent());
        this.perUser = perUser(settings.maxConcurrent());
        int threads = Math.max(4, Math.min(32, settings.maxConcurrent()));
        AtomicInteger n = new AtomicInteger();
        ThreadFactory named = r -> {
            Thread t = new Thread(r, "parley-http-blob-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.workers = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                named);
        workers.allowCoreThreadTimeOut(true);
        this.order = new KeyOrder(workers);
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "parley-http-blob-sweep");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the sweep of expired partial uploads, or logs why the endpoints are off. Once. */
    public void start() {
        if (!settings.secretUsable()) {
            if (settings.secretConfigured()) {
                LOG.error("The HTTP blob endpoints refuse every /blobs request (503): ticket.secret in "
                        + "conf/parley.blob.cfg is {}; set a random secret of at least {} bytes (the same as the file "
                        + "types use)", settings.ticketSecret().length == 0 ? "empty" : "too short",
                        BlobSettings.MIN_SECRET_BYTES);
            } else {
                LOG.info("HTTP blob endpoints off (503): no ticket.secret (conf/parley.blob.cfg)");
            }
            return;
        }
        long every = SWEEP_INTERVAL.toMillis();
        sweeper.scheduleWithFixedDelay(this::sweepQuietly, Math.min(every, 60_000), every, TimeUnit.MILLISECONDS);
        LOG.info("HTTP blob endpoints on: chunks up to {} bytes, {} at once, partial uploads in {}",
                settings.chunkMaxBytes(), settings.maxConcurrent(), staging.dir().toAbsolutePath());
    }

    BlobSettings settings() {
        return settings;
    }

    Executor workers() {
        return workers;
    }

    /** Binds the store, replacing any other. Any thread. */
    public void bindStore(BlobStore blobStore) {
        store.set(blobStore);
    }

    /** The store went away: if it is the bound one, {@code /blobs} answers 503 until another is bound. Any thread. */
    public void unbindStore(BlobStore blobStore) {
        store.compareAndSet(blobStore, null);
    }

    // ------------------------------------------------------------------------------------------------ the head

    /**
     * Judges a blob request from its head alone: method, key, ticket (verified, for this key and access), and for
     * {@code PATCH} the content type, length and offset; for {@code GET} the range. Non-blocking.
     *
     * @param key    the decoded path after {@code /blobs/} ({@link Router.Match#blobKey()})
     * @param remote the caller, for logs
     * @return a {@link BlobRequest}, or the {@link ApiException} to answer with (the body is then never read)
     */
    Object admit(HttpRequest request, String key, String remote) {
        try {
            return judge(request, key, remote);
        } catch (ApiException e) {
            refusals.note(e, remote);
            return e;
        }
    }

    private BlobRequest judge(HttpRequest request, String key, String remote) {
        Kind kind;
        try {
            kind = Kind.valueOf(request.method().name());
        } catch (IllegalArgumentException e) {
            throw ApiException.methodNotAllowed(request.method().name() + " is not allowed on /blobs/<key> (allowed: "
                    + ALLOW + ")").withHeader(HttpHeaderNames.ALLOW.toString(), ALLOW);
        }
        if (key.isEmpty()) {
            throw ApiException.notFound("no blob key in the path: /blobs/<key>");
        }
        if (!BlobTicket.validKey(key)) {
            throw ApiException.invalid("not a blob key: 1-200 characters of [A-Za-z0-9._/-]");
        }
        if (!settings.secretUsable()) {
            throw new ApiException(503, "UNAVAILABLE", "the blob endpoints are disabled: set ticket.secret (at least "
                    + BlobSettings.MIN_SECRET_BYTES + " bytes) in conf/parley.blob.cfg", false, 0);
        }
        HttpHeaders headers = request.headers();
        BlobTicket ticket = ticket(kind, request);
        if (!ticket.key().equals(key)) {
            throw ApiException.forbidden("the ticket is for another blob");
        }
        BlobTicket.Access needed = kind == Kind.GET ? BlobTicket.Access.DOWNLOAD : BlobTicket.Access.UPLOAD;
        if (ticket.access() != needed) {
            throw ApiException.forbidden(kind == Kind.GET ? "an upload ticket does not download"
                    : "a download ticket does not upload");
        }
        boolean chunked = HttpUtil.isTransferEncodingChunked(request);
        long length = 0;
        long offset = 0;
        Range range = null;
        if (kind == Kind.PATCH) {
            if (!isOffsetOctetStream(headers.getAll(HttpHeaderNames.CONTENT_TYPE))) {
                throw ApiException.invalid("PATCH needs Content-Type: " + OFFSET_OCTET_STREAM);
            }
            length = HttpUtil.getContentLength(request, -1L);
            if (chunked || length < 0) {
                throw new ApiException(411, "INVALID_REQUEST", "PATCH needs a Content-Length (chunked transfer "
                        + "encoding is not accepted)", false, 0);
            }
            List<String> offsets = headers.getAll(UPLOAD_OFFSET);
            if (offsets.size() != 1 || !DIGITS.matcher(offsets.get(0).trim()).matches()) {
                throw ApiException.invalid("PATCH needs one Upload-Offset: the number of bytes already uploaded");
            }
            offset = Long.parseLong(offsets.get(0).trim());
            if (length > settings.chunkMaxBytes()) {
                throw ApiException.bodyTooLarge("a chunk is at most " + settings.chunkMaxBytes()
                        + " bytes (upload.chunk.max.bytes)");
            }
            if (offset > ticket.size() || length > ticket.size() - offset) {
                throw ApiException.bodyTooLarge("the chunk ends past the upload's size of " + ticket.size()
                        + " bytes");
            }
        } else {
            if (chunked || HttpUtil.getContentLength(request, 0L) > 0) {
                throw ApiException.invalid(kind + " /blobs/<key> takes no request body");
            }
            if (kind == Kind.GET) {
                range = range(headers.getAll(HttpHeaderNames.RANGE));
            }
        }
        if (store.get() == null) {
            throw ApiException.unavailable("no blob store is running");
        }
        return new BlobRequest(kind, key, ticket, offset, length, range, HttpUtil.isKeepAlive(request),
                kind == Kind.PATCH && HttpUtil.is100ContinueExpected(request), remote);
    }

    /** The ticket of a request: {@code Authorization: Bearer}, or for {@code GET} also the {@code ticket} parameter. */
    private BlobTicket ticket(Kind kind, HttpRequest request) {
        List<String> authorization = request.headers().getAll(HttpHeaderNames.AUTHORIZATION);
        if (authorization.size() > 1) {
            throw ApiException.unauthenticated("more than one Authorization header");
        }
        String token = null;
        if (authorization.size() == 1) {
            String value = authorization.get(0).trim();
            if (value.length() < 7 || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
                throw ApiException.unauthenticated("Authorization must be Bearer <ticket>");
            }
            token = value.substring(7).trim();
        }
        if (kind == Kind.GET) {
            List<String> query = new QueryStringDecoder(request.uri()).parameters().get("ticket");
            if (query != null) {
                if (query.size() > 1 || token != null) {
                    throw ApiException.invalid("more than one ticket (query parameter and Authorization)");
                }
                token = query.get(0);
            }
        }
        if (token == null || token.isEmpty()) {
            throw ApiException.unauthenticated(kind == Kind.GET
                    ? "no ticket: send ?ticket=<ticket> or Authorization: Bearer <ticket>"
                    : "no ticket: send Authorization: Bearer <ticket>");
        }
        try {
            return BlobTicket.verify(token, secret, clock.instant());
        } catch (BlobTicket.InvalidTicketException e) {
            throw ApiException.unauthenticated(e.getMessage());
        }
    }

    /** Exactly one {@code application/offset+octet-stream}, parameters ignored. */
    static boolean isOffsetOctetStream(List<String> contentTypes) {
        if (contentTypes.size() != 1) {
            return false;
        }
        String type = contentTypes.get(0);
        int semicolon = type.indexOf(';');
        return (semicolon < 0 ? type : type.substring(0, semicolon)).trim().equalsIgnoreCase(OFFSET_OCTET_STREAM);
    }

    /** @return the range, or null for none; {@code bytes=from-} and {@code bytes=from-to} only */
    static Range range(List<String> values) {
        if (values.isEmpty()) {
            return null;
        }
        Matcher m = values.size() == 1 ? RANGE.matcher(values.get(0).trim().toLowerCase(Locale.ROOT)) : null;
        if (m == null || !m.matches()) {
            throw ApiException.invalid("unsupported Range: send one bytes=<from>-[<to>]");
        }
        long from = Long.parseLong(m.group(1));
        long to = m.group(2).isEmpty() ? -1 : Long.parseLong(m.group(2));
        if (to >= 0 && to < from) {
            throw ApiException.invalid("malformed Range: <to> before <from>");
        }
        return new Range(from, to);
    }

    /**
     * The deadline for a request's body: {@code body.timeout.ms}, plus, for a chunk, the time it takes at
     * {@link #MIN_UPLOAD_BYTES_PER_SECOND}.
     */
    static long bodyDeadlineMillis(long bodyTimeoutMillis, BlobRequest request) {
        return bodyTimeoutMillis + request.length() * 1000 / MIN_UPLOAD_BYTES_PER_SECOND;
    }

    /**
     * The slots one user's chunks may hold at once: a quarter of {@code upload.max.concurrent}, at least one. A chunk
     * holds its slot until its body has arrived, and one ticket opens any number of connections: without this, one
     * slow sender would lock every other user's uploads out.
     */
    static int perUser(int maxConcurrent) {
        return Math.max(1, maxConcurrent / 4);
    }

    /**
     * @param user the ticket's user
     * @return a permit to receive and write a chunk
     * @throws ApiException retryable 503 if {@code upload.max.concurrent} are taken, or {@link #perUser} by
     *                      {@code user}
     */
    Permit acquire(String user) {
        boolean[] taken = {false};
        userPermits.compute(user, (u, n) -> {
            int held = n == null ? 0 : n;
            if (held >= perUser) {
                return n;
            }
            taken[0] = true;
            return held + 1;
        });
        if (!taken[0]) {
            throw ApiException.unavailable("too many uploads of " + user + " in progress (a quarter of "
                    + "upload.max.concurrent); retry");
        }
        if (!permits.tryAcquire()) {
            userPermits.computeIfPresent(user, (u, n) -> n <= 1 ? null : n - 1);
            throw ApiException.unavailable("too many uploads in progress (upload.max.concurrent); retry");
        }
        return new Permit(user);
    }

    /** Counts a refusal made elsewhere (the per-connection upload handler) for the rate-limited log. */
    void noteRefusal(ApiException e, String remote) {
        refusals.note(e, remote);
    }

    // ------------------------------------------------------------------------------------------------ uploads

    /**
     * Checks a {@code PATCH} before its body is read: the object is not complete yet and {@code Upload-Offset} is
     * what has been received. In the key's order.
     *
     * @return completes normally if the chunk may be sent, or with a 409 {@link ApiException} carrying the right
     *         {@code Upload-Offset}
     */
    CompletableFuture<Void> checkUpload(BlobRequest r) {
        return inKeyOrder(r, () -> {
            Progress p = progress(requireStore(), r.ticket());
            if (p.complete()) {
                throw alreadyComplete(p.received());
            }
            if (p.received() != r.offset()) {
                throw wrongOffset(r.offset(), p.received());
            }
            return null;
        });
    }

    /**
     * Writes a checked chunk (taking ownership of {@code chunk} and {@code permit}, both released when done): stages
     * it, or, when it completes the object, stores the object and deletes what was staged. In the key's order.
     *
     * @return 204 with the new {@code Upload-Offset}, or 201 {@code {key, size, content_type, sha256}}
     */
    CompletableFuture<Reply> write(BlobRequest r, ByteBuf chunk, Permit permit) {
        CompletableFuture<Reply> done = inKeyOrder(r, () -> {
            BlobStore s = requireStore();
            BlobTicket t = r.ticket();
            // checked at the head; an upload on another connection may have moved on since
            if (staging.state(t).committed() != r.offset() || r.offset() == 0 && s.stat(t.key()).isPresent()) {
                Progress p = progress(s, t);
                throw p.complete() ? alreadyComplete(p.received()) : wrongOffset(r.offset(), p.received());
            }
            long end = r.offset() + r.length();
            if (end == t.size() && r.offset() == 0) {
                return created(store(s, t, () -> new ByteBufInputStream(chunk.duplicate()), -1));
            }
            staging.append(t, r.offset(), chunk.nioBuffer());
            if (end < t.size()) {
                return new Reply(204, Map.of(UPLOAD_OFFSET, Long.toString(end)), null, null);
            }
            return created(store(s, t, () -> staging.open(t.key()), r.offset()));
        });
        done.whenComplete((reply, error) -> {
            ReferenceCountUtil.release(chunk);
            permit.release();
        });
        return done;
    }

    /** {@code HEAD}: how many bytes of the upload have arrived ({@code size} once complete). In the key's order. */
    CompletableFuture<Reply> uploadOffset(BlobRequest r) {
        return inKeyOrder(r, () -> {
            Progress p = progress(requireStore(), r.ticket());
            Map<String, String> headers = new LinkedHashMap<>();
            headers.put(UPLOAD_OFFSET, Long.toString(p.received()));
            headers.put(UPLOAD_LENGTH, Long.toString(r.ticket().size()));
            return new Reply(200, headers, null, null);
        });
    }

    /**
     * How far an upload is.
     *
     * @param received bytes received in whole chunks; the object's size once it is stored
     * @param complete true if the object is stored
     */
    private record Progress(long received, boolean complete) {
    }

    /**
     * @return the object's size if it is stored (anything staged is deleted); else what is staged, after storing it
     *         first if all of it is (a completion cut short by a crash or a store failure)
     */
    private Progress progress(BlobStore s, BlobTicket t) throws IOException {
        Optional<BlobStore.Info> stored = s.stat(t.key());
        if (stored.isPresent()) {
            staging.discard(t.key());
            return new Progress(stored.get().size(), true);
        }
        UploadStaging.State state = staging.state(t);
        if (state.staged() && state.committed() == t.size()) {
            try {
                store(s, t, () -> staging.open(t.key()), -1);
                LOG.info("HTTP blobs: stored {}, whose upload was complete on disk but not yet stored", t.key());
            } catch (ApiException e) {
                if (e.status() != 409) {
                    throw e;
                }
            }
            return new Progress(t.size(), true);
        }
        return new Progress(state.committed(), false);
    }

    private interface Source {
        InputStream open() throws IOException;
    }

    /**
     * Stores the whole upload and deletes what is staged.
     *
     * @param rollBackTo on failure, the committed length to go back to (-1: leave the staged bytes as they are)
     */
    private BlobStore.Info store(BlobStore s, BlobTicket t, Source source, long rollBackTo) throws IOException {
        BlobStore.Info info;
        try (InputStream in = source.open()) {
            info = s.put(t.key(), in, t.size(), t.contentType());
        } catch (FileAlreadyExistsException e) {
            staging.discard(t.key());
            throw alreadyComplete(s.stat(t.key()).map(BlobStore.Info::size).orElse(t.size()));
        } catch (IOException | RuntimeException e) {
            if (rollBackTo >= 0) {
                staging.rollBack(t, rollBackTo);
            }
            if (e instanceof IOException io) {
                LOG.warn("HTTP blobs: the blob store could not store {} ({} bytes): {}", t.key(), t.size(),
                        io.toString());
                throw ApiException.unavailable("the blob store could not store the object; send the last chunk again");
            }
            throw e;
        }
        staging.discard(t.key());
        return info;
    }

    private static Reply created(BlobStore.Info info) {
        return new Reply(201, Map.of(UPLOAD_OFFSET, Long.toString(info.size())),
                new Dto.BlobCreated(info.key(), info.size(), info.contentType(), info.sha256()), null);
    }

    private static ApiException alreadyComplete(long size) {
        return ApiException.conflict("the upload is already complete").withHeader(UPLOAD_OFFSET, Long.toString(size));
    }

    private static ApiException wrongOffset(long sent, long received) {
        return ApiException.conflict("Upload-Offset is " + received + ", not " + sent)
                .withHeader(UPLOAD_OFFSET, Long.toString(received));
    }

    // ------------------------------------------------------------------------------------------------ downloads

    /** {@code GET}: the blob (or the requested range) as a {@link Download}, with its headers. Not ordered. */
    CompletableFuture<Reply> download(BlobRequest r) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                if (workers.isShutdown()) {
                    throw ApiException.unavailable("the HTTP API is stopping");
                }
                try {
                    return open(r);
                } catch (IOException e) {
                    LOG.warn("HTTP blobs: the blob store could not read {}: {}", r.key(), e.toString());
                    throw ApiException.unavailable("the blob store could not read the object");
                } catch (ApiException e) {
                    refusals.note(e, r.remote());
                    throw e;
                }
            }, workers);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(ApiException.unavailable("the HTTP API is stopping"));
        }
    }

    private Reply open(BlobRequest r) throws IOException {
        BlobStore s = requireStore();
        BlobStore.Info info = s.stat(r.key()).orElseThrow(() ->
                ApiException.notFound("no object under this key (deleted, recalled or never completed)"));
        long size = info.size();
        long from = 0;
        long to = size - 1;
        Map<String, String> headers = new LinkedHashMap<>();
        int status = 200;
        if (r.range() != null) {
            if (r.range().from() >= size) {
                throw new ApiException(416, "INVALID_REQUEST", "the range starts past the end of the object ("
                        + size + " bytes)", false, 0).withHeader(HttpHeaderNames.CONTENT_RANGE.toString(),
                        "bytes */" + size);
            }
            from = r.range().from();
            to = r.range().to() < 0 ? size - 1 : Math.min(r.range().to(), size - 1);
            status = 206;
            headers.put(HttpHeaderNames.CONTENT_RANGE.toString(), "bytes " + from + "-" + to + "/" + size);
        }
        String type = BlobTicket.validContentType(info.contentType()) ? info.contentType() : "application/octet-stream";
        headers.put(HttpHeaderNames.CONTENT_TYPE.toString(), type);
        headers.put(HttpHeaderNames.ETAG.toString(), "\"" + info.sha256() + "\"");
        headers.put(HttpHeaderNames.ACCEPT_RANGES.toString(), "bytes");
        long untilExpiry = Duration.between(clock.instant(), r.ticket().expires()).getSeconds();
        headers.put(HttpHeaderNames.CACHE_CONTROL.toString(),
                "private, max-age=" + Math.max(0, Math.min(MAX_AGE_SECONDS, untilExpiry)));
        headers.put("X-Content-Type-Options", "nosniff");
        headers.put(HttpHeaderNames.CONTENT_SECURITY_POLICY.toString(), "sandbox");
        headers.put("Referrer-Policy", "no-referrer");
        if (!inline(type)) {
            headers.put(HttpHeaderNames.CONTENT_DISPOSITION.toString(), "attachment");
        }
        InputStream in = s.open(r.key(), from).orElseThrow(() ->
                ApiException.notFound("no object under this key (deleted, recalled or never completed)"));
        return new Reply(status, headers, null, new Download(in, to - from + 1, workers));
    }

    /**
     * Images, audio and video may be shown in place; anything else is downloaded as an attachment, and so are SVG
     * (an image that runs script when opened as a document) and every XML type (browsers render {@code *+xml} as XML,
     * XHTML with its scripts included).
     */
    static boolean inline(String contentType) {
        String t = contentType.toLowerCase(Locale.ROOT);
        return (t.startsWith("image/") || t.startsWith("audio/") || t.startsWith("video/"))
                && !t.contains("svg") && !t.contains("xml");
    }

    /**
     * The body of a {@code GET}, streamed from the store off the event loop: one {@link #CHUNK} is read on a blob
     * worker, written and flushed on the event loop, and only when that write has completed is the next one read,
     * so a slow reader holds one chunk of memory and no thread. Owns the stream; closed when done or failed.
     */
    static final class Download {
        static final int CHUNK = 64 * 1024;

        private final InputStream in;
        private final long length;
        private final Executor io;
        private long remaining;

        Download(InputStream in, long length, Executor io) {
            this.in = in;
            this.length = length;
            this.io = io;
            this.remaining = length;
        }

        long length() {
            return length;
        }

        /**
         * Writes the body after the response head (already written). Event loop of {@code ctx}; {@code done}
         * completes on it, failed if the stream or the connection failed (the connection must then be closed).
         */
        void writeTo(ChannelHandlerContext ctx, ChannelPromise done) {
            if (length == 0) {
                ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish(done, f.cause()));
                return;
            }
            readNext(ctx, done);
        }

        private void readNext(ChannelHandlerContext ctx, ChannelPromise done) {
            try {
                io.execute(() -> {
                    ByteBuf buf = null;
                    try {
                        if (io instanceof ThreadPoolExecutor pool && pool.isShutdown()) {
                            throw new IOException("the HTTP API is stopping");
                        }
                        int n = (int) Math.min(CHUNK, remaining);
                        buf = ctx.alloc().buffer(n);
                        while (buf.readableBytes() < n) {
                            if (buf.writeBytes(in, n - buf.readableBytes()) < 0) {
                                throw new EOFException("the object ended " + (remaining - buf.readableBytes())
                                        + " bytes early");
                            }
                        }
                        remaining -= n;
                        boolean last = remaining == 0;
                        ByteBuf chunk = buf;
                        buf = null;
                        try {
                            ctx.executor().execute(() -> writeChunk(ctx, chunk, last, done));
                        } catch (RejectedExecutionException e) {
                            chunk.release();
                            finish(done, e);
                        }
                    } catch (Throwable e) {
                        if (buf != null) {
                            buf.release();
                        }
                        finish(done, e);
                    }
                });
            } catch (RejectedExecutionException e) {
                finish(done, e);
            }
        }

        private void writeChunk(ChannelHandlerContext ctx, ByteBuf chunk, boolean last, ChannelPromise done) {
            ctx.writeAndFlush(last ? new DefaultLastHttpContent(chunk) : new DefaultHttpContent(chunk))
                    .addListener(f -> {
                        if (!f.isSuccess() || last) {
                            finish(done, f.cause());
                        } else {
                            readNext(ctx, done);
                        }
                    });
        }

        /** Closes the stream (a store's stream may block on close: on a worker when possible). */
        void close() {
            try {
                io.execute(this::closeNow);
            } catch (RejectedExecutionException e) {
                closeNow();
            }
        }

        private void closeNow() {
            try {
                in.close();
            } catch (IOException e) {
                LOG.debug("HTTP blobs: closing a download: {}", e.toString());
            }
        }

        private void finish(ChannelPromise done, Throwable failure) {
            close();
            if (failure == null) {
                done.trySuccess();
            } else {
                done.tryFailure(failure);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ plumbing

    private BlobStore requireStore() {
        BlobStore s = store.get();
        if (s == null) {
            throw ApiException.unavailable("no blob store is running");
        }
        return s;
    }

    /** Runs {@code task} on a worker after every earlier task on the same key; I/O failures become a retryable 503. */
    private <T> CompletableFuture<T> inKeyOrder(BlobRequest r, Callable<T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        order.execute(r.key(), () -> {
            try {
                result.complete(task.call());
            } catch (ApiException e) {
                if (e.status() < 500) {
                    refusals.note(e, r.remote());
                }
                result.completeExceptionally(e);
            } catch (IOException e) {
                LOG.warn("HTTP blobs: {} {} failed: {}", r.kind(), r.key(), e.toString());
                result.completeExceptionally(ApiException.unavailable("the upload could not be read or written"));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        }, () -> result.completeExceptionally(ApiException.unavailable("the HTTP API is stopping")));
        return result;
    }

    /** Deletes the partial uploads whose tickets have expired, and orphaned files. Package-private for tests. */
    void sweep(Instant now) throws IOException {
        Instant cutoff = now.minus(EXPIRY_GRACE);
        for (String key : staging.sweep(now, cutoff, ORPHAN_AGE)) {
            order.execute(key, () -> {
                try {
                    if (staging.discardIfExpired(key, cutoff)) {
                        LOG.info("HTTP blobs: deleted the partial upload of {}: its ticket expired", key);
                    }
                } catch (IOException e) {
                    LOG.warn("HTTP blobs: cannot delete the partial upload of {}: {}", key, e.toString());
                }
            }, () -> { });
        }
    }

    private void sweepQuietly() {
        try {
            sweep(clock.instant());
        } catch (IOException | RuntimeException e) {
            LOG.warn("HTTP blobs: the sweep of {} failed: {}", staging.dir(), e.toString());
        }
    }

    /** Staging, for tests. */
    UploadStaging staging() {
        return staging;
    }

    /** Stops the workers and the sweep (bounded wait); requests after this get 503. Idempotent. */
    @Override
    public void close() {
        sweeper.shutdownNow();
        // tasks that never started take their failure path now, so buffers, permits and streams are released
        for (Runnable dropped : workers.shutdownNow()) {
            try {
                dropped.run();
            } catch (RuntimeException e) {
                LOG.debug("HTTP blobs: a dropped task failed on close: {}", e.toString());
            }
        }
        try {
            if (!workers.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("HTTP blobs: workers still busy after 5 s");
            }
            sweeper.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Runs tasks on an executor one key at a time, in submission order per key; tasks of different keys run in
     * parallel. Thread-safe.
     */
    static final class KeyOrder {
        private final Executor executor;
        // guarded by this: keys with a task running, and the tasks waiting behind it
        private final Map<String, ArrayDeque<Runnable>> waiting = new HashMap<>();

        KeyOrder(Executor executor) {
            this.executor = executor;
        }

        /** @param rejected run instead of {@code task} if the executor refuses it (shut down) */
        void execute(String key, Runnable task, Runnable rejected) {
            synchronized (this) {
                ArrayDeque<Runnable> queue = waiting.get(key);
                if (queue != null) {
                    queue.add(guard(task, rejected));
                    return;
                }
                waiting.put(key, new ArrayDeque<>());
            }
            try {
                Runnable first = guard(task, rejected);
                executor.execute(() -> drain(key, first));
            } catch (RejectedExecutionException e) {
                ArrayDeque<Runnable> dropped;
                synchronized (this) {
                    dropped = waiting.remove(key);
                }
                rejected.run();
                dropped.forEach(Runnable::run);
            }
        }

        /** A task that finds the executor shut down when its turn comes runs {@code rejected} instead. */
        private Runnable guard(Runnable task, Runnable rejected) {
            return () -> {
                if (executor instanceof ThreadPoolExecutor pool && pool.isShutdown()) {
                    rejected.run();
                } else {
                    task.run();
                }
            };
        }

        private void drain(String key, Runnable first) {
            Runnable next = first;
            while (next != null) {
                try {
                    next.run();
                } catch (RuntimeException e) {
                    LOG.error("HTTP blobs: a task on {} failed", key, e);
                }
                synchronized (this) {
                    ArrayDeque<Runnable> queue = waiting.get(key);
                    next = queue.poll();
                    if (next == null) {
                        waiting.remove(key);
                    }
                }
            }
        }
    }

    /** Refusals, logged at WARN at most every {@link ConnectionSlots#LOG_INTERVAL_NANOS} with counts per status. */
    private static final class RefusalLog {
        private final TreeMap<Integer, Long> counts = new TreeMap<>();
        private long lastLog = System.nanoTime() - ConnectionSlots.LOG_INTERVAL_NANOS;

        synchronized void note(ApiException e, String remote) {
            counts.merge(e.status(), 1L, Long::sum);
            long now = System.nanoTime();
            if (now - lastLog < ConnectionSlots.LOG_INTERVAL_NANOS) {
                return;
            }
            lastLog = now;
            StringBuilder summary = new StringBuilder();
            counts.forEach((status, n) -> summary.append(summary.length() == 0 ? "" : ", ").append(n).append(" × ")
                    .append(status));
            counts.clear();
            LOG.warn("HTTP blobs: refused {} since the last report; latest: {} from {}", summary, e, remote);
        }
    }
}
