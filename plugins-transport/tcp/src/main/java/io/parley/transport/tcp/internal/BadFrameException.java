package io.parley.transport.tcp.internal;

import io.netty.handler.codec.DecoderException;

/**
 * A complete frame's bytes are not a parsable {@code Frame}. Raised by {@link FrameDecoder}. Carries no stack trace:
 * it describes client input, not a bug.
 */
public final class BadFrameException extends DecoderException {

    private static final long serialVersionUID = 1L;

    BadFrameException(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
