package io.parley.client;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files and images end to end: the SDK against {@link CoreServer#withFiles} — the real engine, the real file and image
 * types (the file bundle's component) on the real filesystem blob store, and the real HTTP transport's blob endpoints.
 * Faults are injected at the socket level by a {@link CuttingProxy} between the SDK's HTTP client and the endpoints.
 */
class ParleyClientFileTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String DIRECT = "d:alice:bob";
    private static final int CHUNK = 65536;

    @TempDir
    Path dir;
    private CoreServer server;
    private CuttingProxy proxy;
    private final List<ParleyClient> clients = new ArrayList<>();

    private record Device(ParleyClient client, BlockingQueue<Message> inbox) {
        Message next() throws InterruptedException {
            Message m = inbox.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(m, "no message");
            return m;
        }
    }

    @AfterEach
    void stop() throws Exception {
        for (ParleyClient c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    /** Starts the server with 64 KiB chunks and {@code config} over it. */
    private void start(Map<String, Object> config) throws IOException {
        Map<String, Object> c = new java.util.HashMap<>(Map.of("upload.chunk.max.bytes", CHUNK));
        c.putAll(config);
        server = CoreServer.withFiles(dir.resolve("server"), c);
    }

    /** Starts the server with its public URL on a {@link CuttingProxy} in front of the blob endpoints. */
    private void startBehindProxy() throws IOException {
        proxy = new CuttingProxy();
        start(Map.of("public.url", proxy.url()));
        proxy.target(server.files().httpPort());
    }

    private Device device(String user) throws Exception {
        return device(user, Duration.ofSeconds(5));
    }

    private Device device(String user, Duration transferTimeout) throws Exception {
        BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient c = ParleyClient.builder().port(server.port()).deviceId(user + "-phone").token(user)
                .requestTimeout(Duration.ofSeconds(5))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .transferTimeout(transferTimeout)
                .ackDelay(Duration.ofMillis(5))
                .messageListener(inbox::add).build();
        clients.add(c);
        await(c.connect());
        return new Device(c, inbox);
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static Throwable failure(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class,
                () -> f.orTimeout(WAIT.toSeconds(), TimeUnit.SECONDS).join());
        return e.getCause();
    }

    private static ParleyClientException refusal(CompletableFuture<?> f) {
        return assertInstanceOf(ParleyClientException.class, failure(f));
    }

    private Path file(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve("files").resolve(name);
        Files.createDirectories(p.getParent());
        return Files.write(p, bytes);
    }

    private static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new Random(size).nextBytes(bytes);
        return bytes;
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** Records progress updates. */
    private static final class Recorder implements ProgressListener {
        final List<long[]> updates = new CopyOnWriteArrayList<>();

        @Override
        public void onProgress(long bytes, long total) {
            updates.add(new long[] {bytes, total});
        }

        long last() {
            return updates.get(updates.size() - 1)[0];
        }
    }

    @Test
    void aMultiChunkFileIsUploadedSentReceivedAndDownloadedByThePeerByteForByte() throws Exception {
        start(Map.of());
        Device alice = device("alice");
        Device bob = device("bob");
        byte[] bytes = random(300 * 1024);
        Path report = file("report.pdf", bytes);

        Recorder up = new Recorder();
        SendAck ack = await(alice.client().sendFile("bob", report, null, up));
        assertEquals(DIRECT, ack.getConversation());
        // one update at the start and one per accepted chunk (5 chunks of at most 64 KiB), in order, to the total
        assertEquals(0, up.updates.get(0)[0]);
        assertEquals(6, up.updates.size(), up.updates.stream().map(u -> u[0] + "/" + u[1]).toList().toString());
        for (int i = 1; i < up.updates.size(); i++) {
            assertEquals(Math.min(i * CHUNK, bytes.length), up.updates.get(i)[0]);
            assertEquals(bytes.length, up.updates.get(i)[1]);
        }

        Message received = bob.next();
        assertEquals(Attachments.FILE_TYPE, received.getType());
        Attachments.Attachment a = Attachments.of(received).orElseThrow();
        assertEquals(new Attachments.Attachment(DIRECT, ack.getSeq(), "file", a.key(), "report.pdf", bytes.length,
                "application/pdf", sha256(bytes), 0, 0, "", 0, 0), a);
        assertTrue(a.key().startsWith("f/alice/"), a.key());
        assertFalse(a.isImage());

        Path target = dir.resolve("bob").resolve("report.pdf");
        Files.createDirectories(target.getParent());
        Recorder down = new Recorder();
        assertEquals(target, await(bob.client().download(a, target, down)));
        assertArrayEquals(bytes, Files.readAllBytes(target));
        assertEquals(bytes.length, down.last());
        // by conversation and seq (the message is read first), into a file that must not exist yet
        Path second = target.resolveSibling("again.pdf");
        await(bob.client().download(DIRECT, ack.getSeq(), second, null));
        assertArrayEquals(bytes, Files.readAllBytes(second));
        assertInstanceOf(FileAlreadyExistsException.class, failure(bob.client().download(a, target, null)));
        try (Stream<Path> left = Files.list(target.getParent())) {
            assertEquals(List.of("again.pdf", "report.pdf"), left.map(p -> p.getFileName().toString()).sorted()
                    .toList(), "no temporary file is left behind");
        }
        assertTrue(Attachments.of(Message.getDefaultInstance()).isEmpty());
    }

    @Test
    void aKilledUploadResumesFromWhereTheServerStandsAndAKilledDownloadResumesWithRange() throws Exception {
        startBehindProxy();
        Device alice = device("alice");
        Device bob = device("bob");
        byte[] bytes = random(300 * 1024);
        Path data = file("data.bin", bytes);

        Attachments.UploadTicket ticket = await(alice.client().requestUpload("data.bin", bytes.length,
                "application/octet-stream"));
        assertEquals(CHUNK, ticket.chunkMaxBytes());
        assertTrue(ticket.uploadUrl().toString().startsWith(proxy.url() + "/blobs/f/alice/"), ticket.toString());
        assertFalse(ticket.toString().contains(ticket.ticket()), "toString leaves out the ticket");
        // the connection dies in the middle of the third chunk
        proxy.cutUpAfter(2 * CHUNK + CHUNK / 2);
        Recorder up = new Recorder();
        Attachments.Upload upload = await(alice.client().upload(ticket, data, up));
        assertEquals(1, proxy.cuts.get());
        assertEquals(new Attachments.Upload(ticket.key(), "data.bin", bytes.length, "application/octet-stream",
                sha256(bytes)), upload);
        assertTrue(proxy.connections.get() >= 2, "a new connection after the cut");
        // resumed, not started over: the third chunk went twice at most, the first two once
        assertTrue(proxy.up.get() < bytes.length + CHUNK + CHUNK / 2 + 16 * 1024, "sent " + proxy.up.get());
        assertEquals(bytes.length, up.last());
        // a second call with the same ticket asks where the upload stands and finds it complete
        assertEquals(upload, await(alice.client().upload(ticket, data, null)));

        // the server stores a chunk but its answer is lost: the upload goes on after it, not again from it
        Attachments.UploadTicket second = await(alice.client().requestUpload("copy.bin", bytes.length,
                "application/octet-stream"));
        long upBefore = proxy.up.get();
        Attachments.Upload copy = await(alice.client().upload(second, data, (sent, total) -> {
            if (sent == 0) {
                proxy.cutDownAfter(1);   // the answer to the first chunk
            }
        }));
        assertEquals(2, proxy.cuts.get());
        assertEquals(sha256(bytes), copy.sha256());
        assertTrue(proxy.up.get() - upBefore < bytes.length + 16 * 1024, "sent " + (proxy.up.get() - upBefore));

        SendAck ack = await(alice.client().send(io.parley.core.proto.Send.newBuilder().setPeer("bob")
                .setType(Attachments.FILE_TYPE).setBody(Attachments.fileBody(upload)).build()));
        Attachments.Attachment a = Attachments.of(bob.next()).orElseThrow();
        assertEquals(ack.getSeq(), a.seq());

        proxy.cutDownAfter(100 * 1024);
        long before = proxy.down.get();
        Path target = dir.resolve("data.bin");
        await(bob.client().download(a, target, null));
        assertEquals(3, proxy.cuts.get());
        assertArrayEquals(bytes, Files.readAllBytes(target));
        assertTrue(proxy.down.get() - before < bytes.length + 100 * 1024, "resumed with Range, not restarted");
    }

    @Test
    void aDownloadWhoseConnectionStallsResumesOnANewOne() throws Exception {
        startBehindProxy();
        Device alice = device("alice");
        Device bob = device("bob", Duration.ofSeconds(1));
        byte[] bytes = random(300 * 1024);
        await(alice.client().sendFile("bob", file("big.bin", bytes), null, null));
        Attachments.Attachment a = Attachments.of(bob.next()).orElseThrow();

        int connections = proxy.connections.get();
        Path target = dir.resolve("big.bin");
        long started = System.nanoTime();
        proxy.stallDownAfter(100 * 1024);   // the server's bytes stop there; the connection stays open
        await(bob.client().download(a, target, null));
        assertEquals(1, proxy.stalls.get());
        assertArrayEquals(bytes, Files.readAllBytes(target));
        assertTrue(proxy.connections.get() > connections, "resumed on a new connection");
        assertTrue(System.nanoTime() - started >= Duration.ofSeconds(1).toNanos(), "waited for the stall");
    }

    @Test
    void anImageGetsItsDimensionsAndThumbnailFromTheServer() throws Exception {
        start(Map.of());
        Device alice = device("alice");
        Device bob = device("bob");
        BufferedImage image = new BufferedImage(800, 450, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillRect(0, 0, 800, 450);
        g.dispose();
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(image, "png", png);
        Path view = file("view.png", png.toByteArray());

        SendAck ack = await(alice.client().sendImage("bob", view, null, null));
        Message received = bob.next();
        assertEquals(Attachments.IMAGE_TYPE, received.getType());
        Attachments.Attachment a = Attachments.of(received).orElseThrow();
        assertTrue(a.isImage());
        assertEquals(ack.getSeq(), a.seq());
        assertEquals("image/png", a.contentType());
        assertEquals(800, a.width());
        assertEquals(450, a.height());
        assertEquals(a.key() + ".thumb", a.thumbnailKey());
        assertEquals(320, a.thumbnailWidth());
        assertEquals(180, a.thumbnailHeight());

        Attachments.DownloadTicket urls = await(bob.client().downloadTicket(DIRECT, a.seq()));
        assertNotNull(urls.thumbnailUrl());
        assertFalse(urls.toString().contains("ticket="), urls.toString());
        HttpResponse<byte[]> thumb = HttpClient.newHttpClient().send(HttpRequest.newBuilder(urls.thumbnailUrl())
                .build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, thumb.statusCode());
        BufferedImage t = ImageIO.read(new ByteArrayInputStream(thumb.body()));
        assertEquals(320, t.getWidth());
        assertEquals(180, t.getHeight());
    }

    @Test
    void refusalsSurfaceWithTheServersCodesAndARecalledFileIsGone() throws Exception {
        start(Map.of("upload.max.bytes", 1_000_000L, "quota.bytes", 600_000L));
        Device alice = device("alice");
        Device bob = device("bob");
        Device carol = device("carol");

        ParleyClientException tooLarge = refusal(alice.client().requestUpload("big.bin", 2_000_000, "application/zip"));
        assertEquals(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, tooLarge.code());
        await(alice.client().requestUpload("half.bin", 500_000, "application/zip"));
        ParleyClientException quota = refusal(alice.client().requestUpload("more.bin", 200_000, "application/zip"));
        assertEquals(ErrorCode.ERROR_CODE_QUOTA_EXCEEDED, quota.code());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(alice.client().requestUpload("a/b.txt", 10, "text/plain")).code());

        // the HTTP endpoints' refusals: a forged ticket; a source shorter than the ticket says
        Attachments.UploadTicket ticket = await(bob.client().requestUpload("notes.txt", 10, "text/plain"));
        Attachments.UploadTicket forged = new Attachments.UploadTicket(ticket.key(), ticket.ticket() + "x",
                ticket.uploadUrl(), ticket.name(), ticket.size(), ticket.contentType(), ticket.expiresAt(),
                ticket.chunkMaxBytes());
        ParleyClientException unauthenticated = refusal(bob.client().upload(forged,
                () -> new ByteArrayInputStream(new byte[10]), null));
        assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, unauthenticated.code());
        assertTrue(unauthenticated.getMessage().startsWith("HTTP 401 from " + server.files().baseUrl() + "/blobs/"),
                unauthenticated.getMessage());
        assertInstanceOf(IOException.class, failure(bob.client().upload(ticket,
                () -> new ByteArrayInputStream(new byte[4]), null)));

        // not an image
        Path text = file("notes.png", "not an image at all".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, refusal(bob.client().sendImage("alice", text, null, null))
                .code());

        // downloads: a non-member, a text message, a seq with no message
        SendAck file = await(bob.client().sendFile("alice", file("ok.txt", new byte[] {1, 2, 3}), null, null));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(carol.client().downloadTicket(DIRECT, file.getSeq()))
                .code());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(carol.client().download(DIRECT, file.getSeq(),
                dir.resolve("stolen"), null)).code());
        SendAck textAck = await(bob.client().sendText("alice", "see above"));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(alice.client().download(DIRECT, textAck.getSeq(),
                dir.resolve("text"), null)).code());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(alice.client().download(DIRECT, 99,
                dir.resolve("none"), null)).code());
        assertFalse(Files.exists(dir.resolve("stolen")) || Files.exists(dir.resolve("text")));
        Attachments.Attachment ok = Attachments.of(alice.next()).orElseThrow();
        assertEquals("ok.txt", ok.name());

        // a recalled file: its object is deleted, its tombstone is no attachment, and downloads are refused
        await(bob.client().recall(DIRECT, file.getSeq()));
        Message event = alice.next();
        while (!Recalls.isEvent(event)) {
            event = alice.next();
        }
        assertTrue(Attachments.of(event).isEmpty());
        Message tombstone = await(alice.client().syncRange(DIRECT, file.getSeq(), file.getSeq(), 1)).getMessages(0);
        assertTrue(Recalls.isTombstone(tombstone) && Attachments.of(tombstone).isEmpty(), tombstone.toString());
        ParleyClientException recalled = refusal(alice.client().download(ok, dir.resolve("recalled"), null));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, recalled.code());
        assertTrue(recalled.getMessage().contains("recalled"), recalled.getMessage());
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (server.files().blobs().stat(ok.key()).isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(server.files().blobs().stat(ok.key()).isEmpty(), "the recalled object is deleted");
    }
}
