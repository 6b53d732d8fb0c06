package io.parley.transport.tcp.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.parley.core.proto.Frame;
import io.parley.transport.support.Frames;

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

    /** Bytes the frame occupies on the wire: the 4-byte length prefix plus the serialized frame. */
    public static int wireSize(Frame frame) {
        return FrameDecoder.LENGTH_BYTES + frame.getSerializedSize();
    }

    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Frame msg, boolean preferDirect) {
        int size = wireSize(msg);
        return preferDirect ? ctx.alloc().ioBuffer(size) : ctx.alloc().heapBuffer(size);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, ByteBuf out) throws IOException {
        out.ensureWritable(wireSize(frame));
        out.writeInt(frame.getSerializedSize());
        Frames.writeTo(frame, out);
    }
}
