package io.parley.transport.tcp.internal;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;

/** Builders for the frames the transport itself sends (errors before close, notices). */
public final class Frames {

    private Frames() {
    }

    /** An {@code Error} frame with request id 0. */
    public static Frame error(ErrorCode code, String message) {
        return Frame.newBuilder()
                .setError(io.parley.core.proto.Error.newBuilder().setCode(code).setMessage(message))
                .build();
    }

    /** A retryable {@code Error} frame telling the client when to try again. */
    public static Frame retryableError(ErrorCode code, String message, int retryAfterMs) {
        return Frame.newBuilder()
                .setError(io.parley.core.proto.Error.newBuilder()
                        .setCode(code)
                        .setMessage(message)
                        .setRetryable(true)
                        .setRetryAfterMs(retryAfterMs))
                .build();
    }

    /** A {@code Notice} frame with request id 0. */
    public static Frame notice(Notice notice) {
        return Frame.newBuilder().setNotice(notice).build();
    }

    public static Notice reconnectNotice(String text, int reconnectAfterMs) {
        return Notice.newBuilder()
                .setKind(Notice.Kind.KIND_RECONNECT)
                .setText(text)
                .setReconnectAfterMs(reconnectAfterMs)
                .build();
    }

    /** Bytes the frame occupies on the wire: the 4-byte length prefix plus the serialized frame. */
    static int wireSize(Frame frame) {
        return FrameDecoder.LENGTH_BYTES + frame.getSerializedSize();
    }
}
