package io.parley.transport.tcp.internal;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.parley.core.proto.Frame;

import java.io.IOException;

/**
 * Writes a {@link Frame} as a 4-byte big-endian length followed by the serialized frame, into one buffer sized
 * exactly for it. The frame is serialized directly into the buffer's memory (no intermediate byte array).
 * Stateless and {@link Sharable}: use {@link #INSTANCE}.
 */
@Sharable
public final class FrameEncoder extends MessageToByteEncoder<Frame> {

    public static final FrameEncoder INSTANCE = new FrameEncoder();

    private FrameEncoder() {
        super(Frame.class);
    }

    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Frame msg, boolean preferDirect) {
        int size = Frames.wireSize(msg);
        return preferDirect ? ctx.alloc().ioBuffer(size) : ctx.alloc().heapBuffer(size);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, ByteBuf out) throws IOException {
        int size = frame.getSerializedSize();
        out.ensureWritable(FrameDecoder.LENGTH_BYTES + size);
        out.writeInt(size);
        int index = out.writerIndex();
        CodedOutputStream cos;
        if (out.hasArray()) {
            cos = CodedOutputStream.newInstance(out.array(), out.arrayOffset() + index, size);
        } else if (out.nioBufferCount() == 1) {
            cos = CodedOutputStream.newInstance(out.nioBuffer(index, size));
        } else {
            ByteBufOutputStream stream = new ByteBufOutputStream(out);
            frame.writeTo(stream);
            return;
        }
        frame.writeTo(cos);
        cos.checkNoSpaceLeft();
        out.writerIndex(index + size);
    }
}
