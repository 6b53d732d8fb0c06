package io.parley.core.testing;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.transport.Connection;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * A transport connection for engine-level tests: records every frame the core sends and whether it closed the
 * connection. Thread-safe.
 */
public final class RecordingConnection implements Connection {
    private final BlockingQueue<Frame> sent = new LinkedBlockingQueue<>();
    private final CompletableFuture<Notice> closed = new CompletableFuture<>();

    /** @return the next frame the core sent, waiting up to 5 s (fails the test otherwise) */
    public Frame next() throws InterruptedException {
        Frame f = sent.poll(5, TimeUnit.SECONDS);
        assertNotNull(f, "a frame within 5 s");
        return f;
    }

    /** @return the next frame answering {@code requestId}, skipping others, waiting up to 5 s for each */
    public Frame answerTo(long requestId) throws InterruptedException {
        while (true) {
            Frame f = next();
            if (f.getRequestId() == requestId) {
                return f;
            }
        }
    }

    /** @return true if the core closed the connection within 5 s */
    public boolean awaitClosed() {
        try {
            closed.get(5, TimeUnit.SECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    @Override
    public void send(Frame frame) {
        sent.add(frame);
    }

    @Override
    public CompletionStage<Void> sendFlushed(Frame frame) {
        sent.add(frame);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close(Notice notice) {
        closed.complete(notice);
    }

    @Override
    public String transport() {
        return "test";
    }

    @Override
    public String remoteAddress() {
        return "test:0";
    }
}
