package io.parley.client.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Send;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FrameCodecTest {
    private static Frame ping(long id) {
        return Frame.newBuilder().setRequestId(id).setPing(Ping.newBuilder().setClientTime(id * 7)).build();
    }

    @Test
    void encodesLengthPrefixThenFrame() {
        EmbeddedChannel ch = new EmbeddedChannel(FrameEncoder.INSTANCE);
        Frame f = ping(42);
        ch.writeOutbound(f);
        ByteBuf out = ch.readOutbound();
        byte[] body = f.toByteArray();
        assertEquals(4 + body.length, out.readableBytes());
        assertEquals(body.length, out.readInt());
        byte[] rest = new byte[body.length];
        out.readBytes(rest);
        assertEquals(f, parse(rest));
        out.release();
        assertNull(ch.readOutbound());
    }

    private static Frame parse(byte[] b) {
        try {
            return Frame.parseFrom(b);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void roundTripsFramesSplitAndCoalescedArbitrarily() {
        EmbeddedChannel enc = new EmbeddedChannel(FrameEncoder.INSTANCE);
        ByteBuf all = Unpooled.buffer();
        for (int i = 1; i <= 50; i++) {
            enc.writeOutbound(i % 2 == 0 ? ping(i) : Frame.newBuilder().setRequestId(i)
                    .setSend(Send.newBuilder().setClientMsgId("c" + i).setPeer("bob").setType("text")).build());
            ByteBuf b = enc.readOutbound();
            all.writeBytes(b);
            b.release();
        }
        EmbeddedChannel dec = new EmbeddedChannel(new FrameDecoder(1024));
        int chunk = 1;
        while (all.isReadable()) {
            int n = Math.min(chunk, all.readableBytes());
            dec.writeInbound(all.readRetainedSlice(n));
            chunk = chunk % 13 + 1;
        }
        all.release();
        for (int i = 1; i <= 50; i++) {
            Frame f = dec.readInbound();
            assertEquals(i, f.getRequestId());
        }
        assertNull(dec.readInbound());
    }

    @Test
    void emptyFrameDecodes() {
        EmbeddedChannel dec = new EmbeddedChannel(new FrameDecoder(1024));
        dec.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0}));
        assertEquals(Frame.getDefaultInstance(), dec.readInbound());
    }

    @Test
    void tooLargeDeclaredLengthIsRejectedBeforeBuffering() {
        EmbeddedChannel dec = new EmbeddedChannel(new FrameDecoder(100));
        // 0xFFFFFFFF is read as unsigned: 4 GiB, not -1
        DecoderException e = assertThrows(DecoderException.class,
                () -> dec.writeInbound(Unpooled.wrappedBuffer(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF})));
        assertInstanceOf(TooLongFrameException.class, e);
    }

    @Test
    void garbageIsACorruptedFrame() {
        EmbeddedChannel dec = new EmbeddedChannel(new FrameDecoder(100));
        DecoderException e = assertThrows(DecoderException.class,
                () -> dec.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 3, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF})));
        assertInstanceOf(CorruptedFrameException.class, e);
    }
}
