package io.parley.transport.tcp.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.parley.core.proto.Frame;

import java.util.List;

/**
 * Splits the inbound byte stream into {@link Frame}s: a 4-byte unsigned big-endian length, then that many bytes
 * of a serialized {@code Frame}.
 *
 * <p>The length is checked against {@code maxFrameBytes} as soon as the prefix has arrived, so an oversized frame
 * is refused without buffering its body ({@link FrameTooLargeException}). Bytes that do not parse raise
 * {@link BadFrameException}. After either failure the decoder discards everything that follows, so no frame is
 * produced once the stream is known to be corrupt; the handler after it sends the error and closes.
 *
 * <p>Frames are parsed straight from the inbound buffer (protobuf copies strings and bytes out of it), so the
 * buffer is released by {@link ByteToMessageDecoder} as usual. One instance per channel (it is stateful).
 *
 * <pre>
 * pipeline.addLast("decoder", new FrameDecoder(maxFrameBytes));
 * pipeline.addLast("encoder", FrameEncoder.INSTANCE);
 * </pre>
 */
public final class FrameDecoder extends ByteToMessageDecoder {

    /** Size of the length prefix. */
    public static final int LENGTH_BYTES = 4;

    private final int maxFrameBytes;
    private boolean failed;

    /** @param maxFrameBytes largest accepted frame, excluding the length prefix */
    public FrameDecoder(int maxFrameBytes) {
        if (maxFrameBytes <= 0) {
            throw new IllegalArgumentException("maxFrameBytes must be positive: " + maxFrameBytes);
        }
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (in.readableBytes() < LENGTH_BYTES) {
            return;
        }
        int start = in.readerIndex();
        long length = in.getUnsignedInt(start);
        if (length > maxFrameBytes) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw new FrameTooLargeException(length, maxFrameBytes);
        }
        int frameBytes = (int) length;
        if (in.readableBytes() < LENGTH_BYTES + frameBytes) {
            return;
        }
        Frame frame;
        try {
            frame = Frame.parseFrom(in.nioBuffer(start + LENGTH_BYTES, frameBytes));
        } catch (InvalidProtocolBufferException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw new BadFrameException("unparsable frame of " + frameBytes + " bytes");
        }
        in.skipBytes(LENGTH_BYTES + frameBytes);
        out.add(frame);
    }
}
