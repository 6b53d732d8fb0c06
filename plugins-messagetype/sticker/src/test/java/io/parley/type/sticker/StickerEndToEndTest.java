package io.parley.type.sticker;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.blob.fs.FsBlobStore;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Command;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.blob.BlobTicket;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.type.sticker.proto.Sticker;
import io.parley.type.sticker.proto.StickerCatalog;
import io.parley.type.sticker.proto.StickerInfo;
import io.parley.type.sticker.proto.StickerListRequest;
import io.parley.type.sticker.proto.StickerPack;
import io.parley.type.sticker.proto.StickerPackPut;
import io.parley.type.sticker.proto.StickerPackWithdraw;
import io.parley.type.sticker.proto.StickerPut;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Sticker packs on the real engine ({@link InProcessCore}, memory store) with the real filesystem blob store: packs
 * are managed by a trusted session (what the HTTP admin API opens with {@code Receiver.openAuthenticated}), listed and
 * sent by devices.
 */
class StickerEndToEndTest {
    static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);
    static final String CDN = "https://cdn.example.com/";

    @TempDir
    Path dir;
    final Clock clock = Clock.fixed(Instant.parse("2026-03-01T10:00:00.250Z"), ZoneOffset.UTC);
    final AtomicReference<BlobStore> blobStore = new AtomicReference<>();
    final AtomicReference<StickerSettings> settings = new AtomicReference<>();
    FsBlobStore fs;
    ExecutorService io;
    StickerPacks packs;
    InProcessCore core;
    final List<Client> clients = new ArrayList<>();
    byte[] hello;
    byte[] bye;

    @BeforeEach
    void start() throws Exception {
        fs = new FsBlobStore(dir.resolve("blobs"));
        blobStore.set(fs);
        settings.set(settings(524_288));
        io = Executors.newFixedThreadPool(2);
        packs = node(blobStore::get);
        assertTrue(packs.refresh());
        StickerCommands commands = new StickerCommands(packs);
        core = InProcessCore.start(new MemoryMessageStore(), Map.of())
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(3600)))
                .processor(StickerTypes.STICKER, new StickerProcessor(packs))
                .command(StickerTypes.LIST, commands.listHandler())
                .command(StickerTypes.PUT, commands.putHandler())
                .command(StickerTypes.WITHDRAW, commands.withdrawHandler());
        hello = TestImages.image("png", 64, 64, 1);
        bye = TestImages.image("png", 32, 48, 2);
    }

    StickerPacks node(java.util.function.Supplier<BlobStore> store) {
        return new StickerPacks(settings::get, () -> Optional.ofNullable(store.get()), io, clock);
    }

    StickerSettings settings(int imageMaxBytes) {
        return new StickerSettings(URI.create("https://chat.example.com/"), SECRET, imageMaxBytes, 1024,
                Duration.ofDays(1), Duration.ofMinutes(1));
    }

    @AfterEach
    void stop() throws Exception {
        clients.forEach(Client::close);
        if (core != null) {
            core.close();
        }
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
        fs.close();
    }

    @Test
    void aPackPutByTheAdminApiIsListedWithDownloadTicketsAndItsStickersAreSentFilledInByTheServer() throws Exception {
        Client admin = admin();
        StickerPack put = pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello),
                png("bye", "Bye", bye)))));
        assertEquals("cats", put.getId());
        assertEquals(1, put.getVersion());
        assertFalse(put.getWithdrawn());
        StickerInfo first = put.getStickers(0);
        assertEquals(StickerInfo.newBuilder().setId("hello").setName("Hello").setContentType("image/png").setWidth(64)
                .setHeight(64).setImageKey("s/cats/hello/" + StickerPacks.sha256(hello)).setSize(hello.length).build(),
                first);
        assertEquals(List.of(32, 48), List.of(put.getStickers(1).getWidth(), put.getStickers(1).getHeight()));
        BlobStore.Info stored = fs.stat(first.getImageKey()).orElseThrow();
        assertEquals("image/png", stored.contentType());
        assertEquals(StickerPacks.sha256(hello), stored.sha256());
        assertEquals(put, StickerPack.parseFrom(read(StickerRules.manifestKey("cats", 1))), "the manifest is the pack");

        // a device lists the catalog: each url is <public.url>/blobs/<key> with a download ticket for the caller
        Client alice = device("alice").resume();
        Client bob = device("bob").resume();
        StickerCatalog catalog = alice.command(StickerTypes.LIST, Any.pack(StickerListRequest.getDefaultInstance()))
                .getCommandResult().getPayload().unpack(StickerCatalog.class);
        Instant expires = Instant.parse("2026-03-02T10:00:00Z");
        assertEquals(expires.toEpochMilli(), catalog.getExpiresAt());
        assertEquals(1, catalog.getPacksCount());
        assertEquals(2, catalog.getPacks(0).getStickersCount());
        for (StickerInfo sticker : catalog.getPacks(0).getStickersList()) {
            String prefix = "https://chat.example.com/blobs/" + sticker.getImageKey() + "?ticket=";
            assertTrue(sticker.getUrl().startsWith(prefix), sticker.getUrl());
            BlobTicket ticket = BlobTicket.verify(sticker.getUrl().substring(prefix.length()), SECRET, clock.instant());
            assertEquals(new BlobTicket(BlobTicket.Access.DOWNLOAD, sticker.getImageKey(), "alice", sticker.getSize(),
                    "image/png", expires), ticket);
        }
        Frame empty = alice.command(StickerTypes.LIST, Any.getDefaultInstance());
        assertTrue(empty.hasCommandResult(), "an empty payload lists too: " + empty);

        // a sticker message: the client names pack and sticker; the server replaces the rest
        Frame ack = send(alice, "s1", Sticker.newBuilder().setPack("cats").setSticker("hello").setName("forged")
                .setImageKey("f/alice/x").setWidth(4000).build());
        assertTrue(ack.hasSendAck(), ack.toString());
        Sticker received = bob.awaitMessage("d:alice:bob", ack.getSendAck().getSeq()).getBody().unpack(Sticker.class);
        assertEquals(Sticker.newBuilder().setPack("cats").setSticker("hello").setName("Hello")
                .setImageKey(first.getImageKey()).setContentType("image/png").setWidth(64).setHeight(64).build(),
                received);
        ProcessResult direct = new StickerProcessor(packs).process(null, draft("alice", "cats", "bye"))
                .toCompletableFuture().getNow(null);
        assertEquals("[sticker: Bye]", direct.preview(), "complete when process returns, with the preview");
        assertEquals(Optional.of(Sticker.getDescriptor()), new StickerProcessor(packs).bodyDescriptor());

        // the same put again changes nothing: no new version, no second copy of an image
        assertEquals(put, pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello),
                png("bye", "Bye", bye))))));
        assertEquals(3, fs.list("s/", "", 100).size(), "one manifest and two images");
    }

    @Test
    void removedStickersWithdrawnPacksAndUnknownStickersAreRefusedWhileSentMessagesKeepTheirImage() throws Exception {
        Client admin = admin();
        Client alice = device("alice").resume();
        Client bob = device("bob").resume();
        StickerPack v1 = pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello),
                png("bye", "Bye", bye)))));
        Frame sent = send(alice, "s1", Sticker.newBuilder().setPack("cats").setSticker("bye").build());
        String byeKey = bob.awaitMessage("d:alice:bob", sent.getSendAck().getSeq()).getBody().unpack(Sticker.class)
                .getImageKey();

        // version 2: "bye" removed, "hello" renamed keeping its image (no bytes sent), "wave" added
        byte[] wave = TestImages.image("gif", 20, 20, 3);
        StickerPack v2 = pack(admin.command(StickerTypes.PUT, Any.pack(cats(
                StickerPut.newBuilder().setId("hello").setName("Hi").build(),
                StickerPut.newBuilder().setId("wave").setName("Wave").setContentType("image/gif")
                        .setImage(ByteString.copyFrom(wave)).build()))));
        assertEquals(2, v2.getVersion());
        assertEquals(List.of("hello", "wave"), v2.getStickersList().stream().map(StickerInfo::getId).toList());
        assertEquals(v1.getStickers(0).getImageKey(), v2.getStickers(0).getImageKey());
        assertEquals("Hi", v2.getStickers(0).getName());

        assertRefused(send(alice, "s2", Sticker.newBuilder().setPack("cats").setSticker("bye").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "no sticker \"bye\" in pack \"cats\"");
        assertRefused(send(alice, "s3", Sticker.newBuilder().setPack("cats").setSticker("nope").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "no sticker \"nope\" in pack \"cats\"");
        assertRefused(send(alice, "s4", Sticker.newBuilder().setPack("dogs").setSticker("hello").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "no sticker \"hello\" in pack \"dogs\"");
        assertRefused(send(alice, "s5", Sticker.newBuilder().setPack("cats").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "names a pack and a sticker");
        assertRefused(send(alice, "s6", StickerPackWithdraw.newBuilder().setId("cats").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "not a parley.sticker.v1.Sticker");
        assertTrue(fs.stat(byeKey).isPresent(), "the image of a message already sent stays");
        Frame hi = send(alice, "s7", Sticker.newBuilder().setPack("cats").setSticker("hello").build());
        assertEquals("Hi", bob.awaitMessage("d:alice:bob", hi.getSendAck().getSeq()).getBody().unpack(Sticker.class)
                .getName());

        // withdrawn: gone from the catalog, refused in new messages; a second withdraw changes nothing
        StickerPack withdrawn = pack(admin.command(StickerTypes.WITHDRAW, Any.pack(withdraw("cats"))));
        assertEquals(v2.toBuilder().setVersion(3).setWithdrawn(true).build(), withdrawn);
        assertEquals(0, list(alice).getPacksCount());
        assertRefused(send(alice, "s8", Sticker.newBuilder().setPack("cats").setSticker("hello").build()),
                ErrorCode.ERROR_CODE_INVALID_BODY, "sticker pack \"cats\" was withdrawn");
        assertEquals(withdrawn, pack(admin.command(StickerTypes.WITHDRAW, Any.pack(withdraw("cats")))));
        assertRefused(admin.command(StickerTypes.WITHDRAW, Any.pack(withdraw("dogs"))), ErrorCode.ERROR_CODE_NOT_FOUND,
                "no sticker pack \"dogs\"");
        assertTrue(fs.stat(v2.getStickers(0).getImageKey()).isPresent(), "withdrawing deletes no image");

        // put again: offered again, as version 4
        StickerPack v4 = pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello)))));
        assertEquals(4, v4.getVersion());
        assertFalse(v4.getWithdrawn());
        assertEquals(List.of("cats"), list(alice).getPacksList().stream().map(StickerPack::getId).toList());
    }

    @Test
    void devicesMayListButNotManagePacks() throws Exception {
        Client alice = device("alice");
        assertRefused(alice.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello)))),
                ErrorCode.ERROR_CODE_FORBIDDEN, StickerCommands.ADMIN_ONLY);
        assertRefused(alice.command(StickerTypes.WITHDRAW, Any.pack(withdraw("cats"))),
                ErrorCode.ERROR_CODE_FORBIDDEN, StickerCommands.ADMIN_ONLY);
        assertEquals(List.of(), fs.list("s/", "", 10), "nothing was stored");
        assertRefused(alice.command(StickerTypes.LIST, Any.pack(withdraw("cats"))), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "StickerListRequest");
        Client admin = admin();
        assertRefused(admin.command(StickerTypes.PUT, Any.pack(withdraw("cats"))), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "StickerPackPut");
    }

    @Test
    void oversizedUnreadableAndImagelessStickersAreRefusedNamingTheStickerAndNothingIsStored() throws Exception {
        settings.set(settings(4096));
        Client admin = admin();
        byte[] small = TestImages.image("png", 8, 8, 1);
        byte[] noisy = TestImages.noisyPng(64, 64);
        assertTrue(noisy.length > 4096);
        assertRefused(admin.command(StickerTypes.PUT, Any.pack(cats(png("small", "Small", small),
                png("noisy", "Noisy", noisy)))), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "sticker \"noisy\": the image has " + noisy.length + " bytes; at most 4096");
        byte[] wide = TestImages.withDimensions(small, 5000, 64);
        assertRefused(admin.command(StickerTypes.PUT, Any.pack(cats(png("small", "Small", small),
                png("wide", "Wide", wide)))), ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "sticker \"wide\": the image is 5000x64 pixels; at most 1024 on a side");
        assertRefused(admin.command(StickerTypes.PUT, Any.pack(cats(png("small", "Small", small),
                png("junk", "Junk", "not an image at all".getBytes(StandardCharsets.UTF_8))))),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "sticker \"junk\": the image is not a PNG");
        assertRefused(admin.command(StickerTypes.PUT, Any.pack(cats(png("small", "Small", small),
                png("gif", "Gif", TestImages.image("gif", 8, 8, 1))))),
                ErrorCode.ERROR_CODE_INVALID_REQUEST, "sticker \"gif\": the image is image/gif, not image/png");
        assertRefused(admin.command(StickerTypes.PUT, Any.pack(cats(StickerPut.newBuilder().setId("new")
                .setName("New").build()))), ErrorCode.ERROR_CODE_INVALID_REQUEST, "sticker \"new\" has no image");
        assertEquals(List.of(), fs.list("s/", "", 10), "a refused put stores nothing");
    }

    @Test
    void packsPersistInTheStoreAndANodeSharingItSeesChangesAtItsNextRefresh() throws Exception {
        Client admin = admin();
        StickerPack v1 = pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello)))));
        StickerPacks other = node(blobStore::get);
        assertEquals(Map.of(), other.snapshot().packs());
        assertTrue(other.refresh());
        assertEquals(v1, other.snapshot().packs().get("cats").pack());

        StickerPack v2 = pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello),
                png("bye", "Bye", bye)))));
        assertRefused(new StickerProcessor(other).process(null, draft("alice", "cats", "bye")),
                "no sticker \"bye\"", "not seen before the other node refreshes");
        other.refresh();
        assertEquals(v2, other.snapshot().packs().get("cats").pack());
        ProcessResult accepted = new StickerProcessor(other).process(null, draft("alice", "cats", "bye"))
                .toCompletableFuture().getNow(null);
        assertFalse(accepted.isRejected());

        // a restart: a new store on the same directory, a new instance
        fs.close();
        fs = new FsBlobStore(dir.resolve("blobs"));
        blobStore.set(fs);
        StickerPacks restarted = node(blobStore::get);
        assertTrue(restarted.refresh());
        assertEquals(Map.of("cats", v2), Map.of("cats", restarted.snapshot().packs().get("cats").pack()));
    }

    @Test
    void aPutThatLosesTheVersionRaceToAnotherNodeIsWrittenAsTheNextVersion() throws Exception {
        AtomicBoolean raced = new AtomicBoolean();
        BlobStore racing = new Delegating(fs) {
            @Override
            public Info put(String key, InputStream content, long length, String contentType) throws IOException {
                StickerRules.ManifestKey m = StickerRules.parseManifestKey(key);
                if (m != null && raced.compareAndSet(false, true)) {
                    // another node writes this very version first
                    byte[] theirs = StickerPack.newBuilder().setId(m.pack()).setName("Theirs").setVersion(m.version())
                            .build().toByteArray();
                    fs.put(key, new java.io.ByteArrayInputStream(theirs), theirs.length, contentType);
                }
                return fs.put(key, content, length, contentType);
            }

            @Override
            public Optional<URI> downloadUrl(String key, Duration ttl) {
                return Optional.of(URI.create(CDN + key + "?ttl=" + ttl.toSeconds()));
            }
        };
        blobStore.set(racing);
        Client admin = admin();
        StickerPack ours = pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello)))));
        assertTrue(raced.get());
        assertEquals(2, ours.getVersion());
        assertEquals("Cats", ours.getName());
        assertEquals("Theirs", StickerPack.parseFrom(read(StickerRules.manifestKey("cats", 1))).getName());

        // a store with its own download URLs (e.g. S3 pre-signed) is used as it is
        StickerInfo listed = list(device("alice")).getPacks(0).getStickers(0);
        assertEquals(CDN + listed.getImageKey() + "?ttl=86400", listed.getUrl());
    }

    @Test
    void withoutABlobStoreCommandsAreRetryableUnavailableWhileSendsGoOnFromMemory() throws Exception {
        Client admin = admin();
        pack(admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello)))));
        blobStore.set(null);
        Client alice = device("alice").resume();
        for (Frame refused : List.of(list(alice, Any.pack(StickerListRequest.getDefaultInstance())),
                admin.command(StickerTypes.PUT, Any.pack(cats(png("hello", "Hello", hello)))),
                admin.command(StickerTypes.WITHDRAW, Any.pack(withdraw("cats"))))) {
            assertRefused(refused, ErrorCode.ERROR_CODE_UNAVAILABLE, "no blob store is running");
            assertTrue(refused.getError().getRetryable());
        }
        assertTrue(send(alice, "s1", Sticker.newBuilder().setPack("cats").setSticker("hello").build()).hasSendAck());

        // a node that never read its packs cannot tell a sticker from a typo: retryable, not INVALID_BODY
        StickerPacks cold = node(blobStore::get);
        assertFalse(cold.refresh());
        Throwable notLoaded = new StickerProcessor(cold).process(null, draft("alice", "cats", "hello"))
                .toCompletableFuture().handle((r, e) -> e).getNow(null);
        assertTrue(notLoaded instanceof io.parley.core.api.ParleyException pe
                && pe.code() == ErrorCode.ERROR_CODE_UNAVAILABLE && pe.retryable(), String.valueOf(notLoaded));
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    static StickerPackPut cats(StickerPut... stickers) {
        return StickerPackPut.newBuilder().setId("cats").setName("Cats").addAllStickers(List.of(stickers)).build();
    }

    static StickerPut png(String id, String name, byte[] image) {
        return StickerPut.newBuilder().setId(id).setName(name).setContentType("image/png")
                .setImage(ByteString.copyFrom(image)).build();
    }

    static StickerPackWithdraw withdraw(String id) {
        return StickerPackWithdraw.newBuilder().setId(id).build();
    }

    static StickerPack pack(Frame f) throws Exception {
        assertTrue(f.hasCommandResult(), f.toString());
        return f.getCommandResult().getPayload().unpack(StickerPack.class);
    }

    static StickerCatalog list(Client c) throws Exception {
        Frame f = list(c, Any.pack(StickerListRequest.getDefaultInstance()));
        assertTrue(f.hasCommandResult(), f.toString());
        return f.getCommandResult().getPayload().unpack(StickerCatalog.class);
    }

    static Frame list(Client c, Any payload) throws Exception {
        return c.command(StickerTypes.LIST, payload);
    }

    static Message draft(String sender, String pack, String sticker) {
        return Message.newBuilder().setSender(sender).setConversation("d:alice:bob").setType(StickerTypes.STICKER)
                .setClientMsgId("direct").setBody(Any.pack(Sticker.newBuilder().setPack(pack).setSticker(sticker)
                        .build())).build();
    }

    byte[] read(String key) throws IOException {
        try (InputStream in = fs.open(key, 0).orElseThrow()) {
            return in.readAllBytes();
        }
    }

    static Frame send(Client c, String clientMsgId, com.google.protobuf.Message body) throws Exception {
        return c.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setPeer(
                c.user.equals("alice") ? "bob" : "alice").setType(StickerTypes.STICKER).setBody(Any.pack(body))));
    }

    static void assertRefused(Frame f, ErrorCode code, String reasonPart) {
        assertTrue(f.hasError(), f.toString());
        assertEquals(code, f.getError().getCode(), f.toString());
        assertTrue(f.getError().getMessage().contains(reasonPart), f.getError().getMessage());
    }

    static void assertRefused(CompletionStage<ProcessResult> stage, String reasonPart, String why) {
        ProcessResult result = stage.toCompletableFuture().getNow(null);
        assertTrue(result.isRejected(), why);
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, result.code());
        assertTrue(result.reason().contains(reasonPart), result.reason());
    }

    Client device(String user) throws InterruptedException {
        Client c = new Client(core, user, null);
        clients.add(c);
        return c;
    }

    /** A trusted session, as the HTTP admin API opens one. */
    Client admin() throws InterruptedException {
        Client c = new Client(core, "admin", new Principal("admin", "http-api", Instant.now().plusSeconds(3600)));
        clients.add(c);
        return c;
    }

    /** A BlobStore passing every call to another. */
    static class Delegating implements BlobStore {
        final BlobStore to;

        Delegating(BlobStore to) {
            this.to = to;
        }

        @Override
        public Info put(String key, InputStream content, long length, String contentType) throws IOException {
            return to.put(key, content, length, contentType);
        }

        @Override
        public Optional<Info> stat(String key) throws IOException {
            return to.stat(key);
        }

        @Override
        public Optional<InputStream> open(String key, long offset) throws IOException {
            return to.open(key, offset);
        }

        @Override
        public boolean delete(String key) throws IOException {
            return to.delete(key);
        }

        @Override
        public List<Info> list(String prefix, String after, int limit) throws IOException {
            return to.list(prefix, after, limit);
        }
    }

    /** A session on the real core: a device (hello with its user as token) or a trusted one; frames are queued. */
    static final class Client implements Connection {
        private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        private final List<Message> received = new ArrayList<>();
        private final InboundSession session;
        final String user;
        private long nextRequestId = 1;

        Client(InProcessCore core, String user, Principal trusted) throws InterruptedException {
            this.user = user;
            if (trusted != null) {
                this.session = core.receiver().openAuthenticated(this, trusted);
                return;
            }
            this.session = core.receiver().open(this);
            Frame ok = request(Frame.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setToken(user)
                    .setDeviceId("phone")));
            assertTrue(ok.hasHelloOk(), ok.toString());
        }

        Client resume() throws InterruptedException {
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

        private Frame await(Predicate<Frame> until) throws InterruptedException {
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
        public CompletionStage<Void> sendFlushed(Frame frame) {
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
