package io.parley.type.support.testing;

import com.google.protobuf.Any;
import io.parley.blob.fs.FsBlobStore;
import io.parley.command.recall.RecallHandler;
import io.parley.command.recall.RecallRules;
import io.parley.command.recall.proto.Recall;
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
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.type.support.BlobKeys;
import io.parley.type.support.ObjectClaims;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
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
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The voice and video types' end-to-end tests' world: the real engine ({@link InProcessCore}, memory store, any token
 * is its user id), the real recall command and the real filesystem blob store under a directory. {@link #upload}
 * leaves a blob store as a file ticket plus a completed upload do (the object under a fresh key of the user, and its
 * pending marker); the file type and the HTTP transport that really do it are tested in their own modules and in the
 * distribution tests. Close it after use.
 */
public final class MediaHarness implements AutoCloseable {

    /** An object as uploaded. */
    public record Uploaded(String key, long size, String contentType, String sha256) {
    }

    private final FsBlobStore blobs;
    private final ExecutorService io = Executors.newFixedThreadPool(2);
    private final BlobKeys keys = new BlobKeys();
    private final List<Device> devices = new ArrayList<>();
    private InProcessCore core;

    public MediaHarness(Path dir) throws IOException {
        blobs = new FsBlobStore(dir.resolve("blobs"));
    }

    public BlobStore blobs() {
        return blobs;
    }

    /** @return the store as a bundle's binding supplies it */
    public java.util.function.Supplier<Optional<BlobStore>> store() {
        return () -> Optional.of(blobs);
    }

    /** @return two workers, stopped on {@link #close} */
    public ExecutorService io() {
        return io;
    }

    /** Starts the engine with {@code processors} (by type) and the recall command (2-minute window). */
    public MediaHarness start(Map<String, MessageProcessor> processors) {
        core = InProcessCore.start(new MemoryMessageStore(), Map.of())
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(3600)))
                .command(RecallRules.COMMAND_TYPE, new RecallHandler(new RecallRules(Duration.ofMinutes(2))));
        processors.forEach(core::processor);
        return this;
    }

    /** @return a device of {@code user}, connected and resumed */
    public Device device(String user) throws InterruptedException {
        Device d = new Device(core, user, "phone");
        devices.add(d);
        return d.resume();
    }

    /** Stores {@code bytes} as {@code user}'s completed upload of {@code contentType} with an open ticket. */
    public Uploaded upload(String user, byte[] bytes, String contentType) throws IOException {
        String key = keys.newKey(user, System.currentTimeMillis());
        blobs.put(BlobKeys.pending(key, bytes.length), InputStream.nullInputStream(), 0, ObjectClaims.PENDING_TYPE);
        blobs.put(key, new ByteArrayInputStream(bytes), bytes.length, contentType);
        return new Uploaded(key, bytes.length, contentType, sha256(bytes));
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** @return the bytes of {@code src/test/resources/media/<name>} of the support module (its test jar) */
    public static byte[] fixture(String name) {
        try (InputStream in = MediaHarness.class.getResourceAsStream("/media/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no media fixture " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void assertRefused(Frame f, ErrorCode code, String reasonPart) {
        assertTrue(f.hasError(), f.toString());
        assertEquals(code, f.getError().getCode(), f.toString());
        assertTrue(f.getError().getMessage().contains(reasonPart), f.getError().getMessage());
    }

    /** Waits up to 10 s for {@code check}. */
    public static void awaitTrue(java.util.concurrent.Callable<Boolean> check, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!check.call()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() throws Exception {
        devices.forEach(Device::close);
        if (core != null) {
            core.close();
        }
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
        blobs.close();
    }

    /** A device on a real core session; frames it receives are queued. */
    public static final class Device implements Connection {
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
            long rid = post(Frame.newBuilder().setSync(SyncRequest.newBuilder()
                    .setResume(SyncRequest.Resume.newBuilder())));
            await(f -> f.getRequestId() == rid && f.hasSyncResponse() && f.getSyncResponse().getDone());
            return this;
        }

        /** Sends {@code body} as a {@code type} message to user {@code peer}; returns the ack or the error. */
        public Frame send(String clientMsgId, String peer, String type, com.google.protobuf.Message body)
                throws InterruptedException {
            return request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setPeer(peer)
                    .setType(type).setBody(Any.pack(body))));
        }

        public Frame command(String type, Any payload) throws InterruptedException {
            return request(Frame.newBuilder().setCommand(Command.newBuilder().setType(type).setPayload(payload)));
        }

        public Frame recall(String conversation, long seq) throws InterruptedException {
            return command(RecallRules.COMMAND_TYPE, Any.pack(Recall.newBuilder().setConversation(conversation)
                    .setSeq(seq).build()));
        }

        public Message awaitMessage(String conversation, long seq) throws InterruptedException {
            Predicate<Message> match = m -> m.getConversation().equals(conversation) && m.getSeq() == seq;
            for (Message m : received) {
                if (match.test(m)) {
                    return m;
                }
            }
            Frame f = await(fr -> fr.hasDeliver() && fr.getDeliver().getMessagesList().stream().anyMatch(match));
            return f.getDeliver().getMessagesList().stream().filter(match).findFirst().orElseThrow();
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
