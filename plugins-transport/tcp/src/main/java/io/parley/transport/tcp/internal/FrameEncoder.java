package io.parley.transport.tcp.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.netty.util.concurrent.FastThreadLocal;
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
        if (frame.getOpCase() == Frame.OpCase.DELIVER) {
            // one Deliver frame object goes to every recipient's connection (a group fan-out: hundreds on this
            // loop, one after another): serialize it once per event loop, copy the bytes for the others
            LastDeliver last = LAST_DELIVER.get();
            if (last.frame != frame) {
                last.bytes = frame.toByteArray();
                last.frame = frame;
            }
            out.writeBytes(last.bytes);
        } else {
            Frames.writeTo(frame, out);
        }
    }

    /**
     * The last Deliver frame this event-loop thread encoded, and its bytes. Per thread, so it lives and dies with the
     * transport's own I/O threads; it holds one frame at most.
     */
    private static final class LastDeliver {
        Frame frame;
        byte[] bytes;
    }

    private static final FastThreadLocal<LastDeliver> LAST_DELIVER = new FastThreadLocal<>() {
        @Override
        protected LastDeliver initialValue() {
            return new LastDeliver();
        }
    };
}
