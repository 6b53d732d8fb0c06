package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.blob.fs.FsBlobStore;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import io.parley.core.spi.blob.BlobTicket.Access;
import io.parley.transport.http.internal.RawHttp.Response;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static io.parley.transport.http.internal.RawHttp.head;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The blob endpoints ({@code /blobs/<key>}, docs/protocol.md §6f) over real sockets, with the real local blob store
 * ({@link FsBlobStore}) behind them: uploads in one and several chunks, a resume after a killed upload, downloads
 * whole and in ranges with their security headers, and every refusal of §6f's table.
 */
class BlobEndpointsTest {

    static final byte[] SECRET = "blob-endpoints-test-secret-0123456789-abcdef".getBytes(StandardCharsets.UTF_8);
    static final int CHUNK_MAX = 65_536;
    private static final String OCTETS = "Content-Type: application/offset+octet-stream";

    @TempDir
    Path dir;

    private final ObjectMapper json = new ObjectMapper();
    private final List<HttpApiServer> servers = new ArrayList<>();
    private final List<FsBlobStore> stores = new ArrayList<>();
    private FsBlobStore store;
    private HttpApiServer server;
    private Path uploads;

    @BeforeEach
    void start() throws IOException {
        uploads = dir.resolve("uploads");
        store = store("blobs");
        server = start(new BlobSettings(SECRET, true, CHUNK_MAX, uploads, 16));
        server.bindBlobStore(store);
    }

    @AfterEach
    void stop() throws IOException {
        servers.forEach(HttpApiServer::stop);
        for (FsBlobStore s : stores) {
            s.close();
        }
    }

    private FsBlobStore store(String name) throws IOException {
        FsBlobStore s = new FsBlobStore(dir.resolve(name));
        stores.add(s);
        return s;
    }

    private HttpApiServer start(BlobSettings blobs) throws IOException {
        HttpApiServer s = new HttpApiServer(new HttpApiSettings(ServerSettings.builder().host("127.0.0.1").port(0)
                .ioThreads(1).epoll(EpollMode.AUTO).maxConnections(200).build(), HttpApiServerTest.ADMIN, 64 * 1024,
                8192, Duration.ofSeconds(5)), TokenIssuer.create(HttpApiServerTest.SECRET, "parley",
                Duration.ofDays(1), Duration.ofDays(30)), blobs);
        s.start();
        servers.add(s);
        return s;
    }

    // ------------------------------------------------------------------------------------------------ uploads

    @Test
    void anUploadInOneChunkIsStoredAndAnswered201WithItsSha256() throws Exception {
        byte[] data = bytes(40_000, 1);
        String key = "f/alice/20261206/one";
        try (RawHttp c = conn()) {
            Response r = patch(c, key, upload(key, data.length, "image/png"), 0, data);
            assertEquals(201, r.status(), r.toString());
            JsonNode body = json.readTree(r.body());
            assertEquals(key, body.get("key").asText());
            assertEquals(data.length, body.get("size").asLong());
            assertEquals("image/png", body.get("content_type").asText());
            assertEquals(sha256(data), body.get("sha256").asText());
            assertEquals(4, body.size(), r.toString());
            assertEquals(String.valueOf(data.length), r.header("Upload-Offset"));
            assertEquals("no-store", r.header("Cache-Control"));
        }
        assertEquals(sha256(data), store.stat(key).orElseThrow().sha256());
        assertNothingStaged();
    }

    @Test
    void anUploadInSeveralChunksOnOneConnectionReportsItsOffsetAndCompletesWithTheLast() throws Exception {
        byte[] data = bytes(150_000, 2);
        String key = "f/alice/20261206/several";
        String ticket = upload(key, data.length, "application/pdf");
        try (RawHttp c = conn()) {
            Response h0 = headOffset(c, key, ticket);
            assertEquals(200, h0.status(), h0.toString());
            assertEquals("0", h0.header("Upload-Offset"));
            assertEquals(String.valueOf(data.length), h0.header("Upload-Length"));
            assertEquals("no-store", h0.header("Cache-Control"));
            int offset = 0;
            while (offset < data.length) {
                int n = Math.min(CHUNK_MAX, data.length - offset);
                Response r = patch(c, key, ticket, offset, Arrays.copyOfRange(data, offset, offset + n));
                offset += n;
                if (offset < data.length) {
                    assertEquals(204, r.status(), r.toString());
                    assertEquals(String.valueOf(offset), r.header("Upload-Offset"));
                    assertNull(r.header("Content-Length"), "a 204 has no Content-Length");
                    assertEquals(String.valueOf(offset), headOffset(c, key, ticket).header("Upload-Offset"));
                } else {
                    assertEquals(201, r.status(), r.toString());
                    assertEquals(sha256(data), json.readTree(r.body()).get("sha256").asText());
                }
            }
            Response done = headOffset(c, key, ticket);
            assertEquals(String.valueOf(data.length), done.header("Upload-Offset"), "offset = size once complete");
            Response get = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + download(key)), null);
            assertEquals(200, get.status());
            assertArrayEquals(data, get.body());
        }
        assertNothingStaged();
    }

    @Test
    void aKilledUploadResumesFromTheLastWholeChunk() throws Exception {
        byte[] data = bytes(3 * CHUNK_MAX - 1000, 3);
        String key = "f/alice/20261206/killed";
        String ticket = upload(key, data.length, "video/mp4");
        try (RawHttp c = conn()) {
            assertEquals(204, patch(c, key, ticket, 0, Arrays.copyOf(data, CHUNK_MAX)).status());
        }
        // the second chunk: the head and half its body, then the client dies
        RawHttp dying = conn();
        dying.send(patchHead(key, ticket, CHUNK_MAX, CHUNK_MAX)).send(data, CHUNK_MAX, CHUNK_MAX / 2);
        Thread.sleep(200);
        dying.kill();
        Thread.sleep(200);
        try (RawHttp c = conn()) {
            Response h = headOffset(c, key, ticket);
            assertEquals(String.valueOf(CHUNK_MAX), h.header("Upload-Offset"), "only whole chunks count: " + h);
            // resuming at any other offset is refused with the right one
            Response wrong = patch(c, key, ticket, CHUNK_MAX + CHUNK_MAX / 2, new byte[10]);
            assertEquals(409, wrong.status(), wrong.toString());
            assertEquals(String.valueOf(CHUNK_MAX), wrong.header("Upload-Offset"));
        }
        try (RawHttp c = conn()) {
            assertEquals(204, patch(c, key, ticket, CHUNK_MAX, Arrays.copyOfRange(data, CHUNK_MAX, 2 * CHUNK_MAX))
                    .status());
            Response last = patch(c, key, ticket, 2 * CHUNK_MAX, Arrays.copyOfRange(data, 2 * CHUNK_MAX, data.length));
            assertEquals(201, last.status(), last.toString());
            assertEquals(sha256(data), json.readTree(last.body()).get("sha256").asText());
        }
        assertArrayEquals(data, read(store, key));
        assertNothingStaged();
    }

    @Test
    void chunksPipelinedOnOneConnectionAreWrittenInOrder() throws Exception {
        byte[] data = bytes(CHUNK_MAX + 5000, 4);
        String key = "f/alice/20261206/pipelined";
        String ticket = upload(key, data.length, "application/zip");
        try (RawHttp c = conn()) {
            c.send(patchHead(key, ticket, 0, CHUNK_MAX)).send(data, 0, CHUNK_MAX)
                    .send(patchHead(key, ticket, CHUNK_MAX, 5000)).send(data, CHUNK_MAX, 5000);
            Response first = c.read();
            assertEquals(204, first.status(), first.toString());
            Response second = c.read();
            assertEquals(201, second.status(), second.toString());
        }
        assertArrayEquals(data, read(store, key));
    }

    @Test
    void expect100ContinueIsAnsweredOnlyForAnAcceptedChunk() throws Exception {
        byte[] data = bytes(20_000, 5);
        String key = "f/alice/20261206/continue";
        String ticket = upload(key, data.length, "text/plain");
        try (RawHttp c = conn()) {
            c.send(patchHead(key, ticket, 7, 1000, "Expect: 100-continue"));
            Response refused = c.read();
            assertEquals(409, refused.status(), "no 100 Continue for a wrong offset: " + refused);
            assertEquals("0", refused.header("Upload-Offset"));
            assertTrue(c.closedByServer());
        }
        try (RawHttp c = conn()) {
            c.send(patchHead(key, ticket, 0, data.length, "Expect: 100-continue"));
            assertEquals(100, c.read().status());
            c.send(data);
            assertEquals(201, c.read().status());
        }
    }

    @Test
    void aCompleteUploadIsNotReopened() throws Exception {
        byte[] data = bytes(1000, 6);
        String key = "f/alice/20261206/complete";
        String ticket = upload(key, data.length, "image/gif");
        try (RawHttp c = conn()) {
            assertEquals(201, patch(c, key, ticket, 0, data).status());
        }
        for (long offset : new long[] {0, 500, 1000}) {
            try (RawHttp c = conn()) {
                Response again = patch(c, key, ticket, offset, offset == 1000 ? new byte[0] : new byte[10]);
                assertError(again, 409, "CONFLICT");
                assertEquals("1000", again.header("Upload-Offset"));
                assertTrue(again.text().contains("already complete"), again.toString());
            }
        }
        try (RawHttp c = conn()) {
            Response h = headOffset(c, key, ticket);
            assertEquals(200, h.status());
            assertEquals("1000", h.header("Upload-Offset"));
        }
    }

    @Test
    void aStoreThatFailsTheCompletionLeavesTheLastChunkToSendAgain() throws Exception {
        AtomicBoolean failPuts = new AtomicBoolean();
        server.bindBlobStore(new FailingStore(store, failPuts));
        byte[] data = bytes(CHUNK_MAX + 100, 7);
        String key = "f/alice/20261206/failing";
        String ticket = upload(key, data.length, "audio/ogg");
        try (RawHttp c = conn()) {
            assertEquals(204, patch(c, key, ticket, 0, Arrays.copyOf(data, CHUNK_MAX)).status());
            failPuts.set(true);
            Response failed = patch(c, key, ticket, CHUNK_MAX, Arrays.copyOfRange(data, CHUNK_MAX, data.length));
            assertError(failed, 503, "UNAVAILABLE");
            assertTrue(json.readTree(failed.body()).get("error").get("retryable").asBoolean());
            assertEquals(String.valueOf(CHUNK_MAX), headOffset(c, key, ticket).header("Upload-Offset"));
            failPuts.set(false);
            Response done = patch(c, key, ticket, CHUNK_MAX, Arrays.copyOfRange(data, CHUNK_MAX, data.length));
            assertEquals(201, done.status(), done.toString());
        }
        assertArrayEquals(data, read(store, key));
        assertNothingStaged();
    }

    @Test
    void anUploadStagedWholeButNeverStoredIsStoredOnTheNextQuery() throws Exception {
        byte[] data = bytes(CHUNK_MAX + 10, 8);
        String key = "f/alice/20261206/crashed";
        BlobTicket ticket = BlobTicket.verify(upload(key, data.length, "image/png"), SECRET, Instant.now());
        // what a server that crashed after staging the last chunk, before storing the object, left behind
        new UploadStaging(uploads).append(ticket, 0, ByteBuffer.wrap(data));
        try (RawHttp c = conn()) {
            Response h = headOffset(c, key, ticket.sign(SECRET));
            assertEquals(String.valueOf(data.length), h.header("Upload-Offset"), h.toString());
        }
        assertArrayEquals(data, read(store, key));
        assertNothingStaged();
    }

    // ------------------------------------------------------------------------------------------------ downloads

    @Test
    void aDownloadStreamsTheObjectWholeOrInRangesWithItsHeaders() throws Exception {
        byte[] data = bytes(3_000_000, 9);
        String key = "f/bob/20261206/big.pdf";
        store.put(key, new ByteArrayInputStream(data), data.length, "application/pdf");
        String ticket = download(key);
        try (RawHttp c = conn()) {
            Response whole = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + ticket), null);
            assertEquals(200, whole.status(), whole.toString());
            assertArrayEquals(data, whole.body());
            assertEquals("application/pdf", whole.header("Content-Type"));
            assertEquals("3000000", whole.header("Content-Length"));
            assertEquals("\"" + sha256(data) + "\"", whole.header("ETag"));
            assertEquals("private, max-age=300", whole.header("Cache-Control"));
            assertEquals("nosniff", whole.header("X-Content-Type-Options"));
            assertEquals("sandbox", whole.header("Content-Security-Policy"));
            assertEquals("attachment", whole.header("Content-Disposition"));
            assertEquals("bytes", whole.header("Accept-Ranges"));

            // on the same connection: ranges, and the ticket as a bearer token
            Response range = c.exchange(head("GET", "/blobs/" + key, "Authorization: Bearer " + ticket,
                    "Range: bytes=10-19"), null);
            assertEquals(206, range.status(), range.toString());
            assertEquals("bytes 10-19/3000000", range.header("Content-Range"));
            assertArrayEquals(Arrays.copyOfRange(data, 10, 20), range.body());
            Response tail = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + ticket, "Range: bytes=2999990-"), null);
            assertEquals(206, tail.status());
            assertEquals("bytes 2999990-2999999/3000000", tail.header("Content-Range"));
            assertArrayEquals(Arrays.copyOfRange(data, 2_999_990, 3_000_000), tail.body());
            Response clamped = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + ticket,
                    "Range: bytes=2999000-99999999"), null);
            assertEquals(206, clamped.status());
            assertEquals(1000, clamped.body().length);
            Response past = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + ticket, "Range: bytes=3000000-"), null);
            assertError(past, 416, "INVALID_REQUEST");
            assertEquals("bytes */3000000", past.header("Content-Range"));
        }
        for (String bad : new String[] {"bytes=-5", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=a-"}) {
            try (RawHttp c = conn()) {
                Response r = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + ticket, "Range: " + bad), null);
                assertError(r, 400, "INVALID_REQUEST");
            }
        }
        // the cache lifetime never outlives the ticket
        String shortLived = new BlobTicket(Access.DOWNLOAD, key, "bob", data.length, "application/pdf",
                Instant.now().plusSeconds(60)).sign(SECRET);
        try (RawHttp c = conn()) {
            String cache = c.exchange(head("GET", "/blobs/" + key, "Authorization: Bearer " + shortLived,
                    "Range: bytes=0-0"), null).header("Cache-Control");
            int maxAge = Integer.parseInt(cache.substring(cache.indexOf('=') + 1));
            assertTrue(cache.startsWith("private, max-age=") && maxAge <= 60 && maxAge >= 55, cache);
        }
    }

    @Test
    void anHtmlUploadIsServedAsASandboxedAttachmentAndMediaInline() throws Exception {
        byte[] page = "<html><script>alert(document.cookie)</script></html>".getBytes(StandardCharsets.UTF_8);
        String key = "f/mallory/20261206/page";
        try (RawHttp c = conn()) {
            assertEquals(201, patch(c, key, upload(key, page.length, "text/html"), 0, page).status());
            Response r = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + download(key)), null);
            assertEquals(200, r.status());
            assertEquals("text/html", r.header("Content-Type"));
            assertEquals("attachment", r.header("Content-Disposition"));
            assertEquals("sandbox", r.header("Content-Security-Policy"));
            assertEquals("nosniff", r.header("X-Content-Type-Options"));
        }
        for (String type : new String[] {"image/png", "audio/mpeg", "video/mp4"}) {
            String k = "f/alice/20261206/" + type.replace('/', '-');
            store.put(k, new ByteArrayInputStream(new byte[] {1, 2, 3}), 3, type);
            try (RawHttp c = conn()) {
                Response r = c.exchange(head("GET", "/blobs/" + k + "?ticket=" + download(k)), null);
                assertEquals(type, r.header("Content-Type"));
                assertNull(r.header("Content-Disposition"), type + " is shown in place");
                assertEquals("sandbox", r.header("Content-Security-Policy"));
            }
        }
    }

    /**
     * SVG is an image type that runs script when opened as a document, and so does any XML type (a browser renders
     * {@code *+xml} as XML, XHTML included): they are attachments, never shown in place, whatever their top-level
     * type. {@code Content-Security-Policy: sandbox} stays as a second line.
     */
    @Test
    void svgAndXmlMediaAreServedAsAttachments() throws Exception {
        byte[] svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"
                .getBytes(StandardCharsets.UTF_8);
        String[] types = {"image/svg+xml", "IMAGE/SVG+XML", "image/svg", "image/svg-xml", "video/vnd.x+xml",
                "audio/x.foo+xml", "image/xml"};
        for (int i = 0; i < types.length; i++) {
            String type = types[i];
            String k = "f/mallory/20261206/svg-" + i;
            store.put(k, new ByteArrayInputStream(svg), svg.length, type);
            try (RawHttp c = conn()) {
                Response r = c.exchange(head("GET", "/blobs/" + k + "?ticket=" + download(k)), null);
                assertEquals(200, r.status(), r.toString());
                assertEquals("attachment", r.header("Content-Disposition"), type + " is not shown in place");
                assertEquals("sandbox", r.header("Content-Security-Policy"));
                assertEquals("nosniff", r.header("X-Content-Type-Options"));
            }
        }
        for (String type : new String[] {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
                "audio/ogg", "video/webm"}) {
            assertTrue(BlobService.inline(type), type);
        }
    }

    @Test
    void aGetOfAnObjectThatIsGoneIs404() throws Exception {
        String key = "f/alice/20261206/gone";
        try (RawHttp c = conn()) {
            assertError(c.exchange(head("GET", "/blobs/" + key + "?ticket=" + download(key)), null), 404, "NOT_FOUND");
        }
    }

    // ------------------------------------------------------------------------------------------------ refusals

    @Test
    void ticketsAreCheckedAfterDecodingOnTheKeyTheyName() throws Exception {
        String key = "f/alice/20261206/tickets";
        byte[] data = bytes(2000, 10);
        try (RawHttp c = conn()) {
            assertEquals(201, patch(c, key, upload(key, data.length, "image/png"), 0, data).status());
        }
        String other = "f/alice/20261206/other";
        String expiredUpload = new BlobTicket(Access.UPLOAD, key, "alice", 5000, "image/png",
                Instant.now().minusSeconds(5)).sign(SECRET);
        String expiredDownload = new BlobTicket(Access.DOWNLOAD, key, "alice", 5000, "image/png",
                Instant.now().minusSeconds(5)).sign(SECRET);
        byte[] otherSecret = "another-secret-of-at-least-32-bytes!!".getBytes(StandardCharsets.UTF_8);
        String forged = new BlobTicket(Access.DOWNLOAD, key, "alice", 5000, "image/png",
                Instant.now().plusSeconds(60)).sign(otherSecret);
        String forgedUpload = new BlobTicket(Access.UPLOAD, key, "alice", 5000, "image/png",
                Instant.now().plusSeconds(60)).sign(otherSecret);
        String[] tampered = download(key).split("\\.");
        String swapped = download(other).split("\\.")[0] + "." + tampered[1];

        // GET
        assertRefused(get(key, null), 401, "UNAUTHENTICATED", "no ticket");
        assertRefused(get(key, "?ticket="), 401, "UNAUTHENTICATED", "no ticket");
        assertRefused(get(key, "?ticket=abc"), 401, "UNAUTHENTICATED", "malformed");
        assertRefused(get(key, "?ticket=" + forged), 401, "UNAUTHENTICATED", "signature");
        assertRefused(get(key, "?ticket=" + swapped), 401, "UNAUTHENTICATED", "signature");
        assertRefused(get(key, "?ticket=" + expiredDownload), 401, "UNAUTHENTICATED", "ticket expired");
        assertRefused(get(key, "?ticket=" + download(other)), 403, "FORBIDDEN", "another blob");
        assertRefused(get(other, "?ticket=" + download(key)), 403, "FORBIDDEN", "another blob");
        assertRefused(get(key, "?ticket=" + upload(key, 2000, "image/png")), 403, "FORBIDDEN", "upload ticket");
        // HEAD and PATCH
        for (String method : new String[] {"HEAD", "PATCH"}) {
            assertRefused(blobHead(method, key, null), 401, "UNAUTHENTICATED", "no ticket");
            assertRefused(blobHead(method, key, "Basic abc"), 401, "UNAUTHENTICATED", "Bearer");
            assertRefused(blobHead(method, key, "Bearer " + forgedUpload), 401, "UNAUTHENTICATED", "signature");
            assertRefused(blobHead(method, key, "Bearer " + expiredUpload), 401, "UNAUTHENTICATED", "ticket expired");
            assertRefused(blobHead(method, key, "Bearer " + upload(other, 5000, "image/png")), 403, "FORBIDDEN",
                    "another blob");
            assertRefused(blobHead(method, key, "Bearer " + download(key)), 403, "FORBIDDEN", "download ticket");
        }
        // the path is decoded once before the key is compared: an encoded spelling of the key is the key
        try (RawHttp c = conn()) {
            Response r = c.exchange(head("GET", "/blobs/%66/alice/%32%30261206/tickets?ticket=" + download(key)), null);
            assertEquals(200, r.status(), r.toString());
            assertArrayEquals(data, r.body());
        }
    }

    @Test
    void traversalAndAmbiguousPathsAreRefusedWhateverTheTicket() throws Exception {
        String key = "f/x";
        store.put(key, new ByteArrayInputStream(new byte[] {1}), 1, "text/plain");
        for (String path : new String[] {"/blobs/f/../x", "/blobs/f/%2e%2e/x", "/blobs/f/%2E%2E/x", "/blobs/f%2Fx",
                "/blobs/f%2fx", "/blobs/f/./x", "/blobs/f//x", "/blobs/f%5Cx", "/blobs/%2e%2e/%2e%2e/etc/passwd",
                "/blobs/f/%252e%252e/x", "/blobs/f/x%00", "/blobs/a:b", "/blobs/f/%C3%A9"}) {
            for (String ticket : new String[] {download(key), download("f/../x".replace("../", "y/"))}) {
                try (RawHttp c = conn()) {
                    Response r = c.exchange(head("GET", path + "?ticket=" + ticket), null);
                    assertError(r, 400, "INVALID_REQUEST");
                    assertTrue(c.closedByServer(), path);
                }
            }
        }
    }

    @Test
    void aBadChunkIsAnsweredFromItsHeadAndItsBodyIsNeverRead() throws Exception {
        String key = "f/alice/20261206/bad";
        String t = upload(key, 100_000, "image/png");
        String auth = "Authorization: Bearer " + t;
        String path = "/blobs/" + key;
        // heads only: the body is never sent, and the answer comes anyway
        assertRefused(head("PATCH", path, auth, "Content-Type: application/octet-stream", "Upload-Offset: 0",
                "Content-Length: 1000"), 400, "INVALID_REQUEST", "Content-Type");
        assertRefused(head("PATCH", path, auth, "Upload-Offset: 0", "Content-Length: 1000"), 400, "INVALID_REQUEST",
                "Content-Type");
        for (String offset : new String[] {null, "Upload-Offset: -1", "Upload-Offset: abc", "Upload-Offset: 1e3",
                "Upload-Offset: 99999999999999999999"}) {
            List<String> h = new ArrayList<>(List.of(auth, OCTETS, "Content-Length: 1000"));
            if (offset != null) {
                h.add(offset);
            }
            assertRefused(head("PATCH", path, h.toArray(String[]::new)), 400, "INVALID_REQUEST", "Upload-Offset");
        }
        assertRefused(head("PATCH", path, auth, OCTETS, "Upload-Offset: 0", "Transfer-Encoding: chunked"), 411,
                "INVALID_REQUEST", "Content-Length");
        assertRefused(head("PATCH", path, auth, OCTETS, "Upload-Offset: 0"), 411, "INVALID_REQUEST", "Content-Length");
        assertRefused(head("PATCH", path, auth, OCTETS, "Upload-Offset: 0", "Content-Length: " + (CHUNK_MAX + 1)), 413,
                "BODY_TOO_LARGE", "upload.chunk.max.bytes");
        assertRefused(head("PATCH", path, auth, OCTETS, "Upload-Offset: 90000", "Content-Length: 10001"), 413,
                "BODY_TOO_LARGE", "past the upload's size");
        assertRefused(head("PATCH", path, auth, OCTETS, "Upload-Offset: 100001", "Content-Length: 0"), 413,
                "BODY_TOO_LARGE", "past the upload's size");
        try (RawHttp c = conn()) {
            c.send(patchHead(key, t, 500, 1000));
            Response wrong = c.read();
            assertError(wrong, 409, "CONFLICT");
            assertEquals("0", wrong.header("Upload-Offset"));
            assertTrue(c.closedByServer(), "closed after a refused head");
        }
        // GET and HEAD take no body
        assertRefused(head("GET", path + "?ticket=" + download(key), "Content-Length: 5"), 400, "INVALID_REQUEST",
                "no request body");
        assertRefused(head("HEAD", path, auth, "Content-Length: 5"), 400, "INVALID_REQUEST", null);
        assertFalse(store.stat(key).isPresent());
        assertNothingStaged();
    }

    @Test
    void otherMethodsAndPathsWithoutAKeyAreRefused() throws Exception {
        String key = "f/alice/20261206/methods";
        for (String method : new String[] {"POST", "PUT", "DELETE", "OPTIONS"}) {
            try (RawHttp c = conn()) {
                Response r = c.exchange(head(method, "/blobs/" + key, "Authorization: Bearer " + upload(key, 10,
                        "text/plain")), null);
                assertError(r, 405, "METHOD_NOT_ALLOWED");
                assertEquals("GET, HEAD, PATCH", r.header("Allow"));
            }
        }
        for (String path : new String[] {"/blobs", "/blobs/", "/%62lobs"}) {
            try (RawHttp c = conn()) {
                assertError(c.exchange(head("GET", path), null), 404, "NOT_FOUND");
            }
        }
    }

    @Test
    void withoutAStoreTheEndpointsAnswer503UntilOneIsBoundAndTheServerKeepsRunning() throws Exception {
        String key = "f/alice/20261206/swap";
        byte[] data = bytes(100, 11);
        int port = server.localAddress().getPort();
        server.unbindBlobStore(store);
        for (String request : new String[] {patchHead(key, upload(key, 100, "text/plain"), 0, 100),
                head("HEAD", "/blobs/" + key, "Authorization: Bearer " + upload(key, 100, "text/plain")),
                head("GET", "/blobs/" + key + "?ticket=" + download(key))}) {
            try (RawHttp c = conn()) {
                Response r = c.exchange(request, null);
                assertEquals(503, r.status(), r.toString());
                assertEquals("1", r.header("Retry-After"));
                if (!request.startsWith("HEAD ")) { // a HEAD answer has no body
                    assertError(r, 503, "UNAVAILABLE");
                    assertTrue(json.readTree(r.body()).get("error").get("retryable").asBoolean(), r.toString());
                    assertTrue(r.text().contains("no blob store"), r.toString());
                }
            }
        }
        FsBlobStore other = store("other-blobs");
        server.bindBlobStore(other);
        try (RawHttp c = conn()) {
            assertEquals(201, patch(c, key, upload(key, data.length, "text/plain"), 0, data).status());
        }
        assertEquals(port, server.localAddress().getPort(), "the same server, not a restart");
        assertArrayEquals(data, read(other, key));
        server.unbindBlobStore(store); // not the bound one: changes nothing
        try (RawHttp c = conn()) {
            assertEquals(200, c.exchange(head("GET", "/blobs/" + key + "?ticket=" + download(key)), null).status());
        }
    }

    @Test
    void withoutATicketSecretEveryBlobRequestGets503() throws Exception {
        for (byte[] secret : new byte[][] {new byte[0], "too-short".getBytes(StandardCharsets.UTF_8)}) {
            HttpApiServer off = start(new BlobSettings(secret, true, CHUNK_MAX, uploads, 16));
            off.bindBlobStore(store);
            String key = "f/alice/20261206/nosecret";
            try (RawHttp c = new RawHttp(off.localAddress().getPort())) {
                Response r = c.exchange(head("GET", "/blobs/" + key + "?ticket=" + download(key)), null);
                assertError(r, 503, "UNAVAILABLE");
                assertTrue(r.text().contains("ticket.secret"), r.toString());
                assertFalse(json.readTree(r.body()).get("error").get("retryable").asBoolean());
            }
            try (RawHttp c = new RawHttp(off.localAddress().getPort())) {
                assertError(c.exchange(patchHead(key, upload(key, 10, "text/plain"), 0, 10), null), 503, "UNAVAILABLE");
            }
        }
    }

    @Test
    void chunksBeyondUploadMaxConcurrentGetARetryable503AndAKilledOneFreesItsSlot() throws Exception {
        HttpApiServer one = start(new BlobSettings(SECRET, true, CHUNK_MAX, uploads, 1));
        one.bindBlobStore(store);
        int port = one.localAddress().getPort();
        byte[] data = bytes(1000, 12);
        String a = "f/alice/20261206/slot-a";
        String b = "f/alice/20261206/slot-b";
        String ta = upload(a, data.length, "text/plain");
        String tb = upload(b, data.length, "text/plain");
        try (RawHttp first = new RawHttp(port)) {
            first.send(patchHead(a, ta, 0, data.length)).send(data, 0, 10); // holds the one slot
            Thread.sleep(200);
            try (RawHttp second = new RawHttp(port)) {
                Response busy = second.exchange(patchHead(b, tb, 0, data.length), null);
                assertError(busy, 503, "UNAVAILABLE");
                assertTrue(busy.text().contains("upload.max.concurrent"), busy.toString());
                assertEquals("1", busy.header("Retry-After"));
                assertTrue(second.closedByServer());
            }
            first.send(data, 10, data.length - 10);
            assertEquals(201, first.read().status());
        }
        // a client killed mid-chunk gives its slot back
        RawHttp dying = new RawHttp(port);
        dying.send(patchHead(b, tb, 0, data.length)).send(data, 0, 10);
        Thread.sleep(200);
        dying.kill();
        Response retried = null;
        for (int i = 0; i < 40; i++) {
            try (RawHttp c = new RawHttp(port)) {
                retried = patch(c, b, tb, 0, data);
            }
            if (retried.status() != 503) {
                break;
            }
            Thread.sleep(50);
        }
        assertEquals(201, retried.status(), retried.toString());
    }

    /**
     * One user cannot take every upload slot: a chunk holds its slot until its body has arrived (up to the body
     * deadline), and one ticket opens any number of connections, so a slow sender on {@code upload.max.concurrent}
     * connections would lock every other user out. A user's chunks take at most a quarter of the slots; another
     * user's chunk still gets one.
     */
    @Test
    void oneUserCannotTakeEveryUploadSlot() throws Exception {
        HttpApiServer eight = start(new BlobSettings(SECRET, true, CHUNK_MAX, uploads, 8));
        eight.bindBlobStore(store);
        int port = eight.localAddress().getPort();
        byte[] data = bytes(1000, 13);
        String key = "f/alice/20261206/slow";
        String ticket = upload(key, data.length, "text/plain"); // one ticket, several connections
        List<RawHttp> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                RawHttp c = new RawHttp(port);
                slow.add(c);
                c.send(patchHead(key, ticket, 0, data.length)).send(data, 0, 10); // and then nothing
            }
            Thread.sleep(300);
            try (RawHttp third = new RawHttp(port)) {
                Response busy = third.exchange(patchHead(key, ticket, 0, data.length), data);
                assertError(busy, 503, "UNAVAILABLE");
                assertTrue(busy.text().contains("upload.max.concurrent"), busy.toString());
                assertEquals("1", busy.header("Retry-After"));
            }
            String other = "f/alice/20261206/other";
            try (RawHttp c = new RawHttp(port)) {
                assertError(c.exchange(patchHead(other, upload(other, data.length, "text/plain"), 0, data.length),
                        data), 503, "UNAVAILABLE");
            }
            // another user is not held up
            String bobs = "f/bob/20261206/fine";
            String bobTicket = new BlobTicket(Access.UPLOAD, bobs, "bob", data.length, "text/plain",
                    Instant.now().plusSeconds(3600)).sign(SECRET);
            try (RawHttp c = new RawHttp(port)) {
                assertEquals(201, c.exchange(patchHead(bobs, bobTicket, 0, data.length), data).status());
            }
        } finally {
            for (RawHttp c : slow) {
                c.kill();
            }
        }
        // the slow connections' slots are given back when they go
        Response retried = null;
        for (int i = 0; i < 40; i++) {
            try (RawHttp c = new RawHttp(port)) {
                retried = c.exchange(patchHead(key, ticket, 0, data.length), data);
            }
            if (retried.status() != 503) {
                break;
            }
            Thread.sleep(50);
        }
        assertEquals(201, retried.status(), retried.toString());
    }

    /**
     * A ticket is a client's credential, and clients get them freely (every upload, every sticker list): connections
     * that presented one are kept over connections that presented nothing, but give way to a new connection before any
     * connection that presented the admin token does, so ticket holders cannot lock the admin API out by holding
     * {@code max.connections}.
     */
    @Test
    void ticketConnectionsGiveWayToANewConnectionAndNeverTakeTheAdminsPlace() throws Exception {
        HttpApiServer four = new HttpApiServer(new HttpApiSettings(ServerSettings.builder().host("127.0.0.1").port(0)
                .ioThreads(1).epoll(EpollMode.AUTO).maxConnections(4).build(), HttpApiServerTest.ADMIN, 64 * 1024,
                8192, Duration.ofSeconds(5), null, Duration.ofSeconds(10), Duration.ofSeconds(30), 4),
                TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)),
                new BlobSettings(SECRET, true, CHUNK_MAX, uploads, 16));
        four.start();
        servers.add(four);
        four.bindBlobStore(store);
        int port = four.localAddress().getPort();
        String key = "f/alice/20261206/slots";
        String ticket = upload(key, 10, "text/plain");
        String admin = head("GET", "/v1/openapi.yaml", "Authorization: Bearer " + HttpApiServerTest.ADMIN);
        List<RawHttp> held = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                RawHttp c = new RawHttp(port);
                held.add(c);
                assertEquals(200, headOffset(c, key, ticket).status());
            }
            RawHttp adminConn = new RawHttp(port);
            held.add(adminConn);
            Response r = adminConn.exchange(admin, null);
            assertEquals(200, r.status(), "the oldest ticket connection made room: " + r);
            held.get(0).timeout(1000);
            assertTrue(held.get(0).closedByServer(), "the oldest ticket connection was closed");
            // further ticket connections take the places of ticket connections, never the admin's
            for (int i = 0; i < 3; i++) {
                RawHttp c = new RawHttp(port);
                held.add(c);
                assertEquals(200, headOffset(c, key, ticket).status());
            }
            assertEquals(200, adminConn.exchange(admin, null).status(), "the admin's connection stays");
        } finally {
            for (RawHttp c : held) {
                c.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ staging

    @Test
    void theStagedOffsetOnlyCountsWholeDurableChunks() throws Exception {
        UploadStaging staging = new UploadStaging(dir.resolve("staging"));
        BlobTicket t = BlobTicket.verify(upload("f/a/1", 100, "image/png"), SECRET, Instant.now());
        assertEquals(UploadStaging.State.NONE, staging.state(t));
        staging.append(t, 0, ByteBuffer.wrap(bytes(40, 1)));
        assertEquals(new UploadStaging.State(true, 40), staging.state(t));
        // a write cut short by a crash: bytes past the committed length are ignored, then dropped by the next chunk
        Files.write(staging.data(t.key()), new byte[25], StandardOpenOption.APPEND);
        assertEquals(40, staging.state(t).committed());
        staging.append(t, 40, ByteBuffer.wrap(bytes(30, 2)));
        assertEquals(70, staging.state(t).committed());
        assertEquals(70, Files.size(staging.data(t.key())));
        try (InputStream in = staging.open(t.key())) {
            byte[] staged = in.readAllBytes();
            assertArrayEquals(bytes(40, 1), Arrays.copyOf(staged, 40));
            assertArrayEquals(bytes(30, 2), Arrays.copyOfRange(staged, 40, 70));
        }
        staging.rollBack(t, 40);
        assertEquals(40, staging.state(t).committed());
        assertEquals(40, Files.size(staging.data(t.key())));
        // a ticket for the same key with another size is another upload: what was staged is dropped
        BlobTicket other = BlobTicket.verify(upload("f/a/1", 200, "image/png"), SECRET, Instant.now());
        assertEquals(UploadStaging.State.NONE, staging.state(other));
        assertFalse(Files.exists(staging.data(t.key())));
        assertEquals(64, UploadStaging.fileName("f/a/1").length());
    }

    @Test
    void theSweepDeletesPartialUploadsOfExpiredTicketsAndOrphans() throws Exception {
        Path sweepDir = dir.resolve("sweep");
        BlobService blobs = new BlobService(new BlobSettings(SECRET, true, CHUNK_MAX, sweepDir, 2));
        try {
            UploadStaging staging = blobs.staging();
            Instant now = Instant.now();
            BlobTicket live = new BlobTicket(Access.UPLOAD, "f/a/live", "a", 100, "image/png", now.plusSeconds(600));
            BlobTicket expired = new BlobTicket(Access.UPLOAD, "f/a/old", "a", 100, "image/png",
                    now.minus(BlobService.EXPIRY_GRACE).minusSeconds(60));
            BlobTicket recent = new BlobTicket(Access.UPLOAD, "f/a/recent", "a", 100, "image/png",
                    now.minusSeconds(60)); // expired, but within the grace a chunk in flight may still need
            for (BlobTicket t : List.of(live, expired, recent)) {
                staging.append(t, 0, ByteBuffer.wrap(new byte[10]));
            }
            Path orphan = sweepDir.resolve(UploadStaging.fileName("f/a/orphan") + ".part");
            Files.write(orphan, new byte[5]);
            Files.setLastModifiedTime(orphan, java.nio.file.attribute.FileTime.from(now.minus(Duration.ofHours(25))));
            Path young = sweepDir.resolve(UploadStaging.fileName("f/a/young") + ".part");
            Files.write(young, new byte[5]);

            blobs.sweep(now);
            for (int i = 0; i < 100 && Files.exists(staging.data(expired.key())); i++) {
                Thread.sleep(20);
            }
            assertFalse(Files.exists(staging.data(expired.key())), "expired ticket");
            assertTrue(Files.exists(staging.data(live.key())));
            assertTrue(Files.exists(staging.data(recent.key())));
            assertFalse(Files.exists(orphan), "data without a sidecar, untouched for a day");
            assertTrue(Files.exists(young), "data without a sidecar may be a first chunk being written");
            try (Stream<Path> files = Files.list(sweepDir)) {
                assertEquals(5, files.count(), "live and recent: .part and .meta; young");
            }
        } finally {
            blobs.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private RawHttp conn() throws IOException {
        return new RawHttp(server.localAddress().getPort());
    }

    static String upload(String key, long size, String type) {
        return new BlobTicket(Access.UPLOAD, key, "alice", size, type, Instant.now().plusSeconds(3600)).sign(SECRET);
    }

    static String download(String key) {
        return new BlobTicket(Access.DOWNLOAD, key, "bob", 0, "application/octet-stream",
                Instant.now().plusSeconds(3600)).sign(SECRET);
    }

    static String patchHead(String key, String ticket, long offset, long length, String... more) {
        List<String> h = new ArrayList<>(List.of("Authorization: Bearer " + ticket, OCTETS, "Upload-Offset: " + offset,
                "Content-Length: " + length));
        h.addAll(List.of(more));
        return head("PATCH", "/blobs/" + key, h.toArray(String[]::new));
    }

    private static Response patch(RawHttp c, String key, String ticket, long offset, byte[] chunk) throws IOException {
        return c.exchange(patchHead(key, ticket, offset, chunk.length), chunk);
    }

    private static Response headOffset(RawHttp c, String key, String ticket) throws IOException {
        return c.exchange(head("HEAD", "/blobs/" + key, "Authorization: Bearer " + ticket), null);
    }

    private static String get(String key, String query) {
        return head("GET", "/blobs/" + key + (query == null ? "" : query));
    }

    private static String blobHead(String method, String key, String authorization) {
        List<String> h = new ArrayList<>();
        if (authorization != null) {
            h.add("Authorization: " + authorization);
        }
        if (method.equals("PATCH")) {
            h.addAll(List.of(OCTETS, "Upload-Offset: 0", "Content-Length: 1000"));
        }
        return head(method, "/blobs/" + key, h.toArray(String[]::new));
    }

    /** Sends only {@code request}'s head: the answer must come without the body, and the connection close. */
    private void assertRefused(String request, int status, String code, String fragment) throws IOException {
        try (RawHttp c = conn()) {
            c.send(request);
            boolean head = request.startsWith("HEAD ");
            Response r = c.read(head);
            assertEquals(status, r.status(), request + "\n" + r);
            if (!head) {
                assertError(r, status, code);
                if (fragment != null) {
                    assertTrue(r.text().contains(fragment), "'" + fragment + "' in " + r);
                }
            }
            if (status == 401) {
                assertEquals("Bearer realm=\"parley\"", r.header("WWW-Authenticate"));
            }
            assertTrue(c.closedByServer(), "the connection closes after a refused head: " + request);
        }
    }

    private void assertError(Response r, int status, String code) throws IOException {
        assertEquals(status, r.status(), r.toString());
        assertEquals(code, json.readTree(r.body()).get("error").get("code").asText(), r.toString());
    }

    private void assertNothingStaged() throws IOException {
        if (Files.isDirectory(uploads)) {
            try (Stream<Path> files = Files.list(uploads)) {
                assertEquals(List.of(), files.toList());
            }
        }
    }

    private static byte[] read(BlobStore store, String key) throws IOException {
        try (InputStream in = store.open(key, 0).orElseThrow()) {
            return in.readAllBytes();
        }
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    /** The real store, whose puts fail with an I/O error while {@code fail} is set. */
    private record FailingStore(BlobStore delegate, AtomicBoolean fail) implements BlobStore {
        @Override
        public Info put(String key, InputStream content, long length, String contentType) throws IOException {
            if (fail.get()) {
                content.readNBytes(100);
                throw new IOException("disk full (simulated)");
            }
            return delegate.put(key, content, length, contentType);
        }

        @Override
        public Optional<Info> stat(String key) throws IOException {
            return delegate.stat(key);
        }

        @Override
        public Optional<InputStream> open(String key, long offset) throws IOException {
            return delegate.open(key, offset);
        }

        @Override
        public boolean delete(String key) throws IOException {
            return delegate.delete(key);
        }

        @Override
        public Optional<URI> downloadUrl(String key, Duration ttl) {
            return delegate.downloadUrl(key, ttl);
        }
    }
}
