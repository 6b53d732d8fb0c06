package io.parley.itest;

import com.google.protobuf.Any;
import io.parley.command.recall.proto.Recall;
import io.parley.core.proto.Command;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.blob.BlobTicket;
import io.parley.type.file.proto.DownloadRequest;
import io.parley.type.file.proto.DownloadTicket;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.UploadRequest;
import io.parley.type.file.proto.UploadTicket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The file flow of protocol.md §6e–6f end to end on the assembled server, spoken from the document alone: raw
 * protocol frames over TCP for the commands and messages, plain HTTP for the bytes. Upload with a ticket in chunks
 * (one killed mid-chunk and resumed), send, download by a member (whole and ranged), recall (the object is gone), and
 * every refusal the issue names: a non-member, an expired ticket, a ticket reused for another key, a key with path
 * traversal, a size over the limit, a hash mismatch, a quota overrun. Two devices online and one offline converge on
 * the recall's tombstone.
 */
class FileFlowIT {
    static final int CHUNK = 65536;

    @TempDir
    Path dir;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void onTheFilesystemBlobStore() throws Exception {
        try (ServerProcess server = new ServerProcess(dir)) {
            configure(server);
            server.start();
            flow(server);
        }
    }

    /**
     * The same flow with the S3 blob store (extras/parley-blob-s3.jar, moved into deploy/) on an S3-API server the test
     * starts (Adobe S3Mock): uploads still go through Parley's /blobs/ endpoints, downloads are pre-signed URLs of
     * the object store.
     */
    @Test
    void onS3CompatibleObjectStorage() throws Exception {
        Path jar = Path.of(System.getProperty("s3mock.jar", "target/s3mock/s3mock.jar")).toAbsolutePath();
        assertTrue(Files.isRegularFile(jar), "no S3Mock at " + jar + " (the module's build copies it)");
        int s3Port = ServerProcess.freePort();
        Process s3 = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-Xmx256m", "-jar",
                jar.toString(), "--server.port=0", "--server.address=127.0.0.1",
                "--com.adobe.testing.s3mock.httpPort=" + s3Port,
                "--com.adobe.testing.s3mock.store.initialBuckets=parley",
                "--com.adobe.testing.s3mock.store.root=" + dir.resolve("s3"),
                "--spring.main.banner-mode=off", "--logging.level.root=WARN")
                .redirectErrorStream(true).redirectOutput(dir.resolve("s3mock.log").toFile()).start();
        try (ServerProcess server = new ServerProcess(dir)) {
            awaitPort(s3, s3Port);
            configure(server);
            Files.copy(server.home.resolve("extras/parley-blob-s3.jar"), server.home.resolve("deploy/parley-blob-s3.jar"));
            Path s3cfg = server.home.resolve("conf/parley.blob.s3.cfg");
            ServerProcess.setKey(s3cfg, "endpoint", "http://127.0.0.1:" + s3Port);
            ServerProcess.setKey(s3cfg, "bucket", "parley");
            ServerProcess.setKey(s3cfg, "access.key", "test");
            ServerProcess.setKey(s3cfg, "secret.key", "test-secret");
            ServerProcess.setKey(s3cfg, "prefix", "files");
            ServerProcess.setKey(server.home.resolve("conf/parley.blob.cfg"), "blob.target", "(parley.blob.store.name=s3)");
            server.start();
            flow(server);
            assertTrue(Files.walk(dir.resolve("s3")).anyMatch(p -> p.toString().contains("parley")),
                    "the objects went to the S3 server");
        } finally {
            s3.destroy();
            if (!s3.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                s3.destroyForcibly();
            }
        }
    }

    static void awaitPort(Process process, int port) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            assertTrue(process.isAlive(), "S3Mock exited");
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("S3Mock did not listen on " + port + " within 60 s");
    }

    /**
     * The file and sticker type bundles register and unregister at run time: removed from deploy/, their commands
     * and types are refused as unsupported; back, they serve again — and an object uploaded before the removal is
     * still sent (its ticket and its marker live in the blob store, not in the bundle).
     */
    @Test
    void theFileAndStickerBundlesComeAndGoAtRuntime() throws Exception {
        try (ServerProcess server = new ServerProcess(dir)) {
            configure(server);
            server.start();
            Path saved = dir.resolve("saved");
            Files.createDirectories(saved);
            for (String jar : List.of("parley-type-file.jar", "parley-type-sticker.jar")) {
                Files.copy(server.home.resolve("deploy").resolve(jar), saved.resolve(jar));
            }
            try (Device alice = new Device(server, "alice", "laptop")) {
                UploadTicket ticket = alice.command("file.upload", UploadRequest.newBuilder().setName("a.txt")
                        .setSize(5).setContentType("text/plain").build()).getCommandResult().getPayload()
                        .unpack(UploadTicket.class);
                assertEquals(201, patch(ticket, 0, "hello".getBytes(StandardCharsets.UTF_8)).statusCode());

                server.undeploy("parley-type-file.jar");
                server.undeploy("parley-type-sticker.jar");
                assertEventually(() -> alice.command("file.upload", UploadRequest.newBuilder().setName("b").setSize(1)
                        .setContentType("text/plain").build()), ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND);
                assertEventually(() -> alice.command("sticker.list", io.parley.type.sticker.proto.StickerListRequest.getDefaultInstance()),
                        ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND);
                File body = File.newBuilder().setKey(ticket.getKey()).setName("a.txt").setSize(5)
                        .setContentType("text/plain").setSha256(sha256("hello".getBytes(StandardCharsets.UTF_8))).build();
                assertEventually(() -> alice.send("x1", "bob", "file", body), ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE);

                server.deploy(saved.resolve("parley-type-file.jar"), "parley-type-file.jar");
                server.deploy(saved.resolve("parley-type-sticker.jar"), "parley-type-sticker.jar");
                Frame ack = eventually(() -> alice.send("x2", "bob", "file", body), Frame::hasSendAck);
                assertTrue(ack.getSendAck().getSeq() > 0);
                eventually(() -> alice.command("sticker.list", io.parley.type.sticker.proto.StickerListRequest.getDefaultInstance()),
                        Frame::hasCommandResult);
            }
        }
    }

    interface Call {
        Frame call() throws Exception;
    }

    static Frame eventually(Call call, Predicate<Frame> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        Frame last = call.call();
        while (!done.test(last) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            last = call.call();
        }
        assertTrue(done.test(last), last.toString());
        return last;
    }

    static void assertEventually(Call call, ErrorCode code) throws Exception {
        eventually(call, f -> f.hasError() && f.getError().getCode() == code);
    }

    static void configure(ServerProcess server) throws IOException {
        Path blob = server.home.resolve("conf/parley.blob.cfg");
        ServerProcess.setKey(blob, "upload.chunk.max.bytes", Integer.toString(CHUNK));
        ServerProcess.setKey(blob, "upload.max.bytes", Integer.toString(400_000));
        ServerProcess.setKey(blob, "quota.bytes", Integer.toString(1_000_000));
    }

    void flow(ServerProcess server) throws Exception {
        byte[] bytes = new byte[150_000]; // 3 chunks of 64 KiB, the last one partial
        new Random(7).nextBytes(bytes);
        String sha = sha256(bytes);
        try (Device alice = new Device(server, "alice", "laptop");
             Device bob = new Device(server, "bob", "phone");
             Device carol = new Device(server, "carol", "phone")) {
            alice.resume();
            bob.resume();

            // 1. the ticket: a server-chosen key for alice, this size and type, the chunk size
            UploadTicket ticket = alice.command("file.upload", UploadRequest.newBuilder().setName("data.bin")
                    .setSize(bytes.length).setContentType("application/octet-stream").build())
                    .getCommandResult().getPayload().unpack(UploadTicket.class);
            assertTrue(ticket.getKey().matches("f/alice/\\d{8}/[0-9A-Za-z]{22}"), ticket.getKey());
            assertEquals("http://127.0.0.1:" + server.httpPort + "/blobs/" + ticket.getKey(), ticket.getUploadUrl());
            assertEquals(CHUNK, ticket.getChunkMaxBytes());

            // 2. the bytes: the first chunk, then a chunk killed half-way, then the rest after asking where to resume
            assertEquals(0, offset(ticket));
            HttpResponse<String> first = patch(ticket, 0, Arrays.copyOfRange(bytes, 0, CHUNK));
            assertEquals(204, first.statusCode(), first.body());
            assertEquals(String.valueOf(CHUNK), first.headers().firstValue("Upload-Offset").orElse(""));
            killedMidChunk(server, ticket, CHUNK, Arrays.copyOfRange(bytes, CHUNK, 2 * CHUNK));
            assertEquals(CHUNK, offset(ticket), "a killed chunk leaves the offset at the last whole chunk");
            HttpResponse<String> stale = patch(ticket, 0, Arrays.copyOfRange(bytes, 0, 10));
            assertEquals(409, stale.statusCode(), stale.body());
            assertEquals(String.valueOf(CHUNK), stale.headers().firstValue("Upload-Offset").orElse(""));
            HttpResponse<String> second = patch(ticket, CHUNK, Arrays.copyOfRange(bytes, CHUNK, 2 * CHUNK));
            assertEquals(204, second.statusCode(), second.body());
            HttpResponse<String> last = patch(ticket, 2 * CHUNK, Arrays.copyOfRange(bytes, 2 * CHUNK, bytes.length));
            assertEquals(201, last.statusCode(), last.body());
            assertTrue(last.body().contains(sha), last.body());
            assertEquals(bytes.length, offset(ticket));

            // 3. the message: refused for a wrong hash, accepted as uploaded
            File body = File.newBuilder().setKey(ticket.getKey()).setName("data.bin").setSize(bytes.length)
                    .setContentType("application/octet-stream").setSha256(sha).build();
            assertError(alice.send("m0", "bob", "file", body.toBuilder().setSha256(sha256(new byte[1])).build()),
                    ErrorCode.ERROR_CODE_INVALID_BODY, "sha256 does not match");
            Frame ack = alice.send("m1", "bob", "file", body);
            assertTrue(ack.hasSendAck(), ack.toString());
            long seq = ack.getSendAck().getSeq();
            Message received = bob.awaitMessage("d:alice:bob", seq);
            assertEquals(body, received.getBody().unpack(File.class));

            // 4. the download: a member gets a short-lived URL; the bytes, whole and from an offset
            DownloadTicket download = bob.command("file.download", DownloadRequest.newBuilder()
                    .setConversation("d:alice:bob").setSeq(seq).build()).getCommandResult().getPayload()
                    .unpack(DownloadTicket.class);
            HttpResponse<byte[]> whole = http.send(HttpRequest.newBuilder(URI.create(download.getUrl())).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, whole.statusCode());
            assertArrayEquals(bytes, whole.body());
            assertEquals("application/octet-stream", whole.headers().firstValue("Content-Type").orElse(""));
            boolean throughParley = download.getUrl().startsWith("http://127.0.0.1:" + server.httpPort + "/blobs/");
            if (throughParley) {
                assertEquals("nosniff", whole.headers().firstValue("X-Content-Type-Options").orElse(""));
            }
            HttpResponse<byte[]> ranged = http.send(HttpRequest.newBuilder(URI.create(download.getUrl()))
                    .header("Range", "bytes=100000-").build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(206, ranged.statusCode());
            assertArrayEquals(Arrays.copyOfRange(bytes, 100_000, bytes.length), ranged.body());

            // 5. refusals
            assertError(carol.command("file.download", DownloadRequest.newBuilder().setConversation("d:alice:bob")
                    .setSeq(seq).build()), ErrorCode.ERROR_CODE_NOT_FOUND, "");
            // the /blobs/ endpoints honour only the tickets the server signs (on S3 they serve the same objects)
            String downloadTicket = new BlobTicket(BlobTicket.Access.DOWNLOAD, ticket.getKey(), "bob", bytes.length,
                    "application/octet-stream", Instant.now().plusSeconds(60)).sign(secret());
            assertEquals(200, get(server, "/blobs/" + ticket.getKey() + "?ticket=" + downloadTicket).statusCode());
            String expired = new BlobTicket(BlobTicket.Access.DOWNLOAD, ticket.getKey(), "bob", bytes.length,
                    "application/octet-stream", Instant.now().minusSeconds(5)).sign(secret());
            assertStatus(get(server, "/blobs/" + ticket.getKey() + "?ticket=" + expired), 401, "ticket expired");
            UploadTicket other = alice.command("file.upload", UploadRequest.newBuilder().setName("b.txt").setSize(5)
                    .setContentType("text/plain").build()).getCommandResult().getPayload().unpack(UploadTicket.class);
            assertStatus(get(server, "/blobs/" + other.getKey() + "?ticket=" + downloadTicket), 403, "");
            HttpResponse<String> reused = http.send(HttpRequest.newBuilder(URI.create(other.getUploadUrl()))
                    .header("Authorization", "Bearer " + ticket.getTicket()).header("Upload-Offset", "0")
                    .header("Content-Type", "application/offset+octet-stream")
                    .method("PATCH", HttpRequest.BodyPublishers.ofByteArray("hello".getBytes())).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(403, reused.statusCode(), reused.body());
            assertStatus(get(server, "/blobs/f/alice/../bob/x?ticket=" + downloadTicket), 400, "");
            assertStatus(get(server, "/blobs/f/alice/%2e%2e/bob/x?ticket=" + downloadTicket), 400, "");
            HttpResponse<String> past = patch(other, 0, "hello, too long".getBytes(StandardCharsets.UTF_8));
            assertEquals(413, past.statusCode(), past.body());
            assertError(alice.command("file.upload", UploadRequest.newBuilder().setName("huge.bin").setSize(400_001)
                    .setContentType("application/octet-stream").build()), ErrorCode.ERROR_CODE_BODY_TOO_LARGE, "400000");
            // quota: 1,000,000 bytes; alice holds 150,000 + 5 (an open ticket counts)
            for (int i = 0; i < 2; i++) {
                assertTrue(alice.command("file.upload", UploadRequest.newBuilder().setName("x" + i).setSize(400_000)
                        .setContentType("application/octet-stream").build()).hasCommandResult());
            }
            assertError(alice.command("file.upload", UploadRequest.newBuilder().setName("over").setSize(100_000)
                    .setContentType("application/octet-stream").build()), ErrorCode.ERROR_CODE_QUOTA_EXCEEDED,
                    "950005 of 1000000");

            // 6. a recall: the tombstone for every device, and the object is gone
            Frame recalled = alice.command("recall", Recall.newBuilder().setConversation("d:alice:bob").setSeq(seq)
                    .build());
            assertTrue(recalled.hasCommandResult(), recalled.toString());
            Message event = bob.awaitMessage(m -> m.getType().equals("recall.event"));
            assertEquals("d:alice:bob", event.getConversation());
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            int status;
            do {
                status = http.send(HttpRequest.newBuilder(URI.create(download.getUrl())).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode();
            } while (status != 404 && System.nanoTime() < deadline && sleep());
            assertEquals(404, status, "the recalled object is deleted");
            assertError(bob.command("file.download", DownloadRequest.newBuilder().setConversation("d:alice:bob")
                    .setSeq(seq).build()), ErrorCode.ERROR_CODE_NOT_FOUND, "recalled");
            assertEquals("recall.event", alice.awaitMessage(m -> m.getType().equals("recall.event")).getType());
            // a device that was offline throughout finds the tombstone in place of the file, and the event
            try (Device tablet = new Device(server, "bob", "tablet")) {
                tablet.resume();
                assertEquals("recalled", tablet.awaitMessage("d:alice:bob", seq).getType());
                assertEquals(event.getSeq(), tablet.awaitMessage("d:alice:bob", event.getSeq()).getSeq());
            }
        }
    }

    // ---- HTTP ---------------------------------------------------------------------------------------------------

    long offset(UploadTicket ticket) throws Exception {
        HttpResponse<Void> head = http.send(HttpRequest.newBuilder(URI.create(ticket.getUploadUrl()))
                .header("Authorization", "Bearer " + ticket.getTicket())
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
        assertEquals(200, head.statusCode());
        assertEquals(String.valueOf(ticket.getSize()), head.headers().firstValue("Upload-Length").orElse(""));
        return Long.parseLong(head.headers().firstValue("Upload-Offset").orElseThrow());
    }

    HttpResponse<String> patch(UploadTicket ticket, long offset, byte[] chunk) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(ticket.getUploadUrl()))
                .header("Authorization", "Bearer " + ticket.getTicket())
                .header("Upload-Offset", Long.toString(offset))
                .header("Content-Type", "application/offset+octet-stream")
                .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(chunk)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Sends a PATCH head announcing the whole chunk and half its bytes, then drops the connection. */
    static void killedMidChunk(ServerProcess server, UploadTicket ticket, long offset, byte[] chunk) throws Exception {
        URI uri = URI.create(ticket.getUploadUrl());
        try (Socket s = new Socket("127.0.0.1", server.httpPort)) {
            OutputStream out = s.getOutputStream();
            out.write(("PATCH " + uri.getRawPath() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    + ticket.getTicket() + "\r\nUpload-Offset: " + offset
                    + "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " + chunk.length
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(chunk, 0, chunk.length / 2);
            out.flush();
            Thread.sleep(200);
        }
        Thread.sleep(200); // the server sees the connection end and discards the partial chunk
    }

    HttpResponse<String> get(ServerProcess server, String rawPathAndQuery) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort + rawPathAndQuery))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    static void assertStatus(HttpResponse<String> response, int status, String bodyPart) {
        assertEquals(status, response.statusCode(), response.body());
        assertTrue(response.body().contains(bodyPart), response.body());
    }

    static byte[] secret() {
        return ServerProcess.BLOB_TICKET_SECRET.getBytes(StandardCharsets.UTF_8);
    }

    static boolean sleep() {
        try {
            Thread.sleep(50);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    static void assertError(Frame f, ErrorCode code, String messagePart) {
        assertTrue(f.hasError(), f.toString());
        assertEquals(code, f.getError().getCode(), f.toString());
        assertTrue(f.getError().getMessage().contains(messagePart), f.getError().getMessage());
    }

    // ---- a device speaking raw frames over TCP --------------------------------------------------------------------

    static final class Device implements AutoCloseable {
        private final RawConnection connection;
        private final List<Message> received = new ArrayList<>();
        private long nextRequestId = 1;

        Device(ServerProcess server, String user, String device) throws Exception {
            connection = new RawConnection("127.0.0.1", server.port);
            Frame ok = request(Frame.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1)
                    .setToken(server.tokens().mint(user, device, Duration.ofMinutes(10))).setDeviceId(device)));
            assertTrue(ok.hasHelloOk(), ok.toString());
        }

        void resume() throws IOException {
            long rid = post(Frame.newBuilder().setSync(SyncRequest.newBuilder().setResume(SyncRequest.Resume.newBuilder())));
            await(f -> f.getRequestId() == rid && f.hasSyncResponse() && f.getSyncResponse().getDone());
        }

        Frame send(String clientMsgId, String peer, String type, com.google.protobuf.Message body) throws IOException {
            return request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setPeer(peer)
                    .setType(type).setBody(Any.pack(body))));
        }

        Frame command(String type, com.google.protobuf.Message payload) throws IOException {
            return request(Frame.newBuilder().setCommand(Command.newBuilder().setType(type).setPayload(Any.pack(payload))));
        }

        Message awaitMessage(String conversation, long seq) throws IOException {
            return awaitMessage(m -> m.getConversation().equals(conversation) && m.getSeq() == seq);
        }

        Message awaitMessage(Predicate<Message> match) throws IOException {
            for (Message m : received) {
                if (match.test(m)) {
                    return m;
                }
            }
            Frame f = await(fr -> fr.hasDeliver() && fr.getDeliver().getMessagesList().stream().anyMatch(match));
            return f.getDeliver().getMessagesList().stream().filter(match).findFirst().orElseThrow();
        }

        private long post(Frame.Builder frame) throws IOException {
            long rid = nextRequestId++;
            connection.send(frame.setRequestId(rid).build());
            return rid;
        }

        private Frame request(Frame.Builder frame) throws IOException {
            long rid = post(frame);
            return await(f -> f.getRequestId() == rid && !f.hasDeliver());
        }

        private Frame await(Predicate<Frame> until) throws IOException {
            while (true) {
                Frame f = connection.read();
                if (f.hasDeliver() && f.getDeliver().getMessagesCount() > 0) {
                    received.addAll(f.getDeliver().getMessagesList());
                    Message last = f.getDeliver().getMessages(f.getDeliver().getMessagesCount() - 1);
                    connection.send(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                            .setConversation(last.getConversation()).setSeq(last.getSeq())).build());
                }
                if (until.test(f)) {
                    return f;
                }
            }
        }

        @Override
        public void close() throws IOException {
            connection.close();
        }
    }
}
