package io.parley.blob.s3;

import io.parley.core.spi.blob.BlobStore.Info;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the contract does not cover: pre-signed URLs, S3 failures and how they are reported, multipart uploads and
 * their staging objects, the conditional write on its own, and objects this store did not write. Pre-signed URLs and
 * credentials need s3rver (it checks signatures); the conditional write needs S3Mock (it enforces If-None-Match).
 */
class S3BlobStoreS3Test {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static S3Client s3rverRaw;
    private static S3Client s3mockRaw;

    @BeforeAll
    static void rawClients() {
        s3rverRaw = raw(S3TestServers.s3rver());
        s3mockRaw = raw(S3TestServers.s3mock());
    }

    @AfterAll
    static void closeRawClients() {
        s3rverRaw.close();
        s3mockRaw.close();
    }

    /** An SDK client straight at the server, to see the bucket as it is. */
    private static S3Client raw(S3TestServers.Server server) {
        return S3Client.builder().httpClient(UrlConnectionHttpClient.create()).region(Region.US_EAST_1)
                // no CRC trailer, no aws-chunked body: s3rver would store the chunk framing as the object's bytes
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .serviceConfiguration(c -> c.chunkedEncodingEnabled(false))
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3TestServers.ACCESS_KEY, S3TestServers.SECRET_KEY)))
                .forcePathStyle(true).endpointOverride(URI.create(server.endpoint())).build();
    }

    private static String prefix() {
        return "s3test/" + UUID.randomUUID();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Info put(S3BlobStore store, String key, byte[] bytes) throws IOException {
        return store.put(key, new ByteArrayInputStream(bytes), bytes.length, "text/plain");
    }

    private static List<String> rawKeys(S3Client raw, String prefix) {
        return raw.listObjectsV2(r -> r.bucket(S3TestServers.BUCKET).prefix(prefix)).contents().stream()
                .map(S3Object::key).toList();
    }

    private static String sha256(InputStream in) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (in) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** {@code length} pseudo-random bytes made on the fly, ending early after {@code available} bytes. */
    private static InputStream generated(long length, long available) {
        return new InputStream() {
            private long position;

            @Override
            public int read() {
                return position < Math.min(length, available) ? (int) ((position++ * 31 + 7) % 251) : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                long left = Math.min(length, available) - position;
                if (left <= 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                for (int i = 0; i < n; i++) {
                    b[off + i] = (byte) read();
                }
                return n;
            }
        };
    }

    // ---------------------------------------------------------------- pre-signed URLs (s3rver checks them)

    @Test
    void aPresignedUrlServesTheBlobUntilItExpires() throws Exception {
        try (S3BlobStore store = S3BlobStore.open(S3TestServers.s3rver().settings(prefix()))) {
            put(store, "f/alice/note.txt", utf8("hello over a pre-signed URL"));
            URI url = store.downloadUrl("f/alice/note.txt", Duration.ofSeconds(2)).orElseThrow();
            Instant signed = Instant.now();
            assertTrue(url.getQuery().contains("X-Amz-Expires=2"), url.toString());

            HttpResponse<String> ok = HTTP.send(HttpRequest.newBuilder(url).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
            assertEquals("hello over a pre-signed URL", ok.body());
            assertEquals(Optional.of("text/plain"), ok.headers().firstValue("Content-Type"));

            Thread.sleep(Math.max(0, Duration.between(Instant.now(), signed.plusMillis(3500)).toMillis()));
            HttpResponse<String> expired = HTTP.send(HttpRequest.newBuilder(url).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(403, expired.statusCode(), expired.body());
            assertTrue(expired.body().contains("expired"), expired.body());
        }
    }

    @Test
    void aPresignedUrlIsValidAtMostSevenDaysAndOnlyWhenPresignIsOn() throws Exception {
        S3TestServers.Server server = S3TestServers.s3rver();
        try (S3BlobStore store = S3BlobStore.open(server.settings(prefix()))) {
            URI url = store.downloadUrl("k", Duration.ofDays(30)).orElseThrow();
            assertTrue(url.getQuery().contains("X-Amz-Expires=604800"), url.toString());
            assertThrows(IllegalArgumentException.class, () -> store.downloadUrl("k", Duration.ZERO));
            assertThrows(IllegalArgumentException.class, () -> store.downloadUrl("../k", Duration.ofMinutes(1)));
        }
        try (S3BlobStore store = S3BlobStore.open(server.settings(prefix()).withPresign(false))) {
            assertEquals(Optional.empty(), store.downloadUrl("k", Duration.ofMinutes(1)));
        }
    }

    /**
     * Pre-signed URLs are fetched from the object store's origin with the uploader's Content-Type, past Parley's own
     * headers: an HTML page or an SVG image uploaded as a file would run there as a page. Such objects are stored with
     * {@code Content-Disposition: attachment} (what S3 then sends with them); pictures, audio and video are not.
     */
    @Test
    void activeContentIsStoredAsAnAttachmentAndServedSoOverPresignedUrls() throws Exception {
        try (S3BlobStore single = S3BlobStore.open(S3TestServers.s3rver().settings(prefix()));
             S3BlobStore parts = S3BlobStore.open(S3TestServers.s3rver().settings(prefix()), 0, 5 * 1024 * 1024,
                     true)) {
            byte[] page = utf8("<html><script>alert(document.domain)</script></html>");
            for (S3BlobStore store : List.of(single, parts)) {
                for (String type : new String[] {"text/html", "image/svg+xml", "application/xhtml+xml", "text/plain",
                        "image/png", "video/mp4"}) {
                    String key = "f/mallory/" + type.replace('/', '-').replace('+', '-');
                    store.put(key, new ByteArrayInputStream(page), page.length, type);
                    URI url = store.downloadUrl(key, Duration.ofMinutes(1)).orElseThrow();
                    HttpResponse<String> got = HTTP.send(HttpRequest.newBuilder(url).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, got.statusCode(), got.body());
                    boolean media = type.startsWith("image/png") || type.startsWith("video/");
                    assertEquals(media ? Optional.empty() : Optional.of("attachment"),
                            got.headers().firstValue("Content-Disposition"), type);
                    assertEquals(type, store.stat(key).orElseThrow().contentType());
                }
            }
        }
    }

    // ---------------------------------------------------------------- failures, reported clearly

    @Test
    void refusedCredentialsFailEveryCallWithAClearMessage() {
        S3Settings wrong = S3TestServers.s3rver().settings(prefix()).withCredentials("NOT-S3RVER", "not-the-secret");
        try (S3BlobStore store = S3BlobStore.open(wrong)) {
            List<IOException> failures = List.of(
                    assertThrows(IOException.class, store::ensureBucket),
                    assertThrows(IOException.class, () -> store.stat("k")),
                    assertThrows(IOException.class, () -> put(store, "k", utf8("x"))),
                    assertThrows(IOException.class, () -> store.open("k", 0)),
                    assertThrows(IOException.class, () -> store.list("", "", 10)),
                    assertThrows(IOException.class, () -> store.delete("k")));
            for (IOException e : failures) {
                assertTrue(e.getMessage().contains("credentials were refused"), e.getMessage());
                assertTrue(e.getMessage().contains(S3TestServers.BUCKET), e.getMessage());
            }
        }
    }

    @Test
    void aMissingBucketIsReportedOrCreated() throws Exception {
        String bucket = "missing-" + UUID.randomUUID().toString().substring(0, 8);
        S3Settings settings = S3TestServers.s3rver().settings("").withBucket(bucket, false);
        try (S3BlobStore store = S3BlobStore.open(settings)) {
            IOException check = assertThrows(IOException.class, store::ensureBucket);
            assertEquals("S3 bucket '" + bucket + "' does not exist at " + settings.endpoint()
                    + "; create it, or set create.bucket=true", check.getMessage());
            IOException put = assertThrows(IOException.class, () -> put(store, "k", utf8("x")));
            assertTrue(put.getMessage().contains("'" + bucket + "' does not exist"), put.getMessage());
            IOException list = assertThrows(IOException.class, () -> store.list("", "", 1));
            assertTrue(list.getMessage().contains("'" + bucket + "' does not exist"), list.getMessage());
        }
        try (S3BlobStore store = S3BlobStore.open(settings.withBucket(bucket, true))) {
            store.ensureBucket();
            store.ensureBucket();
            put(store, "k", utf8("in a new bucket"));
            assertEquals(List.of("k"), s3rverRaw.listObjectsV2(r -> r.bucket(bucket)).contents().stream()
                    .map(S3Object::key).toList());
        }
    }

    @Test
    void anUnreachableEndpointIsReportedAsSuch() throws Exception {
        int closedPort;
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        S3Settings settings = S3Settings.of("http://127.0.0.1:" + closedPort, "b", "a", "s");
        try (S3BlobStore store = S3BlobStore.open(settings)) {
            IOException e = assertThrows(IOException.class, () -> store.stat("k"));
            assertTrue(e.getMessage().contains("S3 endpoint http://127.0.0.1:" + closedPort + " is unreachable"),
                    e.getMessage());
            assertThrows(IOException.class, store::ensureBucket);
        }
    }

    @Test
    void settingsAreCheckedBeforeAnythingIsSent() {
        assertThrows(IllegalArgumentException.class, () -> S3Settings.of("ftp://host", "b", "a", "s"));
        assertThrows(IllegalArgumentException.class, () -> S3Settings.of("", "", "a", "s"));
        assertThrows(IllegalArgumentException.class, () -> S3Settings.of("", "b", "", "s"));
        S3Settings settings = S3Settings.of("", "b", "a", "s").withPrefix("/parley/blobs");
        assertEquals("parley/blobs/", settings.prefix());
        assertEquals("us-east-1", settings.region());
        assertFalse(settings.toString().contains("\"s\""), "no secret in " + settings);
    }

    // ---------------------------------------------------------------- no overwrite

    @Test
    void theConditionalWriteAloneRefusesAnExistingKey() throws Exception {
        // S3Mock enforces If-None-Match on PutObject; without the HEAD first, only the conditional write refuses
        S3Settings settings = S3TestServers.s3mock().settings(prefix());
        try (S3BlobStore store = S3BlobStore.open(settings, S3BlobStore.SINGLE_PUT_MAX, S3BlobStore.PART_SIZE,
                false); S3BlobStore other = S3BlobStore.open(settings)) {
            Info first = put(store, "f/x", utf8("first"));
            FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
                    () -> put(store, "f/x", utf8("second")));
            assertTrue(String.valueOf(e.getCause()).contains("412"), String.valueOf(e.getCause()));
            assertEquals(Optional.of(first), other.stat("f/x"));
        }
    }

    @Test
    void withoutConditionalWritesTheHeadStillRefusesAnExistingKey() throws Exception {
        // s3rver ignores If-None-Match: the HEAD before the write is what refuses here
        try (S3BlobStore store = S3BlobStore.open(S3TestServers.s3rver().settings(prefix()))) {
            Info first = put(store, "f/x", utf8("first"));
            assertThrows(FileAlreadyExistsException.class, () -> put(store, "f/x", utf8("second")));
            assertEquals(Optional.of(first), store.stat("f/x"));
            assertArrayEquals(utf8("first"), store.open("f/x", 0).orElseThrow().readAllBytes());
        }
    }

    // ---------------------------------------------------------------- multipart uploads

    @Test
    void aLargeBlobIsUploadedInPartsAndLeavesOnlyItsObject() throws Exception {
        String prefix = prefix();
        long length = 20L * 1024 * 1024 + 11;
        String expected = sha256(generated(length, length));
        try (S3BlobStore store = S3BlobStore.open(S3TestServers.s3rver().settings(prefix))) {
            Info info = store.put("v/movie", generated(length, length), length, "video/mp4");
            assertEquals(expected, info.sha256());
            assertEquals(length, info.size());
            assertEquals(Optional.of(info), store.stat("v/movie"));
            assertEquals(expected, sha256(store.open("v/movie", 0).orElseThrow()));
            assertEquals(List.of(prefix + "/v/movie"), rawKeys(s3rverRaw, prefix), "no staging object is left");
            assertEquals("video/mp4", s3rverRaw.headObject(r -> r.bucket(S3TestServers.BUCKET)
                    .key(prefix + "/v/movie")).contentType());
            assertEquals(expected, s3rverRaw.headObject(r -> r.bucket(S3TestServers.BUCKET)
                    .key(prefix + "/v/movie")).metadata().get("sha256"), "x-amz-meta-sha256");
        }
    }

    @Test
    void aMultipartUploadWhoseStreamEndsEarlyIsAbortedAndLeavesNothing() throws Exception {
        String prefix = prefix();
        long length = 20L * 1024 * 1024;
        try (S3BlobStore store = S3BlobStore.open(S3TestServers.s3mock().settings(prefix))) {
            IOException e = assertThrows(IOException.class,
                    () -> store.put("v/cut", generated(length, 9L * 1024 * 1024), length, "video/mp4"));
            assertTrue(e.getMessage().contains("ended after 9437184 of 20971520 bytes"), e.getMessage());
            assertEquals(Optional.empty(), store.stat("v/cut"));
            assertEquals(List.of(), rawKeys(s3mockRaw, prefix));
            assertEquals(List.of(), s3mockRaw.listMultipartUploads(r -> r.bucket(S3TestServers.BUCKET)
                    .prefix(prefix)).uploads(), "the multipart upload was aborted");

            IOException longer = assertThrows(IOException.class,
                    () -> store.put("v/long", generated(length + 1, length + 1), length, "video/mp4"));
            assertTrue(longer.getMessage().contains("longer than its length"), longer.getMessage());
            assertEquals(List.of(), rawKeys(s3mockRaw, prefix));
            assertEquals(List.of(), s3mockRaw.listMultipartUploads(r -> r.bucket(S3TestServers.BUCKET)
                    .prefix(prefix)).uploads());
        }
    }

    // ---------------------------------------------------------------- the bucket as others see it

    @Test
    void blobsLiveUnderThePrefixAndForeignObjectsAreDescribedToo() throws Exception {
        String prefix = prefix();
        try (S3BlobStore store = S3BlobStore.open(S3TestServers.s3rver().settings(prefix));
             S3BlobStore neighbour = S3BlobStore.open(S3TestServers.s3rver().settings(prefix()))) {
            put(store, "a/1", utf8("one"));
            // written by another tool: no x-amz-meta-sha256, no created time
            s3rverRaw.putObject(r -> r.bucket(S3TestServers.BUCKET).key(prefix + "/a/2").contentType("image/png"),
                    RequestBody.fromBytes(utf8("two")));
            // not a blob key: never listed
            s3rverRaw.putObject(r -> r.bucket(S3TestServers.BUCKET).key(prefix + "/~uploads/stale"),
                    RequestBody.fromBytes(utf8("stale")));

            Info foreign = store.stat("a/2").orElseThrow();
            assertEquals("3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3", foreign.sha256());
            assertEquals("image/png", foreign.contentType());
            assertEquals(3, foreign.size());
            assertEquals(List.of("a/1", "a/2"), store.list("", "", 10).stream().map(Info::key).toList());
            assertEquals(List.of(), neighbour.list("", "", 10));
            assertEquals(Optional.empty(), neighbour.stat("a/1"));
            assertEquals(List.of(prefix + "/a/1", prefix + "/a/2", prefix + "/~uploads/stale"),
                    rawKeys(s3rverRaw, prefix));
        }
    }

    @Test
    void openPastTheEndGivesNoBytes() throws Exception {
        try (S3BlobStore store = S3BlobStore.open(S3TestServers.s3rver().settings(prefix()))) {
            put(store, "k", utf8("abc"));
            assertArrayEquals(utf8("c"), store.open("k", 2).orElseThrow().readAllBytes());
            assertArrayEquals(new byte[0], store.open("k", 3).orElseThrow().readAllBytes());
            assertArrayEquals(new byte[0], store.open("k", 100).orElseThrow().readAllBytes());
            assertEquals(Optional.empty(), store.open("missing", 100));
            assertThrows(IllegalArgumentException.class, () -> store.open("k", -1));
        }
    }
}
