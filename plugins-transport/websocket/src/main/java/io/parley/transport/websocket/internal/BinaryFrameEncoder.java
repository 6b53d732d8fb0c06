package io.parley.transport.websocket.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.parley.core.proto.Frame;
import io.parley.transport.support.Frames;

import java.util.List;

/**
 * Turns each outbound {@link Frame} into one binary WebSocket message (a single final frame) holding the serialized
 * frame and nothing else; Netty's WebSocket encoder after it writes the header. Other messages pass through.
 * Stateless and {@link Sharable}: use {@link #INSTANCE}.
 */
@Sharable
final class BinaryFrameEncoder extends MessageToMessageEncoder<Frame> {

    static final BinaryFrameEncoder INSTANCE = new BinaryFrameEncoder();

    private BinaryFrameEncoder() {
        super(Frame.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Frame frame, List<Object> out) throws Exception {
        ByteBuf payload = ctx.alloc().ioBuffer(frame.getSerializedSize());
        try {
            Frames.writeTo(frame, payload);
        } catch (Exception | Error e) {
            payload.release();
            throw e;
        }
        out.add(new BinaryWebSocketFrame(payload));
    }
}
