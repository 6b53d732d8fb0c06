package io.parley.client.internal;

import com.google.protobuf.CodedInputStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import io.parley.core.proto.Frame;

import java.util.List;

/**
 * Decodes the TCP framing of protocol v1: a 4-byte unsigned big-endian length, then that many bytes of a
 * serialized {@link Frame}. Emits one {@code Frame} per complete length-prefixed record.
 *
 * <p>A declared length above {@code maxFrameBytes} raises {@link TooLongFrameException}; bytes that do not parse
 * raise {@link CorruptedFrameException}. In both cases the connection is unusable and the caller closes it.
 * Not sharable: one instance per channel.
 */
public final class FrameDecoder extends ByteToMessageDecoder {
    private final int maxFrameBytes;

    public FrameDecoder(int maxFrameBytes) {
        if (maxFrameBytes <= 0) {
            throw new IllegalArgumentException("maxFrameBytes must be positive");
        }
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        while (in.readableBytes() >= 4) {
            int start = in.readerIndex();
            long length = in.getUnsignedInt(start);
            if (length > maxFrameBytes) {
                throw new TooLongFrameException("frame of " + length + " bytes exceeds " + maxFrameBytes);
            }
            if (in.readableBytes() - 4 < length) {
                return;
            }
            int len = (int) length;
            Frame frame;
            try {
                frame = Frame.parseFrom(CodedInputStream.newInstance(in.nioBuffer(start + 4, len)));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new CorruptedFrameException("unparsable frame: " + e.getMessage(), e);
            }
            in.readerIndex(start + 4 + len);
            out.add(frame);
        }
    }
}
