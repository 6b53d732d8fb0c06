package io.parley.client.internal;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.parley.core.proto.Frame;

import java.nio.ByteBuffer;

/**
 * Encodes a {@link Frame} as a 4-byte big-endian length followed by its serialized bytes, in one buffer.
 * Stateless and sharable.
 */
@ChannelHandler.Sharable
public final class FrameEncoder extends MessageToByteEncoder<Frame> {
    public static final FrameEncoder INSTANCE = new FrameEncoder();

    private FrameEncoder() {
        super(Frame.class);
    }

    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Frame msg, boolean preferDirect) {
        int size = 4 + msg.getSerializedSize();
        return preferDirect ? ctx.alloc().ioBuffer(size) : ctx.alloc().heapBuffer(size);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Frame msg, ByteBuf out) throws Exception {
        int size = msg.getSerializedSize();
        out.writeInt(size);
        int index = out.writerIndex();
        out.ensureWritable(size);
        ByteBuffer nio = out.nioBuffer(index, size);
        CodedOutputStream cos = CodedOutputStream.newInstance(nio);
        msg.writeTo(cos);
        cos.checkNoSpaceLeft();
        out.writerIndex(index + size);
    }
}
