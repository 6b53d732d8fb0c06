package io.parley.type.sticker;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.sticker.proto.Sticker;
import io.parley.type.sticker.proto.StickerCatalog;
import io.parley.type.sticker.proto.StickerInfo;
import io.parley.type.sticker.proto.StickerPack;
import io.parley.type.sticker.proto.StickerPackPut;
import io.parley.type.sticker.proto.StickerPut;
import io.parley.type.support.BlobLinks;
import io.parley.type.support.BlobListing;
import io.parley.type.support.BlobWorkers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileAlreadyExistsException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The sticker packs: kept in the blob store, one manifest blob per version ({@code s/<pack>/m/<version>}, the
 * serialized {@link StickerPack}; the highest version is the pack) and one content-addressed blob per image
 * ({@code s/<pack>/<sticker>/<sha256>}, never overwritten nor deleted, so messages already sent keep their image);
 * served from an immutable in-memory {@link Snapshot} of every pack's latest version.
 *
 * <p>Threading: thread-safe. {@link #accept} (the send path) only reads the snapshot and returns at once. The
 * commands return at once and do their blob I/O and image decoding on {@code io} (the bundle's workers).
 * {@link #refresh} blocks on the store: call it from the bundle's refresh thread. The snapshot is replaced
 * copy-on-write: a pack's entry only ever moves to a higher version, so a put, a withdraw and a refresh racing each
 * other never lose one another's result. Settings and the store may change at any time (each call uses the ones it
 * started with).
 */
final class StickerPacks {

    private static final Logger LOG = LoggerFactory.getLogger(StickerPacks.class);
    static final String MANIFEST_TYPE = "application/x-protobuf";
    private static final int MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
    /** Manifest puts that lost a race with another put of the same pack (another node) before giving up. */
    static final int MAX_ATTEMPTS = 5;

    /** A pack's latest version, with its stickers by id. */
    record Entry(StickerPack pack, Map<String, StickerInfo> stickers) {
        static Entry of(StickerPack pack) {
            Map<String, StickerInfo> byId = new HashMap<>();
            pack.getStickersList().forEach(s -> byId.put(s.getId(), s));
            return new Entry(pack, Map.copyOf(byId));
        }
    }

    /**
     * Every pack's latest version known here, withdrawn ones included. Immutable.
     *
     * @param loaded false until the store has been read once: until then nothing can be said about a sticker
     */
    record Snapshot(boolean loaded, Map<String, Entry> packs) {
        static final Snapshot EMPTY = new Snapshot(false, Map.of());

        /** @return this with {@code pack} unless a version at least as high is already here */
        Snapshot with(StickerPack pack, boolean nowLoaded) {
            Entry have = packs.get(pack.getId());
            if (have != null && have.pack().getVersion() >= pack.getVersion()) {
                return nowLoaded == loaded ? this : new Snapshot(nowLoaded, packs);
            }
            Map<String, Entry> next = new HashMap<>(packs);
            next.put(pack.getId(), Entry.of(pack));
            return new Snapshot(nowLoaded, Map.copyOf(next));
        }
    }

    private final Supplier<StickerSettings> settings;
    private final Supplier<Optional<BlobStore>> store;
    private final BlobWorkers workers;
    private final Clock clock;
    private final AtomicReference<Snapshot> snapshot = new AtomicReference<>(Snapshot.EMPTY);

    StickerPacks(Supplier<StickerSettings> settings, Supplier<Optional<BlobStore>> store, Executor io, Clock clock) {
        this.settings = settings;
        this.store = store;
        this.workers = new BlobWorkers(store, io, LOG, "too many sticker operations in progress");
        this.clock = clock;
    }

    Snapshot snapshot() {
        return snapshot.get();
    }

    // ---- the processor: the snapshot only -------------------------------------------------------------------------

    /**
     * Accepts a sticker message naming a sticker of a pack that is offered now, with the server's name, image and
     * dimensions in place of whatever the client sent.
     *
     * @throws ParleyException retryable {@code UNAVAILABLE} before the packs were first read from the store
     */
    ProcessResult accept(Message draft) {
        Sticker body;
        try {
            body = draft.getBody().unpack(Sticker.class);
        } catch (InvalidProtocolBufferException e) {
            return invalid("the body is not a parley.sticker.v1.Sticker");
        }
        if (body.getPack().isEmpty() || body.getSticker().isEmpty()) {
            return invalid("a sticker message names a pack and a sticker");
        }
        Snapshot now = snapshot.get();
        if (!now.loaded()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the sticker packs are not loaded yet", true);
        }
        Entry entry = now.packs().get(body.getPack());
        if (entry != null && entry.pack().getWithdrawn()) {
            return invalid("sticker pack \"" + body.getPack() + "\" was withdrawn");
        }
        StickerInfo info = entry == null ? null : entry.stickers().get(body.getSticker());
        if (info == null) {
            return invalid("no sticker \"" + body.getSticker() + "\" in pack \"" + body.getPack() + "\"");
        }
        Sticker stored = Sticker.newBuilder().setPack(body.getPack()).setSticker(info.getId()).setName(info.getName())
                .setImageKey(info.getImageKey()).setContentType(info.getContentType()).setWidth(info.getWidth())
                .setHeight(info.getHeight()).build();
        return ProcessResult.store(draft.toBuilder().setBody(Any.pack(stored)).build(), "[sticker: " + info.getName() + "]");
    }

    // ---- sticker.list ---------------------------------------------------------------------------------------------

    /** @return the packs offered now (by id), each image with a download URL for {@code user} */
    CompletionStage<StickerCatalog> list(String user) {
        StickerSettings s = settings.get();
        return workers.onStore(blobs -> {
            Snapshot now = snapshot.get();
            if (!now.loaded()) {
                throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the sticker packs are not loaded yet", true);
            }
            Instant expires = clock.instant().plus(s.catalogUrlTtl()).truncatedTo(ChronoUnit.SECONDS);
            BlobLinks links = s.links();
            String ticketUser = ticketUser(user);
            StickerCatalog.Builder catalog = StickerCatalog.newBuilder().setExpiresAt(expires.toEpochMilli());
            new TreeMap<>(now.packs()).values().stream().map(Entry::pack).filter(p -> !p.getWithdrawn())
                    .forEach(pack -> {
                        StickerPack.Builder listed = pack.toBuilder();
                        for (StickerInfo.Builder sticker : listed.getStickersBuilderList()) {
                            sticker.setUrl(links.downloadUrl(blobs, sticker.getImageKey(), sticker.getSize(),
                                    sticker.getContentType(), ticketUser, s.catalogUrlTtl(), expires));
                        }
                        catalog.addPacks(listed);
                    });
            return catalog.build();
        });
    }

    /** Tickets name a user of {@code [A-Za-z0-9._@-]{1,64}}; a caller named otherwise gets one for "stickers". */
    private static String ticketUser(String user) {
        return user != null && user.matches("[A-Za-z0-9._@-]{1,64}") ? user : "stickers";
    }

    // ---- sticker.pack.put -----------------------------------------------------------------------------------------

    /** An image of the request, checked: what its {@link StickerInfo} says, and its bytes. */
    private record Image(StickerInfo info, byte[] bytes) {
    }

    /**
     * Creates the pack or replaces it with the next version: checks every image (header before decoding), stores
     * the new ones content-addressed (an image already stored is not stored again), then writes the manifest of the
     * next version — retried with the version after if another put of the pack won the race. A put that changes
     * nothing answers the current version and writes nothing.
     */
    CompletionStage<StickerPack> put(StickerPackPut request) {
        StickerSettings s = settings.get();
        String problem = StickerRules.checkPut(request, s.imageMaxBytes());
        if (problem != null) {
            return failed(ErrorCode.ERROR_CODE_INVALID_REQUEST, problem);
        }
        return workers.onStore(blobs -> {
            String pack = request.getId();
            Map<String, Image> images = checkImages(request, new StickerImages(s.imageMaxSide()));
            for (Image image : images.values()) {
                storeImage(blobs, image);
            }
            for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                Latest current = latest(blobs, pack);
                StickerPack next = next(request, images, current);
                if (current.pack().isPresent() && sameContent(current.pack().get(), next)) {
                    publish(current.pack().get());
                    return current.pack().get();
                }
                if (writeManifest(blobs, next)) {
                    publish(next);
                    LOG.info("Sticker pack {} version {}: {} stickers", pack, next.getVersion(), next.getStickersCount());
                    return next;
                }
            }
            throw conflict(pack);
        });
    }

    private static Map<String, Image> checkImages(StickerPackPut request, StickerImages checker) {
        Map<String, Image> images = new LinkedHashMap<>();
        for (StickerPut sticker : request.getStickersList()) {
            if (sticker.getImage().isEmpty()) {
                continue;
            }
            byte[] bytes = sticker.getImage().toByteArray();
            StickerImages.Checked checked;
            try {
                checked = checker.check(bytes, sticker.getContentType());
            } catch (StickerImages.ImageRefused e) {
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "sticker \"" + sticker.getId() + "\": " + e.getMessage());
            }
            String key = StickerRules.imageKey(request.getId(), sticker.getId(), sha256(bytes));
            images.put(sticker.getId(), new Image(StickerInfo.newBuilder().setId(sticker.getId())
                    .setContentType(checked.contentType()).setWidth(checked.width()).setHeight(checked.height())
                    .setImageKey(key).setSize(bytes.length).build(), bytes));
        }
        return images;
    }

    /** Stores an image under its content address unless it is there already (stat first: no second copy). */
    private static void storeImage(BlobStore blobs, Image image) throws IOException {
        String key = image.info().getImageKey();
        Optional<BlobStore.Info> stored = blobs.stat(key);
        if (stored.isEmpty()) {
            try {
                stored = Optional.of(blobs.put(key, new ByteArrayInputStream(image.bytes()), image.bytes().length,
                        image.info().getContentType()));
            } catch (FileAlreadyExistsException raced) {
                stored = blobs.stat(key); // the same bytes, put by a racing put
            }
        }
        if (stored.isEmpty() || stored.get().size() != image.bytes().length
                || !key.endsWith("/" + stored.get().sha256())) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INTERNAL, "the blob store holds other bytes under " + key);
        }
    }

    /** @return the next version: the request's stickers, new images from {@code images}, kept ones from the current */
    private static StickerPack next(StickerPackPut request, Map<String, Image> images, Latest current) {
        Map<String, StickerInfo> have = new HashMap<>();
        current.pack().ifPresent(p -> p.getStickersList().forEach(s -> have.put(s.getId(), s)));
        StickerPack.Builder next = StickerPack.newBuilder().setId(request.getId()).setName(request.getName())
                .setVersion(current.highestVersion() + 1);
        for (StickerPut sticker : request.getStickersList()) {
            Image image = images.get(sticker.getId());
            StickerInfo base;
            if (image != null) {
                base = image.info();
            } else {
                base = have.get(sticker.getId());
                if (base == null) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "sticker \"" + sticker.getId()
                            + "\" has no image: only a sticker the pack already has may keep its image");
                }
                if (!sticker.getContentType().isEmpty() && !sticker.getContentType().equals(base.getContentType())) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "sticker \"" + sticker.getId()
                            + "\": content_type " + sticker.getContentType() + " is not that of its current image ("
                            + base.getContentType() + "); send the image");
                }
            }
            next.addStickers(base.toBuilder().setName(sticker.getName()).clearUrl());
        }
        return next.build();
    }

    private static boolean sameContent(StickerPack current, StickerPack next) {
        return !current.getWithdrawn() && current.toBuilder().setVersion(next.getVersion()).build().equals(next);
    }

    // ---- sticker.pack.withdraw ------------------------------------------------------------------------------------

    /** Writes a withdrawn version of the pack; a pack already withdrawn is answered as it is. */
    CompletionStage<StickerPack> withdraw(String pack) {
        if (!StickerRules.validId(pack)) {
            return failed(ErrorCode.ERROR_CODE_INVALID_REQUEST, "the pack id must be 1-64 characters of [a-z0-9_-]: \""
                    + pack + "\"");
        }
        return workers.onStore(blobs -> {
            for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                Latest current = latest(blobs, pack);
                StickerPack was = current.pack().orElseThrow(() -> new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND,
                        "no sticker pack \"" + pack + "\""));
                if (was.getWithdrawn()) {
                    publish(was);
                    return was;
                }
                StickerPack next = was.toBuilder().setVersion(current.highestVersion() + 1).setWithdrawn(true).build();
                if (writeManifest(blobs, next)) {
                    publish(next);
                    LOG.info("Sticker pack {} withdrawn (version {})", pack, next.getVersion());
                    return next;
                }
            }
            throw conflict(pack);
        });
    }

    // ---- persistence ----------------------------------------------------------------------------------------------

    /**
     * A pack as the store has it.
     *
     * @param pack           its latest readable version, or empty if it has none
     * @param highestVersion the highest version a manifest exists for (0: none); the next version is one more
     */
    record Latest(Optional<StickerPack> pack, long highestVersion) {
    }

    /** Reads the pack's manifests from the store: the highest readable version, and the highest version taken. */
    static Latest latest(BlobStore blobs, String pack) throws IOException {
        List<Long> versions = new ArrayList<>();
        for (BlobStore.Info info : BlobListing.listAll(blobs, StickerRules.manifestPrefix(pack))) {
            StickerRules.ManifestKey m = StickerRules.parseManifestKey(info.key());
            if (m != null && m.pack().equals(pack)) {
                versions.add(m.version());
            }
        }
        versions.sort(Comparator.reverseOrder());
        for (long version : versions) {
            Optional<StickerPack> read = readManifest(blobs, pack, version);
            if (read.isPresent()) {
                return new Latest(read, versions.get(0));
            }
        }
        return new Latest(Optional.empty(), versions.isEmpty() ? 0 : versions.get(0));
    }

    /** @return the manifest of a version, or empty (logged) if it is gone or does not read as that version */
    private static Optional<StickerPack> readManifest(BlobStore blobs, String pack, long version) throws IOException {
        String key = StickerRules.manifestKey(pack, version);
        Optional<InputStream> in = blobs.open(key, 0);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        byte[] bytes;
        try (InputStream manifest = in.get()) {
            bytes = manifest.readNBytes(MAX_MANIFEST_BYTES + 1);
        }
        try {
            if (bytes.length > MAX_MANIFEST_BYTES) {
                throw new InvalidProtocolBufferException("over " + MAX_MANIFEST_BYTES + " bytes");
            }
            StickerPack read = StickerPack.parseFrom(bytes);
            if (read.getId().equals(pack) && read.getVersion() == version) {
                return Optional.of(read);
            }
            LOG.warn("Sticker manifest {} names pack {} version {}; skipped", key, read.getId(), read.getVersion());
        } catch (InvalidProtocolBufferException e) {
            LOG.warn("Sticker manifest {} cannot be read; skipped: {}", key, e.getMessage());
        }
        return Optional.empty();
    }

    /** @return true if written, false if the version exists already (another put won) */
    private static boolean writeManifest(BlobStore blobs, StickerPack pack) throws IOException {
        byte[] bytes = pack.toByteArray();
        try {
            blobs.put(StickerRules.manifestKey(pack.getId(), pack.getVersion()), new ByteArrayInputStream(bytes),
                    bytes.length, MANIFEST_TYPE);
            return true;
        } catch (FileAlreadyExistsException lost) {
            return false;
        }
    }

    private void publish(StickerPack pack) {
        snapshot.updateAndGet(s -> s.with(pack, s.loaded()));
    }

    /**
     * Reads every pack's latest version from the current store into the snapshot (only packs whose versions moved
     * are read again), and marks the snapshot loaded. Blocks on the store: call it from the refresh thread.
     *
     * @return false if there is no store to read
     */
    boolean refresh() throws IOException {
        Optional<BlobStore> current = store.get();
        if (current.isEmpty()) {
            return false;
        }
        BlobStore blobs = current.get();
        Map<String, List<Long>> versions = new HashMap<>();
        for (BlobStore.Info info : BlobListing.listAll(blobs, StickerRules.allPrefix())) {
            StickerRules.ManifestKey m = StickerRules.parseManifestKey(info.key());
            if (m != null) {
                versions.computeIfAbsent(m.pack(), p -> new ArrayList<>()).add(m.version());
            }
        }
        Snapshot before = snapshot.get();
        List<StickerPack> read = new ArrayList<>();
        for (Map.Entry<String, List<Long>> pack : versions.entrySet()) {
            List<Long> desc = pack.getValue();
            desc.sort(Comparator.reverseOrder());
            Entry have = before.packs().get(pack.getKey());
            for (long version : desc) {
                if (have != null && have.pack().getVersion() >= version) {
                    break; // nothing newer
                }
                Optional<StickerPack> manifest = readManifest(blobs, pack.getKey(), version);
                if (manifest.isPresent()) {
                    read.add(manifest.get());
                    break;
                }
            }
        }
        snapshot.updateAndGet(s -> {
            Snapshot next = s;
            for (StickerPack pack : read) {
                next = next.with(pack, true);
            }
            return next.loaded() ? next : new Snapshot(true, next.packs());
        });
        if (!before.loaded()) {
            LOG.info("Sticker packs loaded: {}", snapshot.get().packs().size());
        } else if (!read.isEmpty()) {
            LOG.debug("Sticker packs refreshed: {} changed", read.size());
        }
        return true;
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    private static ParleyException conflict(String pack) {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "sticker pack \"" + pack + "\" was changed "
                + MAX_ATTEMPTS + " times by others while this change was written; try again", true);
    }

    private static ProcessResult invalid(String reason) {
        return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, reason);
    }

    private static <T> CompletionStage<T> failed(ErrorCode code, String message) {
        return CompletableFuture.failedFuture(new ParleyException(code, message));
    }
}
