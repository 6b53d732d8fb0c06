package io.parley.push.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import org.h2.mvstore.Cursor;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.type.LongDataType;
import org.h2.mvstore.type.StringDataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Push tokens (one per user and device) and conversation mutes (per user), in one H2 MVStore file,
 * {@code <dir>/}{@value #FILE_NAME}.
 *
 * <p><b>Writes</b> are queued (bounded; a full queue refuses with retryable {@code UNAVAILABLE}) and applied by one
 * writer thread, which commits each batch once; the returned stage completes after the commit, so an answered
 * command survives a process crash (the file is not forced to disk: an OS crash may lose the last second).
 * <b>Reads</b> are lock-free map lookups on the caller's thread and see every applied write.
 *
 * <p>Keys: {@code tokens} maps {@code user/device} to {@code platform token} and {@code owners} the reverse, so a
 * token registered again by another user or device (a shared phone after a log-out) moves there instead of
 * notifying both; {@code mutes} maps {@code user/conversation} to the epoch millisecond the mute ends. User and device
 * ids never contain {@code /} and platforms never contain a space ({@code Ids}, {@link PushCommands}). Expired mutes
 * are ignored by readers and removed when the store opens.
 *
 * <p>A failed commit (a full disk…) fails its batch as retryable {@code UNAVAILABLE}; the writer reopens the file
 * (MVStore closes it after a failed write) before the next batch. Lifecycle: {@link #open} starts the writer,
 * {@link #close} lets it finish what is queued, joins it and closes the file. Thread-safe.
 */
public final class TokenStore implements AutoCloseable {

    public static final String FILE_NAME = "push.mv.db";
    private static final String FORMAT = "1";
    private static final Logger LOG = LoggerFactory.getLogger(TokenStore.class);
    private static final int MAX_BATCH = 256;
    private static final char SEP = '/';

    /** A device's registered token. */
    public record DeviceToken(String deviceId, String platform, String token) {
    }

    private record Db(MVStore mv, MVMap<String, String> tokens, MVMap<String, String> owners,
                      MVMap<String, Long> mutes) {

        static Db open(Path file) {
            MVStore mv = new MVStore.Builder().fileName(file.toString()).autoCommitDisabled().open();
            try {
                MVMap<String, String> meta = mv.openMap("push.meta", strings());
                String format = meta.putIfAbsent("format", FORMAT);
                if (format != null && !FORMAT.equals(format)) {
                    throw new IllegalStateException(file + " has format " + format + ", this bundle reads " + FORMAT);
                }
                Db db = new Db(mv, mv.openMap("tokens", strings()), mv.openMap("owners", strings()),
                        mv.openMap("mutes", new MVMap.Builder<String, Long>()
                                .keyType(StringDataType.INSTANCE).valueType(LongDataType.INSTANCE)));
                mv.commit();
                return db;
            } catch (RuntimeException | Error e) {
                mv.closeImmediately();
                throw e;
            }
        }

        private static MVMap.Builder<String, String> strings() {
            return new MVMap.Builder<String, String>().keyType(StringDataType.INSTANCE)
                    .valueType(StringDataType.INSTANCE);
        }
    }

    /** One queued write: applied by the writer, completed after its batch's commit. */
    private static final class Op<T> {
        final Function<Db, T> action;
        final CompletableFuture<T> result = new CompletableFuture<>();
        T value;
        RuntimeException error;

        Op(Function<Db, T> action) {
            this.action = action;
        }

        void apply(Db db) {
            try {
                value = action.apply(db);
            } catch (RuntimeException e) {
                error = e;
            }
        }

        void finish() {
            if (error != null) {
                result.completeExceptionally(error);
            } else {
                result.complete(value);
            }
        }
    }

    private final Path file;
    private final BlockingQueue<Op<?>> queue;
    private final Thread writer;
    private final LongSupplier clock;
    private volatile Db db;
    private volatile boolean closed;

    private TokenStore(Path file, int queueMax, LongSupplier clock, Db db) {
        this.file = file;
        this.queue = new ArrayBlockingQueue<>(queueMax);
        this.clock = clock;
        this.db = db;
        this.writer = new Thread(this::writeLoop, "parley-push-store-writer");
        this.writer.setDaemon(true);
        // no context class loader: the thread must not pin whatever the activating thread had
        this.writer.setContextClassLoader(null);
    }

    /**
     * Opens (creating it if needed) the store in {@code dir} and starts its writer.
     *
     * @param queueMax writes that may wait for the writer
     * @param clock    wall clock in epoch milliseconds (mute expiry)
     * @throws UncheckedIOException if the directory cannot be created
     * @throws org.h2.mvstore.MVStoreException if the file cannot be opened (e.g. another process has it open)
     */
    public static TokenStore open(Path dir, int queueMax, LongSupplier clock) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create push store directory " + dir, e);
        }
        Path file = dir.resolve(FILE_NAME);
        TokenStore store = new TokenStore(file, Math.max(1, queueMax), clock, Db.open(file));
        store.pruneExpiredMutes(); // before the writer starts: it is the only writer until then
        store.writer.start();
        LOG.info("Push store opened: {} ({} tokens, {} mutes)", file, store.db.tokens.size(), store.db.mutes.size());
        return store;
    }

    public Path file() {
        return file;
    }

    // ------------------------------------------------------------------------------------------------ writes

    /** Stores {@code user}'s token for {@code device}, replacing the device's previous one and any other owner's. */
    public CompletionStage<Void> register(String user, String device, String platform, String token) {
        String key = user + SEP + device;
        String value = platform + ' ' + token;
        return submit(d -> {
            String previous = d.tokens.put(key, value);
            if (previous != null && !previous.equals(value)) {
                d.owners.remove(previous, key);
            }
            String previousOwner = d.owners.put(value, key);
            if (previousOwner != null && !previousOwner.equals(key)) {
                d.tokens.remove(previousOwner, value);
            }
            return null;
        });
    }

    /** Forgets {@code device}'s token; completes with whether there was one. */
    public CompletionStage<Boolean> unregister(String user, String device) {
        String key = user + SEP + device;
        return submit(d -> {
            String previous = d.tokens.remove(key);
            if (previous != null) {
                d.owners.remove(previous, key);
            }
            return previous != null;
        });
    }

    /** Forgets {@code device}'s token only if it still is {@code token} (the provider called it invalid). */
    public CompletionStage<Boolean> removeIfToken(String user, String device, String platform, String token) {
        String key = user + SEP + device;
        String value = platform + ' ' + token;
        return submit(d -> {
            boolean removed = d.tokens.remove(key, value);
            if (removed) {
                d.owners.remove(value, key);
            }
            return removed;
        });
    }

    /** Mutes {@code conversation} for {@code user} until {@code until} (epoch ms); 0 unmutes. */
    public CompletionStage<Void> mute(String user, String conversation, long until) {
        String key = user + SEP + conversation;
        return submit(d -> {
            if (until == 0) {
                d.mutes.remove(key);
            } else {
                d.mutes.put(key, until);
            }
            return null;
        });
    }

    private <T> CompletionStage<T> submit(Function<Db, T> action) {
        if (closed) {
            return CompletableFuture.failedFuture(unavailable("the push store is closed"));
        }
        Op<T> op = new Op<>(action);
        if (!queue.offer(op)) {
            return CompletableFuture.failedFuture(unavailable("the push store is busy"));
        }
        return op.result;
    }

    private static ParleyException unavailable(String reason) {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, reason, true);
    }

    // ------------------------------------------------------------------------------------------------ reads

    /** @return {@code user}'s devices with a token, by device id */
    public List<DeviceToken> tokens(String user) {
        String prefix = user + SEP;
        List<DeviceToken> found = new ArrayList<>(2);
        Cursor<String, String> cursor = db.tokens.cursor(prefix);
        while (cursor.hasNext()) {
            String key = cursor.next();
            if (!key.startsWith(prefix)) {
                break;
            }
            String value = cursor.getValue();
            int space = value.indexOf(' ');
            found.add(new DeviceToken(key.substring(prefix.length()), value.substring(0, space),
                    value.substring(space + 1)));
        }
        return found;
    }

    /** @return whether {@code user} muted {@code conversation} and the mute has not ended at {@code now} */
    public boolean muted(String user, String conversation, long now) {
        Long until = db.mutes.get(user + SEP + conversation);
        return until != null && until > now;
    }

    // ------------------------------------------------------------------------------------------------ writer

    private void writeLoop() {
        List<Op<?>> batch = new ArrayList<>(MAX_BATCH);
        while (true) {
            Op<?> first;
            try {
                first = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                // nobody interrupts this thread on purpose: an interrupt would close the MVStore file channel
                LOG.warn("Ignoring an interrupt of the push store writer");
                continue;
            }
            if (first == null) {
                if (closed) {
                    return;
                }
                continue;
            }
            batch.add(first);
            queue.drainTo(batch, MAX_BATCH - 1);
            writeBatch(batch);
            batch.clear();
        }
    }

    private void writeBatch(List<Op<?>> batch) {
        Db d = writableDb();
        if (d == null) {
            batch.forEach(op -> op.result.completeExceptionally(unavailable("the push store cannot write")));
            return;
        }
        for (Op<?> op : batch) {
            op.apply(d);
        }
        try {
            d.mv.commit();
        } catch (RuntimeException e) {
            LOG.warn("Push store commit failed ({}): {} writes refused, reopening {}", e.getMessage(), batch.size(), file);
            batch.forEach(op -> op.result.completeExceptionally(unavailable("the push store cannot write")));
            d.mv.closeImmediately();
            return;
        }
        batch.forEach(Op::finish);
    }

    /** Writer only: the open file, reopened if a failed write closed it; null if that fails too. */
    private Db writableDb() {
        Db d = db;
        if (!d.mv.isClosed()) {
            return d;
        }
        try {
            db = Db.open(file);
            LOG.info("Push store reopened: {}", file);
            return db;
        } catch (RuntimeException e) {
            LOG.warn("Push store cannot reopen {}: {}", file, e.getMessage());
            return null;
        }
    }

    private void pruneExpiredMutes() {
        try {
            Db d = db;
            long now = clock.getAsLong();
            List<String> expired = new ArrayList<>();
            Cursor<String, Long> cursor = d.mutes.cursor(null);
            while (cursor.hasNext()) {
                String key = cursor.next();
                if (cursor.getValue() <= now) {
                    expired.add(key);
                }
            }
            if (!expired.isEmpty()) {
                expired.forEach(d.mutes::remove);
                d.mv.commit();
                LOG.debug("Push store: {} expired mutes removed", expired.size());
            }
        } catch (RuntimeException e) {
            LOG.warn("Push store: pruning expired mutes failed: {}", e.toString());
        }
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /** Refuses new writes, completes every queued one, stops the writer and closes the file. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        boolean interrupted = false;
        while (writer.isAlive()) {
            try {
                writer.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        // a write that raced with close() and was queued after the writer's last look
        for (Op<?> op; (op = queue.poll()) != null; ) {
            op.result.completeExceptionally(unavailable("the push store is closed"));
        }
        Db d = db;
        if (!d.mv.isClosed()) {
            try {
                d.mv.close();
            } catch (RuntimeException e) {
                LOG.warn("Push store {} did not close cleanly: {}", file, e.toString());
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        LOG.info("Push store closed: {}", file);
    }
}
