package io.parley.transport.tcp.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ResourceLeakDetector;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Send;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameCodecTest {

    private static final int MAX = 1024;

    private final List<ByteBuf> inputs = new ArrayList<>();
    private EmbeddedChannel channel;

    @BeforeAll
    static void detectLeaks() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterEach
    void releasedEverything() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
        for (ByteBuf input : inputs) {
            assertEquals(0, input.refCnt(), "inbound buffer not released");
        }
    }

    @Test
    void roundTrip() {
        channel = codec();
        Frame frame = send(7, "hello");
        assertTrue(channel.writeOutbound(frame));
        ByteBuf wire = channel.readOutbound();
        assertNull(channel.readOutbound(), "one buffer per frame");
        assertEquals(4 + frame.getSerializedSize(), wire.readableBytes());
        assertEquals(frame.getSerializedSize(), wire.getUnsignedInt(wire.readerIndex()));

        assertTrue(channel.writeInbound(track(wire)));
        assertEquals(frame, channel.readInbound());
        assertNull(channel.readInbound());
    }

    @Test
    void encoderWritesTheSameBytesIntoHeapDirectAndCompositeBuffers() throws Exception {
        Frame frame = send(42, "x".repeat(300));
        byte[] expected = wireBytes(frame);

        ByteBuf heap = Unpooled.buffer();
        ByteBuf direct = Unpooled.directBuffer();
        CompositeByteBuf composite = Unpooled.compositeBuffer();
        try {
            for (ByteBuf out : List.of(heap, direct, composite)) {
                FrameEncoder.INSTANCE.encode(null, frame, out);
                byte[] actual = new byte[out.readableBytes()];
                out.getBytes(out.readerIndex(), actual);
                assertArrayEquals(expected, actual, out.getClass().getSimpleName());
            }
        } finally {
            heap.release();
            direct.release();
            composite.release();
        }
    }

    @Test
    void frameSplitIntoOneByteChunks() {
        channel = codec();
        List<Frame> frames = List.of(send(1, "a"), ping(2), send(3, "ccc"));
        byte[] bytes = concat(frames);
        for (int i = 0; i < bytes.length; i++) {
            channel.writeInbound(track(Unpooled.wrappedBuffer(new byte[] {bytes[i]})));
        }
        for (Frame frame : frames) {
            assertEquals(frame, channel.readInbound());
        }
        assertNull(channel.readInbound());
    }

    @Test
    void severalFramesInOneBuffer() {
        channel = codec();
        List<Frame> frames = List.of(send(1, "a"), ping(2), Frame.getDefaultInstance(), send(4, "d"));
        assertTrue(channel.writeInbound(track(Unpooled.wrappedBuffer(concat(frames)))));
        for (Frame frame : frames) {
            assertEquals(frame, channel.readInbound());
        }
        assertNull(channel.readInbound());
    }

    @Test
    void frameOfExactlyTheLimitIsAccepted() {
        channel = codec();
        Frame frame = sendOfSize(MAX);
        assertEquals(MAX, frame.getSerializedSize());
        assertTrue(channel.writeInbound(track(Unpooled.wrappedBuffer(wireBytes(frame)))));
        assertEquals(frame, channel.readInbound());
    }

    @Test
    void oversizedPrefixFailsAsSoonAsThePrefixArrives() {
        channel = codec();
        // only the 4-byte prefix: the decoder must refuse it without waiting for (or buffering) the body
        ByteBuf prefix = track(Unpooled.buffer(4).writeInt(MAX + 1));
        FrameTooLargeException e = assertThrows(FrameTooLargeException.class, () -> channel.writeInbound(prefix));
        assertEquals(MAX + 1, e.announcedBytes());
        assertEquals(0, e.getStackTrace().length);

        // whatever follows is discarded, even a well-formed frame
        assertFalse(channel.writeInbound(track(Unpooled.wrappedBuffer(new byte[4096]))));
        assertFalse(channel.writeInbound(track(Unpooled.wrappedBuffer(wireBytes(ping(1))))));
        assertNull(channel.readInbound());
    }

    @Test
    void maximalUnsignedPrefixIsRefused() {
        channel = codec();
        ByteBuf prefix = track(Unpooled.wrappedBuffer(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}));
        FrameTooLargeException e = assertThrows(FrameTooLargeException.class, () -> channel.writeInbound(prefix));
        assertEquals(0xFFFF_FFFFL, e.announcedBytes());
    }

    @Test
    void garbageIsABadFrameAndFramesBeforeItAreStillDelivered() {
        channel = codec();
        Frame good = ping(9);
        ByteBuf in = Unpooled.buffer();
        in.writeBytes(wireBytes(good));
        in.writeInt(5).writeBytes(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        in.writeBytes(wireBytes(ping(10)));
        assertThrows(BadFrameException.class, () -> channel.writeInbound(track(in)));
        assertEquals(good, channel.readInbound());
        assertNull(channel.readInbound(), "nothing after the bad frame");
    }

    @Test
    void halfFrameThenEndOfStreamProducesNothing() {
        channel = codec();
        ByteBuf half = Unpooled.buffer().writeInt(100).writeBytes(new byte[10]);
        assertFalse(channel.writeInbound(track(half)));
        assertFalse(channel.finish());
        assertNull(channel.readInbound());
    }

    private static EmbeddedChannel codec() {
        return new EmbeddedChannel(new FrameDecoder(MAX), FrameEncoder.INSTANCE);
    }

    private ByteBuf track(ByteBuf buf) {
        inputs.add(buf);
        return buf;
    }

    static Frame send(long requestId, String clientMsgId) {
        return Frame.newBuilder()
                .setRequestId(requestId)
                .setSend(Send.newBuilder().setClientMsgId(clientMsgId).setPeer("bob").setType("text"))
                .build();
    }

    static Frame ping(long requestId) {
        return Frame.newBuilder().setRequestId(requestId).setPing(Ping.newBuilder().setClientTime(requestId)).build();
    }

    /** A Send frame whose serialized size is exactly {@code size} bytes. */
    private static Frame sendOfSize(int size) {
        Frame empty = send(1, "");
        int pad = size - empty.getSerializedSize();
        // the string's length varint grows by one byte past 127 characters
        Frame frame = send(1, "p".repeat(pad));
        return send(1, "p".repeat(pad - (frame.getSerializedSize() - size)));
    }

    static byte[] wireBytes(Frame frame) {
        byte[] body = frame.toByteArray();
        ByteBuf buf = Unpooled.buffer(4 + body.length).writeInt(body.length).writeBytes(body);
        byte[] bytes = new byte[buf.readableBytes()];
        buf.readBytes(bytes);
        return bytes;
    }

    private static byte[] concat(List<Frame> frames) {
        ByteBuf buf = Unpooled.buffer();
        for (Frame frame : frames) {
            buf.writeBytes(wireBytes(frame));
        }
        byte[] bytes = new byte[buf.readableBytes()];
        buf.readBytes(bytes);
        return bytes;
    }
}
