package io.parley.transport.tcp.internal;

import io.netty.handler.codec.DecoderException;

/**
 * A length prefix announced a frame above the limit. Raised by {@link FrameDecoder} as soon as the prefix is read,
 * before any of the frame's bytes are buffered. Carries no stack trace: it describes client input, not a bug.
 */
public final class FrameTooLargeException extends DecoderException {

    private static final long serialVersionUID = 1L;

    private final long announcedBytes;
    private final int maxBytes;

    FrameTooLargeException(long announcedBytes, int maxBytes) {
        super("frame of " + announcedBytes + " bytes exceeds the limit of " + maxBytes + " bytes");
        this.announcedBytes = announcedBytes;
        this.maxBytes = maxBytes;
    }

    public long announcedBytes() {
        return announcedBytes;
    }

    public int maxBytes() {
        return maxBytes;
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
