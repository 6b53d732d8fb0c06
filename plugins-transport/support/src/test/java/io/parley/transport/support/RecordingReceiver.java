package io.parley.transport.support;

import io.parley.core.api.Principal;
import io.parley.core.proto.Frame;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;

import java.util.ArrayList;
import java.util.List;

/**
 * The core as far as a transport sees it, passive: one session per connection that records its frames and answers
 * nothing (unlike {@link TestReceiver}, no worker thread), for the transports' fuzz tests driving an
 * {@code EmbeddedChannel}. Not thread-safe: one channel, one thread. Shared through the support test jar.
 */
public final class RecordingReceiver implements Receiver {
    private final int maxFrameBytes;
    /** The session of the last connection opened, null before the first. */
    public Session session;

    public RecordingReceiver(int maxFrameBytes) {
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    public InboundSession open(Connection connection) {
        session = new Session();
        return session;
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, Principal principal) {
        throw new UnsupportedOperationException("transports never open trusted sessions");
    }

    @Override
    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    /** Records what the transport hands to the core. */
    public static final class Session implements InboundSession {
        public final List<Frame> frames = new ArrayList<>();
        public int closedCalls;

        @Override
        public void onFrame(Frame frame) {
            frames.add(frame);
        }

        @Override
        public void onClosed() {
            closedCalls++;
        }

        @Override
        public boolean isAuthenticated() {
            return false;
        }
    }
}
