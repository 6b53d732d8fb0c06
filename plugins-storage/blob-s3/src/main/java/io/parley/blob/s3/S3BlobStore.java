package io.parley.blob.s3;

import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.AbortableInputStream;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MetadataDirective;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.FileAlreadyExistsException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A {@link BlobStore} on an S3 bucket (AWS S3 or an S3-compatible server), through the AWS SDK for Java v2 with its
 * {@code HttpURLConnection} client. Blob {@code key} is object {@code prefix + key}; the object carries the blob's
 * content type as {@code Content-Type} and its SHA-256 (lower-case hex) and creation instant (ISO-8601) as user
 * metadata {@code x-amz-meta-sha256} and {@code x-amz-meta-created}. Anything but a picture, audio or video (SVG and
 * XML types included) also carries {@code Content-Disposition: attachment}, which S3 sends with it: pre-signed URLs
 * are opened on the object store's origin with the uploader's content type, and an uploaded HTML page or SVG image
 * must not run there as a page.
 *
 * <p>{@code put} never overwrites. Puts of one key through one store instance are serialized (a second waits for the
 * first, then finds the key taken); each checks with a HEAD, then writes conditionally with {@code If-None-Match: *}.
 * AWS S3 enforces that header atomically (on PutObject, and per its API model on CopyObject), so puts of one key
 * from several processes let exactly one win there; on a server that ignores it (s3rver, some S3-compatible servers)
 * or checks it non-atomically (S3Mock), concurrent puts of one key from <em>different</em> processes race between the
 * HEAD and the write, and the last one wins. The SHA-256 must be known before the object's metadata is sent, so:
 * <ul>
 *   <li>up to {@value #SINGLE_PUT_MAX} bytes are read into memory (exactly {@code length} bytes), hashed and sent
 *       with one {@code PutObject};</li>
 *   <li>larger blobs are streamed in parts of {@value #PART_SIZE} bytes (one part in memory at a time) as a multipart
 *       upload to a staging object {@code prefix + "~uploads/" + uuid}, which is then copied server-side to its key
 *       with the metadata (conditionally, as above) and deleted. A failure aborts the upload or deletes the staging
 *       object; a crash may leave staging objects, which {@link #list} never shows ({@code ~} is not a key
 *       character), and incomplete multipart uploads: expire {@code prefix + "~uploads/"} and abort incomplete
 *       uploads with bucket lifecycle rules. Blobs over 5 GiB (the limit of one
 *       server-side copy) are refused.</li>
 * </ul>
 *
 * <p>Costs: {@code stat} is one HEAD; {@code delete} a HEAD and a DELETE; {@code list} one LIST per 1000 keys plus
 * <b>one HEAD per listed blob</b> (the listing has neither the content type nor the SHA-256). An object without
 * {@code x-amz-meta-sha256} (not written by this store) is read whole to compute it whenever it is described.
 *
 * <p>Errors: every SDK failure becomes an {@link IOException} saying what went wrong: missing bucket, refused
 * credentials, unreachable endpoint, or the server's error code. Thread-safe; every method blocks on the network.
 */
public final class S3BlobStore implements BlobStore, AutoCloseable {

    /** Blobs up to this size are sent with one PutObject, larger ones as multipart uploads. */
    public static final long SINGLE_PUT_MAX = 16L * 1024 * 1024;
    /** Part size of multipart uploads (S3's minimum is 5 MiB). */
    public static final int PART_SIZE = 8 * 1024 * 1024;
    /** The largest blob this store accepts: the limit of one server-side CopyObject. */
    public static final long MAX_BLOB = 5L * 1024 * 1024 * 1024;
    /** The longest validity of a SigV4 pre-signed URL. */
    public static final Duration PRESIGN_MAX = Duration.ofDays(7);

    static final String META_SHA256 = "sha256";
    static final String META_CREATED = "created";
    /** Identifies one put, so a retried conditional write that finds its own object is a success. */
    static final String META_UPLOAD = "parley-upload";
    static final String STAGING = "~uploads/";
    static final String DEFAULT_CONTENT_TYPE = "application/octet-stream";

    private static final Pattern LIST_PREFIX = Pattern.compile("[A-Za-z0-9._/-]{0,200}");

    private final S3Settings settings;
    private final SdkHttpClient http;
    private final S3Client client;
    private final S3Presigner presigner;
    private final long singlePutMax;
    private final int partSize;
    private final boolean headBeforePut;
    private volatile boolean closed;
    /** Keys being put through this instance, each with the put's completion. */
    private final ConcurrentHashMap<String, CompletableFuture<Void>> putting = new ConcurrentHashMap<>();

    private S3BlobStore(S3Settings settings, long singlePutMax, int partSize, boolean headBeforePut) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.singlePutMax = singlePutMax;
        this.partSize = partSize;
        this.headBeforePut = headBeforePut;
        this.http = UrlConnectionHttpClient.builder()
                .connectionTimeout(Duration.ofSeconds(10))
                .socketTimeout(Duration.ofSeconds(60))
                .build();
        S3Client builtClient = null;
        try {
            builtClient = withBundleClassLoader(this::buildClient);
            this.client = builtClient;
            this.presigner = settings.presign() ? withBundleClassLoader(this::buildPresigner) : null;
        } catch (RuntimeException e) {
            if (builtClient != null) {
                builtClient.close();
            }
            http.close();
            throw e;
        }
    }

    /**
     * Creates the SDK clients; contacts nothing (see {@link #ensureBucket}).
     *
     * @throws IllegalArgumentException if the settings are unusable
     */
    public static S3BlobStore open(S3Settings settings) {
        return new S3BlobStore(settings, SINGLE_PUT_MAX, PART_SIZE, true);
    }

    /**
     * As {@link #open}, for tests: other upload sizes ({@code partSize} must be at least 5 MiB for AWS S3), and
     * {@code headBeforePut} false to rely on the conditional write alone.
     */
    static S3BlobStore open(S3Settings settings, long singlePutMax, int partSize, boolean headBeforePut) {
        if (singlePutMax < 0 || partSize <= 0) {
            throw new IllegalArgumentException("bad upload sizes: " + singlePutMax + ", " + partSize);
        }
        return new S3BlobStore(settings, singlePutMax, partSize, headBeforePut);
    }

    public S3Settings settings() {
        return settings;
    }

    private S3Client buildClient() {
        var builder = S3Client.builder()
                .httpClient(http)
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials())
                // CRC trailers and aws-chunked bodies are not understood by every S3-compatible server; the
                // bodies carry Content-MD5 instead
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .serviceConfiguration(serviceConfiguration())
                // ~/.aws/config of the server's user must not change how this store talks to its bucket
                .overrideConfiguration(o -> o.defaultProfileFile(emptyProfileFile()).defaultProfileName("default"));
        URI endpoint = settings.endpointUri();
        if (endpoint != null) {
            builder.endpointOverride(endpoint);
        }
        return builder.build();
    }

    private S3Presigner buildPresigner() {
        var builder = S3Presigner.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials())
                .serviceConfiguration(serviceConfiguration());
        URI endpoint = settings.endpointUri();
        if (endpoint != null) {
            builder.endpointOverride(endpoint);
        }
        return builder.build();
    }

    private StaticCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKey(), settings.secretKey()));
    }

    private S3Configuration serviceConfiguration() {
        return S3Configuration.builder()
                .pathStyleAccessEnabled(settings.pathStyle())
                .chunkedEncodingEnabled(false)
                .profileFile(emptyProfileFile())
                .build();
    }

    private static ProfileFile emptyProfileFile() {
        return ProfileFile.builder()
                .content(new ByteArrayInputStream(new byte[0]))
                .type(ProfileFile.Type.CONFIGURATION)
                .build();
    }

    /**
     * The SDK finds some of its parts through the thread context class loader; inside OSGi that is not this bundle's
     * loader, so it is set to it while clients are built.
     */
    private static <T> T withBundleClassLoader(Supplier<T> action) {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        thread.setContextClassLoader(S3BlobStore.class.getClassLoader());
        try {
            return action.get();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    /**
     * Checks that the bucket exists and the credentials are accepted; creates the bucket if it is missing and
     * {@link S3Settings#createBucket} is set.
     *
     * @throws IOException naming the problem (missing bucket, refused credentials, unreachable endpoint)
     */
    public void ensureBucket() throws IOException {
        checkOpen();
        try {
            client.headBucket(b -> b.bucket(settings.bucket()));
            return;
        } catch (S3Exception e) {
            if (e.statusCode() != 404) {
                throw failure("check bucket", null, e);
            }
        } catch (SdkException e) {
            throw failure("check bucket", null, e);
        }
        if (!settings.createBucket()) {
            throw missingBucket();
        }
        try {
            client.createBucket(b -> b.bucket(settings.bucket()));
        } catch (S3Exception e) {
            if (!"BucketAlreadyOwnedByYou".equals(errorCode(e))) {
                throw failure("create bucket", null, e);
            }
        } catch (SdkException e) {
            throw failure("create bucket", null, e);
        }
    }

    @Override
    public Info put(String key, InputStream content, long length, String contentType) throws IOException {
        String objectKey = objectKey(key);
        Objects.requireNonNull(content, "content");
        if (length < 0) {
            throw new IllegalArgumentException("length must not be negative: " + length);
        }
        if (contentType == null || contentType.isBlank()) {
            throw new IllegalArgumentException("content type must be set");
        }
        if (length > MAX_BLOB) {
            throw new IOException("blob " + key + " has " + length + " bytes; the S3 store takes at most " + MAX_BLOB);
        }
        CompletableFuture<Void> mine = new CompletableFuture<>();
        for (CompletableFuture<Void> other; (other = putting.putIfAbsent(objectKey, mine)) != null; ) {
            awaitOtherPut(other, key);
        }
        try {
            if (headBeforePut && head(objectKey).isPresent()) {
                throw new FileAlreadyExistsException(key);
            }
            Instant created = Instant.now();
            String upload = UUID.randomUUID().toString();
            String sha256 = length <= singlePutMax
                    ? putSingle(key, objectKey, content, (int) length, contentType, created, upload)
                    : putMultipart(key, objectKey, content, length, contentType, created, upload);
            return new Info(key, length, contentType, sha256, created);
        } finally {
            putting.remove(objectKey, mine);
            mine.complete(null);
        }
    }

    private static void awaitOtherPut(CompletableFuture<Void> other, String key) throws IOException {
        try {
            other.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while another put of blob " + key + " was running");
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    private String putSingle(String key, String objectKey, InputStream content, int length, String contentType,
                             Instant created, String upload) throws IOException {
        MessageDigest sha = digest("SHA-256");
        MessageDigest md5 = digest("MD5");
        byte[] bytes = new byte[length];
        readFully(content, bytes, length, 0, length, key);
        expectEnd(content, length, key);
        sha.update(bytes);
        md5.update(bytes);
        String hex = HexFormat.of().formatHex(sha.digest());
        try {
            client.putObject(r -> r.bucket(settings.bucket()).key(objectKey)
                            .contentType(contentType).contentDisposition(contentDisposition(contentType))
                            .contentLength((long) length)
                            .contentMD5(Base64.getEncoder().encodeToString(md5.digest()))
                            .metadata(metadata(hex, created, upload))
                            .ifNoneMatch("*"),
                    RequestBody.fromContentProvider(() -> new ByteArrayInputStream(bytes), length, contentType));
        } catch (S3Exception e) {
            IOException failure = conditionalWriteFailure("put", key, objectKey, upload, e);
            if (failure != null) {
                throw failure;
            }
        } catch (SdkException e) {
            throw failure("put", key, e);
        }
        return hex;
    }

    /**
     * @return {@code attachment} for every content type but pictures, audio and video that are not SVG or XML (which
     *         may be shown in place), else null (no header)
     */
    static String contentDisposition(String contentType) {
        String t = contentType.toLowerCase(Locale.ROOT);
        boolean media = t.startsWith("image/") || t.startsWith("audio/") || t.startsWith("video/");
        return media && !t.contains("svg") && !t.contains("xml") ? null : "attachment";
    }

    private String putMultipart(String key, String objectKey, InputStream content, long length, String contentType,
                                Instant created, String upload) throws IOException {
        String staging = settings.prefix() + STAGING + upload;
        String uploadId;
        try {
            uploadId = client.createMultipartUpload(r -> r.bucket(settings.bucket()).key(staging)
                    .contentType(contentType)).uploadId();
        } catch (SdkException e) {
            throw failure("put", key, e);
        }
        MessageDigest sha = digest("SHA-256");
        String hex;
        boolean completed = false;
        try {
            byte[] buffer = new byte[(int) Math.min(partSize, length)];
            List<CompletedPart> parts = new ArrayList<>();
            long done = 0;
            for (int partNumber = 1; done < length; partNumber++) {
                int n = (int) Math.min(buffer.length, length - done);
                readFully(content, buffer, n, done, length, key);
                sha.update(buffer, 0, n);
                MessageDigest md5 = digest("MD5");
                md5.update(buffer, 0, n);
                int number = partNumber;
                String etag = client.uploadPart(r -> r.bucket(settings.bucket()).key(staging).uploadId(uploadId)
                                .partNumber(number).contentLength((long) n)
                                .contentMD5(Base64.getEncoder().encodeToString(md5.digest())),
                        RequestBody.fromContentProvider(() -> new ByteArrayInputStream(buffer, 0, n), n,
                                DEFAULT_CONTENT_TYPE)).eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
                done += n;
            }
            expectEnd(content, length, key);
            client.completeMultipartUpload(r -> r.bucket(settings.bucket()).key(staging).uploadId(uploadId)
                    .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()));
            completed = true;
            hex = HexFormat.of().formatHex(sha.digest());
        } catch (SdkException e) {
            throw failure("put", key, e);
        } finally {
            if (!completed) {
                abortQuietly(staging, uploadId);
            }
        }
        try {
            client.copyObject(r -> r.sourceBucket(settings.bucket()).sourceKey(staging)
                    .destinationBucket(settings.bucket()).destinationKey(objectKey)
                    .metadataDirective(MetadataDirective.REPLACE)
                    .contentType(contentType).contentDisposition(contentDisposition(contentType))
                    .metadata(metadata(hex, created, upload))
                    .ifNoneMatch("*"));
        } catch (S3Exception e) {
            IOException failure = conditionalWriteFailure("put", key, objectKey, upload, e);
            if (failure != null) {
                throw failure;
            }
        } catch (SdkException e) {
            throw failure("put", key, e);
        } finally {
            deleteQuietly(staging);
        }
        return hex;
    }

    /**
     * A refused conditional write: {@link FileAlreadyExistsException} when another put won, success (null) when the
     * object found is this put's own (an earlier attempt of a retried request got through).
     */
    private IOException conditionalWriteFailure(String op, String key, String objectKey, String upload,
                                                S3Exception e) throws IOException {
        if (e.statusCode() == 412 || e.statusCode() == 409) {
            Optional<HeadObjectResponse> existing = head(objectKey);
            if (existing.isPresent() && upload.equals(existing.get().metadata().get(META_UPLOAD))) {
                return null;
            }
            if (e.statusCode() == 412) {
                return (IOException) new FileAlreadyExistsException(key).initCause(e);
            }
        }
        return failure(op, key, e);
    }

    private static Map<String, String> metadata(String sha256, Instant created, String upload) {
        return Map.of(META_SHA256, sha256, META_CREATED, created.toString(), META_UPLOAD, upload);
    }

    /** Reads exactly {@code n} bytes into {@code buffer}; {@code done} and {@code length} are for the message. */
    private static void readFully(InputStream in, byte[] buffer, int n, long done, long length, String key)
            throws IOException {
        int read = 0;
        while (read < n) {
            int r = in.read(buffer, read, n - read);
            if (r < 0) {
                throw new IOException("content of blob " + key + " ended after " + (done + read) + " of " + length
                        + " bytes; nothing was stored");
            }
            read += r;
        }
    }

    private static void expectEnd(InputStream in, long length, String key) throws IOException {
        if (in.read() >= 0) {
            throw new IOException("content of blob " + key + " is longer than its length " + length
                    + "; nothing was stored");
        }
    }

    @Override
    public Optional<Info> stat(String key) throws IOException {
        String objectKey = objectKey(key);
        Optional<HeadObjectResponse> head = head(objectKey);
        if (head.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(info(key, objectKey, head.get()));
    }

    @Override
    public Optional<InputStream> open(String key, long offset) throws IOException {
        String objectKey = objectKey(key);
        if (offset < 0) {
            throw new IllegalArgumentException("offset must not be negative: " + offset);
        }
        Download download;
        try {
            download = client.getObject(r -> r.bucket(settings.bucket()).key(objectKey)
                    .range(offset > 0 ? "bytes=" + offset + "-" : null), Download.TRANSFORMER);
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && !"NoSuchBucket".equals(errorCode(e))) {
                return Optional.empty();
            }
            if (e.statusCode() == 416) {
                // offset at or past the end: no bytes left, if the blob exists
                return head(objectKey).map(h -> InputStream.nullInputStream());
            }
            throw failure("open", key, e);
        } catch (SdkException e) {
            throw failure("open", key, e);
        }
        InputStream in = download.in();
        if (offset > 0 && download.response().contentRange() == null) {
            // a server that ignored the Range header sent the whole object
            try {
                in.skipNBytes(Math.min(offset, Objects.requireNonNullElse(download.response().contentLength(),
                        offset)));
            } catch (IOException e) {
                in.close();
                throw e;
            }
        }
        return Optional.of(in);
    }

    /**
     * A GetObject response with its body left open for the caller. Not the SDK's {@code ResponseInputStream}: that
     * one arms a static scheduler thread of the SDK ({@code response-input-stream-timeout-scheduler}, idle for a
     * minute before it ends), which would outlive this bundle's stop.
     */
    private record Download(GetObjectResponse response, InputStream in) {
        static final ResponseTransformer<GetObjectResponse, Download> TRANSFORMER = new ResponseTransformer<>() {
            @Override
            public Download transform(GetObjectResponse response, AbortableInputStream in) {
                return new Download(response, in);
            }

            @Override
            public boolean needsConnectionLeftOpen() {
                return true;
            }
        };
    }

    @Override
    public boolean delete(String key) throws IOException {
        String objectKey = objectKey(key);
        if (head(objectKey).isEmpty()) {
            return false;
        }
        try {
            client.deleteObject(r -> r.bucket(settings.bucket()).key(objectKey));
            return true;
        } catch (SdkException e) {
            throw failure("delete", key, e);
        }
    }

    /** One LIST per 1000 keys and one HEAD per blob returned (see the class comment). */
    @Override
    public List<Info> list(String prefix, String after, int limit) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(after, "after");
        if (!LIST_PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("invalid blob key prefix: " + prefix);
        }
        if (!after.isEmpty() && !LIST_PREFIX.matcher(after).matches()) {
            throw new IllegalArgumentException("invalid blob key: " + after);
        }
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        checkOpen();
        List<Info> out = new ArrayList<>();
        String base = settings.prefix();
        String startAfter = after.isEmpty() ? null : base + after;
        String token = null;
        while (out.size() < limit) {
            String continuation = token;
            int want = Math.min(1000, limit - out.size());
            ListObjectsV2Response page;
            try {
                page = client.listObjectsV2(r -> r.bucket(settings.bucket()).prefix(base + prefix)
                        .startAfter(continuation == null ? startAfter : null)
                        .continuationToken(continuation).maxKeys(want));
            } catch (SdkException e) {
                throw failure("list", prefix, e);
            }
            for (S3Object object : page.contents()) {
                String key = object.key().substring(base.length());
                if (!BlobTicket.validKey(key)) {
                    continue;
                }
                Optional<HeadObjectResponse> head = head(object.key());
                if (head.isPresent()) {
                    out.add(info(key, object.key(), head.get()));
                    if (out.size() == limit) {
                        break;
                    }
                }
            }
            if (!Boolean.TRUE.equals(page.isTruncated()) || page.nextContinuationToken() == null) {
                break;
            }
            token = page.nextContinuationToken();
        }
        return out;
    }

    /** A pre-signed GET URL valid for {@code ttl} (at most {@link #PRESIGN_MAX}), if {@code presign} is on. */
    @Override
    public Optional<URI> downloadUrl(String key, Duration ttl) {
        String objectKey = objectKey(key);
        if (ttl == null || ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl must be positive: " + ttl);
        }
        if (presigner == null) {
            return Optional.empty();
        }
        Duration validity = ttl.compareTo(PRESIGN_MAX) > 0 ? PRESIGN_MAX : ttl;
        var presigned = presigner.presignGetObject(p -> p.signatureDuration(validity)
                .getObjectRequest(g -> g.bucket(settings.bucket()).key(objectKey)));
        try {
            return Optional.of(presigned.url().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("the SDK pre-signed an invalid URL", e);
        }
    }

    /** Closes the SDK clients and the HTTP client; later calls throw {@link IllegalStateException}. */
    @Override
    public void close() {
        closed = true;
        try {
            client.close();
        } finally {
            try {
                if (presigner != null) {
                    presigner.close();
                }
            } finally {
                http.close();
            }
        }
    }

    private Info info(String key, String objectKey, HeadObjectResponse head) throws IOException {
        Map<String, String> meta = head.metadata();
        String sha256 = meta.get(META_SHA256);
        if (sha256 == null || sha256.length() != 64) {
            sha256 = computeSha256(key, objectKey);
        }
        Instant created = null;
        String createdText = meta.get(META_CREATED);
        if (createdText != null) {
            try {
                created = Instant.parse(createdText);
            } catch (DateTimeParseException e) {
                created = null;
            }
        }
        if (created == null) {
            created = Objects.requireNonNullElse(head.lastModified(), Instant.EPOCH);
        }
        String contentType = head.contentType() == null || head.contentType().isBlank()
                ? DEFAULT_CONTENT_TYPE : head.contentType();
        long size = Objects.requireNonNullElse(head.contentLength(), 0L);
        return new Info(key, size, contentType, sha256, created);
    }

    private String computeSha256(String key, String objectKey) throws IOException {
        MessageDigest sha = digest("SHA-256");
        try (InputStream in = client.getObject(r -> r.bucket(settings.bucket()).key(objectKey),
                Download.TRANSFORMER).in()) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                sha.update(buffer, 0, n);
            }
        } catch (SdkException e) {
            throw failure("read", key, e);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private Optional<HeadObjectResponse> head(String objectKey) throws IOException {
        try {
            return Optional.of(client.headObject(r -> r.bucket(settings.bucket()).key(objectKey)));
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw failure("stat", keyOf(objectKey), e);
        } catch (SdkException e) {
            throw failure("stat", keyOf(objectKey), e);
        }
    }

    private void abortQuietly(String objectKey, String uploadId) {
        try {
            client.abortMultipartUpload(r -> r.bucket(settings.bucket()).key(objectKey).uploadId(uploadId));
        } catch (SdkException e) {
            // the bucket's lifecycle rule for incomplete multipart uploads collects it
        }
    }

    private void deleteQuietly(String objectKey) {
        try {
            client.deleteObject(r -> r.bucket(settings.bucket()).key(objectKey));
        } catch (SdkException e) {
            // an unlisted staging object; the bucket's lifecycle rule for prefix~uploads/ collects it
        }
    }

    private String objectKey(String key) {
        if (!BlobTicket.validKey(key)) {
            throw new IllegalArgumentException("invalid blob key: " + key);
        }
        checkOpen();
        return settings.prefix() + key;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the S3 blob store is closed");
        }
    }

    private String keyOf(String objectKey) {
        return objectKey.startsWith(settings.prefix()) ? objectKey.substring(settings.prefix().length()) : objectKey;
    }

    private IOException missingBucket() {
        return new IOException("S3 bucket '" + settings.bucket() + "' does not exist at " + where()
                + "; create it, or set create.bucket=true");
    }

    private String where() {
        return settings.endpoint().isEmpty() ? "AWS S3 region " + settings.region() : settings.endpoint();
    }

    private static String errorCode(S3Exception e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    }

    /** The SDK's failure as an IOException naming the cause an operator can act on. */
    private IOException failure(String op, String key, SdkException e) {
        String what = "S3 " + op + (key == null ? "" : " of blob " + key) + " failed: ";
        if (e instanceof S3Exception s3) {
            String code = errorCode(s3);
            int status = s3.statusCode();
            if ("NoSuchBucket".equals(code)) {
                IOException io = missingBucket();
                io.initCause(e);
                return io;
            }
            if (status == 403 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)
                    || "AccessDenied".equals(code) || "InvalidToken".equals(code) || "ExpiredToken".equals(code)) {
                return new IOException(what + "the credentials were refused (" + (code == null ? "HTTP " + status
                        : code) + ") by " + where() + " for bucket '" + settings.bucket()
                        + "': check access.key, secret.key and the bucket's policy", e);
            }
            return new IOException(what + (code == null ? "" : code + ", ") + "HTTP " + status
                    + (s3.awsErrorDetails() == null || s3.awsErrorDetails().errorMessage() == null ? ""
                    : ": " + s3.awsErrorDetails().errorMessage()), e);
        }
        if (e instanceof SdkClientException) {
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof ConnectException || c instanceof UnknownHostException
                        || c instanceof NoRouteToHostException || c instanceof SocketTimeoutException) {
                    return new IOException(what + "the S3 endpoint " + where() + " is unreachable ("
                            + c.getClass().getSimpleName() + ": " + c.getMessage() + ")", e);
                }
            }
        }
        return new IOException(what + e.getMessage(), e);
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " is not available", e);
        }
    }

    @Override
    public String toString() {
        return "S3BlobStore[" + settings + "]";
    }
}
