package io.parley.type.file;

import com.google.protobuf.Any;
import io.parley.blob.fs.FsBlobStore;
import io.parley.command.recall.RecallHandler;
import io.parley.command.recall.RecallRules;
import io.parley.command.recall.proto.Recall;
import io.parley.core.api.Ids;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Command;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.proto.Notice;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.type.file.proto.DownloadRequest;
import io.parley.type.file.proto.DownloadTicket;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;
import io.parley.type.file.proto.UploadRequest;
import io.parley.type.file.proto.UploadTicket;
import io.parley.type.support.BlobKeys;
import io.parley.type.support.BlobListing;
import io.parley.type.text.TextRules;
import io.parley.type.text.proto.Text;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The file and image types and commands on the real engine ({@link InProcessCore}, memory store) with the real
 * filesystem blob store, the real text type and the real recall command. The bytes are put into the blob store
 * directly here (what the HTTP transport's /blobs/ endpoints do, tested there and in the distribution tests).
 */
class FileEndToEndTest {
    static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;
    /** Starts at the real time: the blob store stamps what it stores with the real time. */
    final MutableClock clock = new MutableClock(Instant.now());
    final AtomicReference<BlobStore> blobStore = new AtomicReference<>();
    final AtomicReference<FileSettings> settings = new AtomicReference<>();
    ExecutorService io;
    Files files;
    InProcessCore core;
    final List<Device> devices = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        blobStore.set(new FsBlobStore(dir.resolve("blobs")));
        settings.set(settings(1_000_000, 10_000_000));
        io = Executors.newFixedThreadPool(2);
        files = new Files(settings::get, () -> Optional.ofNullable(blobStore.get()), io, clock);
        FileCommands commands = new FileCommands(files);
        TextRules text = new TextRules(4000);
        core = InProcessCore.start(new MemoryMessageStore(), Map.of())
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(3600)))
                .processor("text", (MessageProcessor) (c, d) -> CompletableFuture.completedFuture(text.check(d)))
                .processor(FileTypes.FILE, new FileProcessor(files, FileTypes.FILE))
                .processor(FileTypes.IMAGE, new FileProcessor(files, FileTypes.IMAGE))
                .command(FileTypes.UPLOAD, commands.uploadHandler())
                .command(FileTypes.DOWNLOAD, commands.downloadHandler())
                .command(RecallRules.COMMAND_TYPE, new RecallHandler(new RecallRules(Duration.ofMinutes(2))));
    }

    FileSettings settings(long maxBytes, long quota) {
        return new FileSettings(URI.create("https://chat.example.com/"), SECRET, maxBytes, 65536,
                Duration.ofHours(1), Duration.ofMinutes(5), quota, Duration.ofHours(24), Duration.ofHours(1),
                40_000_000L, 320);
    }

    @AfterEach
    void stop() throws Exception {
        devices.forEach(Device::close);
        if (core != null) {
            core.close();
        }
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void aFileGoesFromTicketToUploadToMessageToDownloadAndIsRefusedEveryOtherWay() throws Exception {
        Device alice = device("alice", "phone").resume();
        Device bob = device("bob", "phone").resume();
        byte[] bytes = "quarterly numbers\n".repeat(100).getBytes(StandardCharsets.UTF_8);

        UploadTicket ticket = upload(alice, "q4.txt", bytes.length, "text/plain");
        String day = java.time.LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC).format(
                java.time.format.DateTimeFormatter.BASIC_ISO_DATE);
        assertTrue(ticket.getKey().startsWith("f/alice/" + day + "/"), ticket.getKey());
        assertEquals("https://chat.example.com/blobs/" + ticket.getKey(), ticket.getUploadUrl());
        assertEquals(65536, ticket.getChunkMaxBytes());
        BlobTicket decoded = BlobTicket.verify(ticket.getTicket(), SECRET, clock.instant());
        assertEquals(new BlobTicket(BlobTicket.Access.UPLOAD, ticket.getKey(), "alice", bytes.length, "text/plain",
                Instant.ofEpochSecond(clock.instant().plus(Duration.ofHours(1)).getEpochSecond())), decoded);
        File body = File.newBuilder().setKey(ticket.getKey()).setName("q4.txt").setSize(bytes.length)
                .setContentType("text/plain").setSha256(sha256(bytes)).build();

        // sent before the upload completed
        assertRefused(send(alice, "c1", "file", body), ErrorCode.ERROR_CODE_INVALID_BODY, "no uploaded object");
        blobStore.get().put(ticket.getKey(), new ByteArrayInputStream(bytes), bytes.length, "text/plain");

        assertRefused(send(alice, "c1", "file", body.toBuilder().setSha256(sha256("other".getBytes())).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "sha256 does not match");
        assertRefused(send(alice, "c1", "file", body.toBuilder().setSize(bytes.length + 1).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "does not match the uploaded object");
        assertRefused(send(alice, "c1", "file", body.toBuilder().setContentType("text/html").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "content_type");
        assertRefused(send(bob, "b1", "file", body), ErrorCode.ERROR_CODE_INVALID_BODY, "issued to the sender");
        assertRefused(send(alice, "c1", "file", body.toBuilder().setKey("f/alice/../bob/x").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "key");
        assertRefused(send(alice, "c1", "file", Text.newBuilder().setText("x").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "parley.file.v1.File");

        Frame ack = send(alice, "c1", "file", body);
        assertTrue(ack.hasSendAck(), ack.toString());
        long seq = ack.getSendAck().getSeq();
        Message delivered = bob.awaitMessage("d:alice:bob", seq);
        assertEquals(body, delivered.getBody().unpack(File.class));
        // a retry of the same send is the same message; another message with the same object is refused
        Frame again = send(alice, "c1", "file", body);
        assertTrue(again.getSendAck().getDuplicate(), again.toString());
        assertRefused(send(alice, "c2", "file", body), ErrorCode.ERROR_CODE_INVALID_BODY, "already sent");

        // download: a member gets a URL with a download ticket for the key; strangers and other messages do not
        DownloadTicket download = download(bob, "d:alice:bob", seq).getCommandResult().getPayload()
                .unpack(DownloadTicket.class);
        String prefix = "https://chat.example.com/blobs/" + ticket.getKey() + "?ticket=";
        assertTrue(download.getUrl().startsWith(prefix), download.getUrl());
        BlobTicket grant = BlobTicket.verify(download.getUrl().substring(prefix.length()), SECRET, clock.instant());
        assertEquals(BlobTicket.Access.DOWNLOAD, grant.access());
        assertEquals(ticket.getKey(), grant.key());
        assertEquals(clock.instant().plus(Duration.ofMinutes(5)).getEpochSecond() * 1000, download.getExpiresAt());
        Device carol = device("carol", "phone");
        assertRefused(download(carol, "d:alice:bob", seq), ErrorCode.ERROR_CODE_NOT_FOUND, "");
        Frame textAck = send(alice, "t1", "text", Text.newBuilder().setText("see above").build());
        assertRefused(download(bob, "d:alice:bob", textAck.getSendAck().getSeq()), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "not a file");
        assertRefused(download(bob, "d:alice:bob", 99), ErrorCode.ERROR_CODE_NOT_FOUND, "no message 99");

        // a recall deletes the object and its claim; downloads are refused from then on
        Frame recalled = alice.command(RecallRules.COMMAND_TYPE, Any.pack(Recall.newBuilder()
                .setConversation("d:alice:bob").setSeq(seq).build()));
        assertTrue(recalled.hasCommandResult(), recalled.toString());
        awaitTrue(() -> blobStore.get().stat(ticket.getKey()).isEmpty(), "the recalled object is deleted");
        awaitTrue(() -> blobStore.get().stat(BlobKeys.claim(ticket.getKey())).isEmpty(), "its claim is deleted");
        assertRefused(download(bob, "d:alice:bob", seq), ErrorCode.ERROR_CODE_NOT_FOUND, "recalled");
    }

    @Test
    void anImageIsMeasuredAndThumbnailedByTheServer() throws Exception {
        Device alice = device("alice", "phone").resume();
        Device bob = device("bob", "phone").resume();
        byte[] png = ThumbnailsTest.image("png", 1600, 900);
        UploadTicket ticket = upload(alice, "view.png", png.length, "image/png");
        blobStore.get().put(ticket.getKey(), new ByteArrayInputStream(png), png.length, "image/png");
        Image claimed = Image.newBuilder().setKey(ticket.getKey()).setName("view.png").setSize(png.length)
                .setContentType("image/png").setSha256(sha256(png)).setWidth(1).setHeight(1).setThumbnailKey("f/x")
                .build();
        Frame ack = send(alice, "i1", "image", claimed);
        assertTrue(ack.hasSendAck(), ack.toString());
        Image stored = bob.awaitMessage("d:alice:bob", ack.getSendAck().getSeq()).getBody().unpack(Image.class);
        assertEquals(1600, stored.getWidth());
        assertEquals(900, stored.getHeight());
        assertEquals(ticket.getKey() + ".thumb", stored.getThumbnailKey());
        assertEquals(320, stored.getThumbnailWidth());
        assertEquals(180, stored.getThumbnailHeight());
        assertEquals("image/jpeg", blobStore.get().stat(stored.getThumbnailKey()).orElseThrow().contentType());
        DownloadTicket download = download(bob, "d:alice:bob", ack.getSendAck().getSeq()).getCommandResult()
                .getPayload().unpack(DownloadTicket.class);
        assertTrue(download.getThumbnailUrl().contains("/blobs/" + stored.getThumbnailKey() + "?ticket="),
                download.getThumbnailUrl());

        // a bomb and a text file sent as an image are refused, and stay unclaimed (collected later)
        byte[] bomb = ThumbnailsTest.withDimensions(ThumbnailsTest.image("png", 8, 8), 60_000, 60_000);
        UploadTicket bombTicket = upload(alice, "bomb.png", bomb.length, "image/png");
        blobStore.get().put(bombTicket.getKey(), new ByteArrayInputStream(bomb), bomb.length, "image/png");
        assertRefused(send(alice, "i2", "image", Image.newBuilder().setKey(bombTicket.getKey()).setName("bomb.png")
                .setSize(bomb.length).setContentType("image/png").setSha256(sha256(bomb)).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "60000x60000");
        assertTrue(blobStore.get().stat(BlobKeys.claim(bombTicket.getKey())).isEmpty());
    }

    /**
     * An image is decoded only when it could be sent: one already sent in another message, or whose ticket is gone,
     * is refused from the claim and the markers, without being opened (a user could otherwise have the server decode
     * the same 40-megapixel image again with every send).
     */
    @Test
    void anImageThatCannotBeSentIsRefusedWithoutBeingDecoded() throws Exception {
        CountingStore counting = new CountingStore(blobStore.get());
        blobStore.set(counting);
        Device alice = device("alice", "phone").resume();
        byte[] png = ThumbnailsTest.image("png", 400, 300);
        UploadTicket ticket = upload(alice, "a.png", png.length, "image/png");
        counting.put(ticket.getKey(), new ByteArrayInputStream(png), png.length, "image/png");
        Image body = Image.newBuilder().setKey(ticket.getKey()).setName("a.png").setSize(png.length)
                .setContentType("image/png").setSha256(sha256(png)).build();
        assertTrue(send(alice, "i1", "image", body).hasSendAck());
        assertEquals(1, counting.opens(ticket.getKey()), "decoded once");
        for (int i = 0; i < 3; i++) {
            assertRefused(send(alice, "again-" + i, "image", body), ErrorCode.ERROR_CODE_INVALID_BODY, "already sent");
        }
        assertEquals(1, counting.opens(ticket.getKey()), "an image sent already is not decoded again");

        UploadTicket orphan = upload(alice, "b.png", png.length, "image/png");
        counting.put(orphan.getKey(), new ByteArrayInputStream(png), png.length, "image/png");
        counting.delete(BlobKeys.pending(orphan.getKey(), png.length)); // as the sweep does to a ticket's marker
        assertRefused(send(alice, "o1", "image", body.toBuilder().setKey(orphan.getKey()).build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "no upload ticket is open");
        assertEquals(0, counting.opens(orphan.getKey()));
    }

    /**
     * One user's images are checked and thumbnailed at most {@link Files#MAX_IMAGES_PER_USER} at a time: more at once
     * are refused as retryable {@code RATE_LIMITED}, so one user cannot fill the two workers' queue (and hold up
     * everyone's file work) with decodes; another user's image goes on.
     */
    @Test
    void oneUsersImagesAreDecodedAFewAtATime() throws Exception {
        CountingStore counting = new CountingStore(blobStore.get());
        blobStore.set(counting);
        Device bob = device("bob", "phone").resume();
        byte[] png = ThumbnailsTest.image("png", 64, 64);
        List<Image> images = new ArrayList<>();
        List<Device> alices = new ArrayList<>();
        for (int i = 0; i < Files.MAX_IMAGES_PER_USER + 1; i++) {
            Device a = device("alice", "phone-" + i);
            alices.add(a);
            UploadTicket t = upload(a, "p.png", png.length, "image/png");
            counting.put(t.getKey(), new ByteArrayInputStream(png), png.length, "image/png");
            images.add(Image.newBuilder().setKey(t.getKey()).setName("p.png").setSize(png.length)
                    .setContentType("image/png").setSha256(sha256(png)).build());
        }
        counting.holdOpens(true);
        List<Long> sends = new ArrayList<>();
        for (int i = 0; i < Files.MAX_IMAGES_PER_USER; i++) {
            sends.add(alices.get(i).post(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("h" + i)
                    .setPeer("bob").setType("image").setBody(Any.pack(images.get(i))))));
        }
        awaitTrue(() -> counting.held() == Files.MAX_IMAGES_PER_USER, "the first images are being decoded");
        Frame limited = send(alices.get(Files.MAX_IMAGES_PER_USER), "h-more", "image",
                images.get(Files.MAX_IMAGES_PER_USER));
        assertRefused(limited, ErrorCode.ERROR_CODE_RATE_LIMITED, "being processed");
        assertTrue(limited.getError().getRetryable(), limited.toString());
        counting.holdOpens(false);
        for (int i = 0; i < sends.size(); i++) {
            long rid = sends.get(i);
            Frame ack = alices.get(i).await(f -> f.getRequestId() == rid && !f.hasDeliver());
            assertTrue(ack.hasSendAck(), ack.toString());
        }
        // the slots are given back: the refused one goes through now
        assertTrue(send(alices.get(Files.MAX_IMAGES_PER_USER), "h-more", "image",
                images.get(Files.MAX_IMAGES_PER_USER)).hasSendAck());
        UploadTicket bobs = upload(bob, "q.png", png.length, "image/png");
        counting.put(bobs.getKey(), new ByteArrayInputStream(png), png.length, "image/png");
        assertTrue(send(bob, "b1", "image", images.get(0).toBuilder().setKey(bobs.getKey()).build()).hasSendAck());
    }

    /** Two tickets asked for at once are checked against the quota one after the other, not both against 0. */
    @Test
    void ticketsAskedForAtOnceCannotPassTheQuotaTogether() throws Exception {
        settings.set(settings(1000, 1500));
        CountingStore slow = new CountingStore(blobStore.get());
        slow.slowLists(true); // widens the window between the quota's listing and the ticket's marker
        blobStore.set(slow);
        List<Device> phones = List.of(device("alice", "a"), device("alice", "b"));
        List<Long> asked = new ArrayList<>();
        for (Device d : phones) {
            asked.add(d.post(Frame.newBuilder().setCommand(Command.newBuilder().setType(FileTypes.UPLOAD).setPayload(
                    Any.pack(UploadRequest.newBuilder().setName("x.bin").setSize(1000)
                            .setContentType("application/octet-stream").build())))));
        }
        int issued = 0;
        int refused = 0;
        for (int i = 0; i < phones.size(); i++) {
            long rid = asked.get(i);
            Frame f = phones.get(i).await(fr -> fr.getRequestId() == rid && !fr.hasDeliver());
            if (f.hasCommandResult()) {
                issued++;
            } else {
                assertEquals(ErrorCode.ERROR_CODE_QUOTA_EXCEEDED, f.getError().getCode(), f.toString());
                refused++;
            }
        }
        assertEquals(1, issued, "one ticket of 1000 bytes fits a quota of 1500, not two");
        assertEquals(1, refused);
    }

    /**
     * User ids may hold {@code @} (e-mail addresses) or be {@code .} or {@code ..}, which no blob key segment may: their
     * objects live under {@code h/<the user id in hex>/}, so they send files like everyone else (and no name of one
     * user is a prefix of another's).
     */
    @Test
    void usersWhoseIdsAreNoKeySegmentSendFilesToo() throws Exception {
        Device bob = device("bob", "phone").resume();
        byte[] bytes = "minutes".getBytes(StandardCharsets.UTF_8);
        for (String user : new String[] {"alice@example.com", "..", "."}) {
            Device d = device(user, "phone");
            UploadTicket ticket = upload(d, "m.txt", bytes.length, "text/plain");
            String hex = HexFormat.of().formatHex(user.getBytes(StandardCharsets.UTF_8));
            assertTrue(ticket.getKey().startsWith("h/" + hex + "/"), ticket.getKey());
            assertTrue(BlobTicket.validKey(ticket.getKey()), ticket.getKey());
            blobStore.get().put(ticket.getKey(), new ByteArrayInputStream(bytes), bytes.length, "text/plain");
            File body = file(ticket, bytes);
            Frame ack = d.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob")
                    .setType("file").setBody(Any.pack(body))));
            assertTrue(ack.hasSendAck(), ack.toString());
            String conversation = Ids.direct(user, "bob");
            bob.awaitMessage(conversation, ack.getSendAck().getSeq());
            assertTrue(download(bob, conversation, ack.getSendAck().getSeq()).hasCommandResult());
            // bob cannot send it as his, and it counts against its owner's quota only
            assertRefused(send(bob, "b-" + user, "file", body), ErrorCode.ERROR_CODE_INVALID_BODY, "issued to the sender");
            assertEquals(bytes.length, files.usage(blobStore.get(), user));
        }
        assertEquals(0, files.usage(blobStore.get(), "bob"));
    }

    @Test
    void sizesAndQuotasAreEnforcedWhenTicketsAreIssued() throws Exception {
        settings.set(settings(1000, 2500));
        Device alice = device("alice", "phone");
        assertRefused(alice.command(FileTypes.UPLOAD, Any.pack(UploadRequest.newBuilder().setName("big.bin")
                .setSize(1001).setContentType("application/octet-stream").build())), ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                "at most 1000");
        UploadTicket first = upload(alice, "a.bin", 1000, "application/octet-stream");
        blobStore.get().put(first.getKey(), new ByteArrayInputStream(new byte[1000]), 1000, "application/octet-stream");
        upload(alice, "b.bin", 1000, "application/octet-stream"); // not uploaded yet: still counts
        Frame over = alice.command(FileTypes.UPLOAD, Any.pack(UploadRequest.newBuilder().setName("c.bin").setSize(600)
                .setContentType("application/octet-stream").build()));
        assertRefused(over, ErrorCode.ERROR_CODE_QUOTA_EXCEEDED, "stores 2000 of 2500 bytes");
        upload(device("bob", "phone"), "b.bin", 1000, "application/octet-stream"); // quotas are per user
        assertRefused(alice.command(FileTypes.UPLOAD, Any.pack(UploadRequest.newBuilder().setName("a/b").setSize(1)
                .setContentType("text/plain").build())), ErrorCode.ERROR_CODE_INVALID_REQUEST, "name");
        assertRefused(alice.command(FileTypes.UPLOAD, Any.pack(Text.newBuilder().setText("x").build())),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "UploadRequest");
    }

    @Test
    void uploadsNeverSentAreCollectedAndTooOldOnesCannotBeSent() throws Exception {
        Device alice = device("alice", "phone").resume();
        byte[] bytes = "x".repeat(10).getBytes(StandardCharsets.UTF_8);
        UploadTicket sent = upload(alice, "sent.txt", bytes.length, "text/plain");
        UploadTicket orphan = upload(alice, "orphan.txt", bytes.length, "text/plain");
        UploadTicket late = upload(alice, "late.txt", bytes.length, "text/plain");
        for (UploadTicket t : List.of(sent, orphan, late)) {
            blobStore.get().put(t.getKey(), new ByteArrayInputStream(bytes), bytes.length, "text/plain");
        }
        assertTrue(send(alice, "s1", "file", file(sent, bytes)).hasSendAck());

        clock.advance(Duration.ofHours(23).plusMinutes(30));
        assertRefused(send(alice, "s2", "file", file(late, bytes)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "older than 23 hours");
        assertEquals(0, files.sweep(), "nothing is old enough yet");

        clock.advance(Duration.ofHours(1));
        assertEquals(2, files.sweep());
        assertTrue(blobStore.get().stat(orphan.getKey()).isEmpty());
        assertTrue(blobStore.get().stat(late.getKey()).isEmpty());
        assertTrue(blobStore.get().stat(sent.getKey()).isPresent(), "a sent object stays");
        assertEquals(List.of(), BlobListing.listAll(blobStore.get(), BlobKeys.PENDING), "no marker is left");
        assertRefused(send(alice, "s3", "file", file(orphan, bytes)), ErrorCode.ERROR_CODE_INVALID_BODY,
                "no upload ticket is open");
    }

    @Test
    void withoutABlobStoreFileWorkIsRefusedAsRetryable() throws Exception {
        blobStore.set(null);
        Device alice = device("alice", "phone");
        Frame refused = alice.command(FileTypes.UPLOAD, Any.pack(UploadRequest.newBuilder().setName("a")
                .setSize(1).setContentType("text/plain").build()));
        assertRefused(refused, ErrorCode.ERROR_CODE_UNAVAILABLE, "no blob store");
        assertTrue(refused.getError().getRetryable());
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    /** The real store, counting the opens of each key; opens of uploads can be held, listings slowed. */
    static final class CountingStore implements BlobStore {
        private final BlobStore delegate;
        private final Map<String, Integer> opens = new java.util.concurrent.ConcurrentHashMap<>();
        private final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();
        private volatile CompletableFuture<Void> gate = CompletableFuture.completedFuture(null);
        private volatile boolean slowLists;

        CountingStore(BlobStore delegate) {
            this.delegate = delegate;
        }

        int opens(String key) {
            return opens.getOrDefault(key, 0);
        }

        int held() {
            return held.get();
        }

        void holdOpens(boolean hold) {
            if (hold) {
                gate = new CompletableFuture<>();
            } else {
                gate.complete(null);
            }
        }

        void slowLists(boolean slow) {
            slowLists = slow;
        }

        @Override
        public Info put(String key, java.io.InputStream content, long length, String contentType)
                throws java.io.IOException {
            return delegate.put(key, content, length, contentType);
        }

        @Override
        public Optional<Info> stat(String key) throws java.io.IOException {
            return delegate.stat(key);
        }

        @Override
        public Optional<java.io.InputStream> open(String key, long offset) throws java.io.IOException {
            if (key.startsWith(BlobKeys.FILES)) {
                opens.merge(key, 1, Integer::sum);
                held.incrementAndGet();
                try {
                    gate.get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new java.io.IOException(e);
                } finally {
                    held.decrementAndGet();
                }
            }
            return delegate.open(key, offset);
        }

        @Override
        public boolean delete(String key) throws java.io.IOException {
            return delegate.delete(key);
        }

        @Override
        public List<Info> list(String prefix, String after, int limit) throws java.io.IOException {
            if (slowLists) {
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return delegate.list(prefix, after, limit);
        }
    }

    static File file(UploadTicket t, byte[] bytes) throws Exception {
        return File.newBuilder().setKey(t.getKey()).setName("f.txt").setSize(bytes.length)
                .setContentType(t.getContentType()).setSha256(sha256(bytes)).build();
    }

    UploadTicket upload(Device d, String name, long size, String type) throws Exception {
        Frame f = d.command(FileTypes.UPLOAD, Any.pack(UploadRequest.newBuilder().setName(name).setSize(size)
                .setContentType(type).build()));
        assertTrue(f.hasCommandResult(), f.toString());
        return f.getCommandResult().getPayload().unpack(UploadTicket.class);
    }

    static Frame download(Device d, String conversation, long seq) throws Exception {
        return d.command(FileTypes.DOWNLOAD, Any.pack(DownloadRequest.newBuilder().setConversation(conversation)
                .setSeq(seq).build()));
    }

    static Frame send(Device d, String clientMsgId, String type, com.google.protobuf.Message body) throws Exception {
        return d.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setPeer(
                d.user.equals("alice") ? "bob" : "alice").setType(type).setBody(Any.pack(body))));
    }

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    static void assertRefused(Frame f, ErrorCode code, String reasonPart) {
        assertTrue(f.hasError(), f.toString());
        assertEquals(code, f.getError().getCode(), f.toString());
        assertTrue(f.getError().getMessage().contains(reasonPart), f.getError().getMessage());
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void awaitTrue(Check check, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!check.ok()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    Device device(String user, String device) throws InterruptedException {
        Device d = new Device(core, user, device);
        devices.add(d);
        return d;
    }

    static final class MutableClock extends Clock {
        private volatile Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    /** A device on a real core session; frames it receives are queued. */
    static final class Device implements Connection {
        private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        private final List<Message> received = new ArrayList<>();
        private final InboundSession session;
        final String user;
        private long nextRequestId = 1;

        Device(InProcessCore core, String user, String device) throws InterruptedException {
            this.user = user;
            this.session = core.receiver().open(this);
            Frame ok = request(Frame.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setToken(user)
                    .setDeviceId(device)));
            assertTrue(ok.hasHelloOk(), ok.toString());
        }

        Device resume() throws InterruptedException {
            long rid = post(Frame.newBuilder().setSync(SyncRequest.newBuilder().setResume(SyncRequest.Resume.newBuilder())));
            await(f -> f.getRequestId() == rid && f.hasSyncResponse() && f.getSyncResponse().getDone());
            return this;
        }

        long post(Frame.Builder frame) {
            long rid = nextRequestId++;
            session.onFrame(frame.setRequestId(rid).build());
            return rid;
        }

        Frame request(Frame.Builder frame) throws InterruptedException {
            long rid = post(frame);
            return await(f -> f.getRequestId() == rid && !f.hasDeliver());
        }

        Frame command(String type, Any payload) throws InterruptedException {
            return request(Frame.newBuilder().setCommand(Command.newBuilder().setType(type).setPayload(payload)));
        }

        Message awaitMessage(String conversation, long seq) throws InterruptedException {
            Predicate<Message> match = m -> m.getConversation().equals(conversation) && m.getSeq() == seq;
            for (Message m : received) {
                if (match.test(m)) {
                    return m;
                }
            }
            Frame f = await(fr -> fr.hasDeliver() && fr.getDeliver().getMessagesList().stream().anyMatch(match));
            return f.getDeliver().getMessagesList().stream().filter(match).findFirst().orElseThrow();
        }

        Frame await(Predicate<Frame> until) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                Frame f = frames.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (f == null) {
                    fail(user + ": timed out");
                }
                if (f.hasDeliver()) {
                    received.addAll(f.getDeliver().getMessagesList());
                }
                if (until.test(f)) {
                    return f;
                }
            }
        }

        @Override
        public void send(Frame frame) {
            frames.add(frame);
        }

        @Override
        public java.util.concurrent.CompletionStage<Void> sendFlushed(Frame frame) {
            frames.add(frame);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
        }

        @Override
        public String transport() {
            return "test";
        }

        @Override
        public String remoteAddress() {
            return "test";
        }

        void close() {
            session.onClosed();
        }
    }
}
