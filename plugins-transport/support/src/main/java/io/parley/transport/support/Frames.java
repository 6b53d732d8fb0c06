package io.parley.transport.support;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;

import java.io.IOException;

/** Builders for the frames a transport itself sends (errors before a close, notices), and protobuf/ByteBuf glue. */
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

    /**
     * Serializes {@code frame} at {@code out}'s writer index, straight into the buffer's memory when it is one
     * array or one NIO buffer, and advances the writer index by {@code frame.getSerializedSize()}.
     */
    public static void writeTo(Frame frame, ByteBuf out) throws IOException {
        int size = frame.getSerializedSize();
        out.ensureWritable(size);
        int index = out.writerIndex();
        CodedOutputStream cos;
        if (out.hasArray()) {
            cos = CodedOutputStream.newInstance(out.array(), out.arrayOffset() + index, size);
        } else if (out.nioBufferCount() == 1) {
            cos = CodedOutputStream.newInstance(out.nioBuffer(index, size));
        } else {
            frame.writeTo(new ByteBufOutputStream(out));
            return;
        }
        frame.writeTo(cos);
        cos.checkNoSpaceLeft();
        out.writerIndex(index + size);
    }

    /**
     * Parses the readable bytes of {@code in} (not consumed, not released) as a {@code Frame}.
     *
     * @throws InvalidProtocolBufferException if they do not parse
     */
    public static Frame parse(ByteBuf in) throws InvalidProtocolBufferException {
        if (in.nioBufferCount() == 1) {
            return Frame.parseFrom(in.nioBuffer());
        }
        try {
            return Frame.parseFrom(CodedInputStream.newInstance(
                    new ByteBufInputStream(in.duplicate(), in.readableBytes())));
        } catch (InvalidProtocolBufferException e) {
            throw e;
        } catch (IOException e) {
            throw new InvalidProtocolBufferException(e);
        }
    }
}
