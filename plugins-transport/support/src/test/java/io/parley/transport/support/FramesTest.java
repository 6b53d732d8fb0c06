package io.parley.transport.support;

import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Send;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FramesTest {

    private static final Frame FRAME = Frame.newBuilder().setRequestId(42)
            .setSend(Send.newBuilder().setClientMsgId("x".repeat(300)).setPeer("bob").setType("text"))
            .build();

    @Test
    void writeToProducesTheSerializedBytesInEveryKindOfBuffer() throws Exception {
        for (ByteBuf out : List.of(Unpooled.buffer(), Unpooled.directBuffer(), Unpooled.compositeBuffer())) {
            try {
                out.writeByte(7); // writes at the writer index, after what is there
                Frames.writeTo(FRAME, out);
                assertEquals(1 + FRAME.getSerializedSize(), out.readableBytes());
                byte[] actual = new byte[FRAME.getSerializedSize()];
                out.getBytes(1, actual);
                assertArrayEquals(FRAME.toByteArray(), actual, out.getClass().getSimpleName());
            } finally {
                out.release();
            }
        }
    }

    @Test
    void parseReadsOneOrManyComponentsWithoutConsuming() throws Exception {
        byte[] bytes = FRAME.toByteArray();
        ByteBuf single = Unpooled.wrappedBuffer(bytes);
        CompositeByteBuf split = Unpooled.compositeBuffer()
                .addComponent(true, Unpooled.wrappedBuffer(bytes, 0, 10))
                .addComponent(true, Unpooled.wrappedBuffer(bytes, 10, bytes.length - 10));
        try {
            assertEquals(FRAME, Frames.parse(single));
            assertEquals(FRAME, Frames.parse(split));
            assertEquals(bytes.length, single.readableBytes());
            assertEquals(bytes.length, split.readableBytes());
        } finally {
            single.release();
            split.release();
        }
    }

    @Test
    void garbageDoesNotParse() {
        ByteBuf garbage = Unpooled.wrappedBuffer(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        try {
            assertThrows(InvalidProtocolBufferException.class, () -> Frames.parse(garbage));
        } finally {
            garbage.release();
        }
    }
}
