package io.parley.transport.support;

import io.parley.core.proto.Frame;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Pong;
import io.parley.core.proto.SendAck;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Test double of the core, shared by the transports' tests (support test jar): hello authenticates and is answered from a worker thread (like the real core), ping is
 * answered with pong from the worker, send is acknowledged synchronously on the I/O thread (exercising the
 * event-loop write path).
 */
public final class TestReceiver implements Receiver {

    private final int maxFrameBytes;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-core-worker"));
    private final BlockingQueue<TestSession> opened = new LinkedBlockingQueue<>();
    public final List<TestSession> sessions = new CopyOnWriteArrayList<>();

    public TestReceiver(int maxFrameBytes) {
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    public InboundSession open(Connection connection) {
        TestSession session = new TestSession(connection);
        sessions.add(session);
        opened.add(session);
        return session;
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, io.parley.core.api.Principal principal) {
        throw new UnsupportedOperationException("transports never open trusted sessions");
    }

    @Override
    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    /** The next session opened, in accept order. */
    public TestSession nextSession() throws InterruptedException {
        TestSession session = opened.poll(5, TimeUnit.SECONDS);
        assertNotNull(session, "no session opened");
        return session;
    }

    public void shutdown() throws InterruptedException {
        worker.shutdownNow();
        assertTrue(worker.awaitTermination(5, TimeUnit.SECONDS));
    }

    public final class TestSession implements InboundSession {
        public final Connection connection;
        public final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        public final AtomicInteger closedCalls = new AtomicInteger();
        private final CountDownLatch closed = new CountDownLatch(1);
        private volatile boolean authenticated;

        TestSession(Connection connection) {
            this.connection = connection;
        }

        @Override
        public void onFrame(Frame frame) {
            frames.add(frame);
            long id = frame.getRequestId();
            switch (frame.getOpCase()) {
                case HELLO:
                    authenticated = true;
                    worker.execute(() -> connection.send(Frame.newBuilder().setRequestId(id)
                            .setHelloOk(HelloOk.newBuilder().setUserId("alice").setMaxFrameBytes(maxFrameBytes))
                            .build()));
                    break;
                case PING:
                    worker.execute(() -> connection.send(Frame.newBuilder().setRequestId(id)
                            .setPong(Pong.newBuilder().setClientTime(frame.getPing().getClientTime()))
                            .build()));
                    break;
                case SEND:
                    connection.send(Frame.newBuilder().setRequestId(id)
                            .setSendAck(SendAck.newBuilder().setMessageId(frame.getSend().getClientMsgId()))
                            .build());
                    break;
                default:
                    break;
            }
        }

        @Override
        public void onClosed() {
            closedCalls.incrementAndGet();
            closed.countDown();
        }

        @Override
        public boolean isAuthenticated() {
            return authenticated;
        }

        public void awaitClosed() throws InterruptedException {
            assertTrue(closed.await(5, TimeUnit.SECONDS), "onClosed not called");
        }

        /** The transport's connection, as its concrete type. */
        public <C> C connection(Class<C> type) {
            return type.cast(connection);
        }
    }
}
