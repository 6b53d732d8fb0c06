package io.parley.core.internal;

import com.google.inject.Guice;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Notice;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.testing.ComponentConfigs;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One engine wired as the core bundle wires it, on a given store, with a token-is-the-user authenticator, a storing
 * {@code text} type and recording notification channels; and devices connected to it. For the cluster tests.
 */
final class TestNode implements AutoCloseable {
    final Engine engine;
    /** Notifications of the offline-scope channel and of the all-scope channel. */
    final BlockingQueue<Notification> offline = new LinkedBlockingQueue<>();
    final BlockingQueue<Notification> all = new LinkedBlockingQueue<>();

    TestNode(MessageStore store, Map<String, Object> config) {
        engine = Guice.createInjector(new EngineModule(ComponentConfigs.of(EngineConfig.class, config)))
                .getInstance(Engine.class);
        engine.store(store);
        engine.authenticator((token, device) -> {
            if (token.isEmpty()) {
                throw new ParleyException(ErrorCode.ERROR_CODE_UNAUTHENTICATED, "no token");
            }
            return new Principal(token, device, Instant.now().plusSeconds(3600));
        });
        engine.processors().add("text", 1, 0, -1,
                (context, draft) -> CompletableFuture.completedFuture(ProcessResult.store(draft, "preview")));
        engine.addChannel("offline", false, n -> {
            offline.add(n);
            return CompletableFuture.completedFuture(null);
        }, 4);
        engine.addChannel("all", true, n -> {
            all.add(n);
            return CompletableFuture.completedFuture(null);
        }, 4);
    }

    /** Opens a connection and sends the hello; {@link Device#awaitHelloOk} waits for the answer. */
    Device open(String user, String device) {
        return open(user, device, "test:0");
    }

    /** Opens a connection from {@code remoteAddress} and sends the hello. */
    Device open(String user, String device, String remoteAddress) {
        Device d = new Device(remoteAddress);
        d.session = engine.open(d);
        d.write(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1).setToken(user)
                .setDeviceId(device)).build());
        return d;
    }

    /** A device connected and past its hello. */
    Device connect(String user, String device) throws InterruptedException {
        Device d = open(user, device);
        d.awaitHelloOk();
        return d;
    }

    @Override
    public void close() {
        engine.shutdown();
    }

    /** A client connection: records what the core sends; a close by the core ends the session as a transport would. */
    static final class Device implements Connection {
        final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        final CompletableFuture<Notice> closed = new CompletableFuture<>();
        InboundSession session;
        private long nextRequestId = 100;
        private final String remoteAddress;

        Device(String remoteAddress) {
            this.remoteAddress = remoteAddress;
        }

        /** The client sends {@code frame}. */
        void write(Frame frame) {
            session.onFrame(frame);
        }

        /** Sends {@code frame} with a fresh request id; @return that id */
        long request(Frame.Builder frame) {
            long rid = nextRequestId++;
            write(frame.setRequestId(rid).build());
            return rid;
        }

        /** Waits until the session has no frame queued or in progress (its hello, a frame delayed on a worker). */
        void awaitIdle() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (((ServerSession) session).pendingFrames() != 0) {
                assertTrue(System.nanoTime() < deadline, "the session went idle");
                Thread.sleep(1);
            }
        }

        void awaitHelloOk() throws InterruptedException {
            Frame f = await(x -> x.hasHelloOk() || x.hasError(), 5000);
            if (!f.hasHelloOk()) {
                fail("hello refused: " + f);
            }
        }

        /** @return the next frame matching {@code which}, skipping others; fails after {@code millis} */
        Frame await(Predicate<Frame> which, long millis) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (true) {
                Frame f = frames.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                assertNotNull(f, "a matching frame within " + millis + " ms");
                if (which.test(f)) {
                    return f;
                }
            }
        }

        Frame await(Predicate<Frame> which) throws InterruptedException {
            return await(which, 5000);
        }

        /** @return the next matching frame within {@code millis}, or null (skipping others) */
        Frame poll(Predicate<Frame> which, long millis) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (true) {
                Frame f = frames.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (f == null || which.test(f)) {
                    return f;
                }
            }
        }

        /** The client goes away. */
        void disconnect() {
            session.onClosed();
        }

        Notice awaitClosed() throws Exception {
            return closed.get(5, TimeUnit.SECONDS);
        }

        @Override
        public void send(Frame frame) {
            frames.add(frame);
        }

        /** Set: every {@link #sendFlushed} fails as a write to a connection the client reset does. */
        volatile boolean flushesFail;

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            if (flushesFail) {
                return CompletableFuture.failedFuture(new java.io.IOException("Connection reset by peer"));
            }
            frames.add(frame);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
            if (closed.complete(notice) && session != null) { // null: refused while opening
                session.onClosed();
            }
        }

        @Override
        public String transport() {
            return "test";
        }

        @Override
        public String remoteAddress() {
            return remoteAddress;
        }
    }
}
