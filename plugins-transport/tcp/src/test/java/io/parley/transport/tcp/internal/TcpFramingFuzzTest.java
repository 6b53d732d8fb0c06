package io.parley.transport.tcp.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.transport.support.NettyServer;
import io.parley.transport.support.RecordingReceiver;
import io.parley.transport.support.ServerSettings;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzz target: arbitrary bytes, split arbitrarily across reads, into the TCP transport's inbound pipeline as
 * {@link TcpServer#initPipeline} builds it ({@link FrameDecoder}, {@link FrameEncoder}, the idle handler,
 * {@link ConnectionHandler} with its {@code SessionBinding}), on an {@link EmbeddedChannel}, with a recording core
 * behind it.
 *
 * <p>Input: byte 0 chooses the read sizes (seed of a {@link Random}, 1 to 64 bytes each) and, with bit 7, direct
 * instead of heap buffers; the rest is the byte stream from the client.
 *
 * <p>Contract checked against an independent reading of the stream (4-byte big-endian length, then a
 * {@code Frame}): the core receives exactly the complete frames before the first bad one, in order; a length above
 * the limit is answered with {@code Error{FRAME_TOO_LARGE}} and a close, bytes that do not parse with
 * {@code Error{BAD_FRAME}} and a close, nothing at all is decoded after either; a stream without a bad frame leaves
 * the channel open with nothing written back; the session ends exactly once; every inbound buffer is released. Run
 * by the {@code fuzz} surefire execution (docs/fuzzing.md).
 */
class TcpFramingFuzzTest {

    /** Small, so that the fuzzer reaches both sides of the limit. */
    private static final int MAX_FRAME = 300;
    private static final ServerSettings SETTINGS = ServerSettings.builder().build();

    @FuzzTest(maxDuration = "8s")
    void framing(byte[] input) throws Exception {
        if (input.length == 0) {
            return;
        }
        byte[] stream = Arrays.copyOfRange(input, 1, input.length);
        Expected expected = expected(stream);

        RecordingReceiver receiver = new RecordingReceiver(MAX_FRAME);
        EmbeddedChannel channel = new EmbeddedChannel();
        TcpServer.initPipeline(channel.pipeline(), MAX_FRAME, new NettyServer("TCP", "fuzz", SETTINGS), receiver);
        channel.pipeline().fireChannelActive();
        RecordingReceiver.Session session = receiver.session;

        Random reads = new Random(input[0] & 0x7f);
        boolean direct = (input[0] & 0x80) != 0;
        List<ByteBuf> buffers = new ArrayList<>();
        for (int i = 0; i < stream.length && channel.isOpen(); ) {
            int n = Math.min(stream.length - i, 1 + reads.nextInt(64));
            ByteBuf buf = direct ? Unpooled.directBuffer(n) : Unpooled.buffer(n);
            buf.writeBytes(stream, i, n);
            buffers.add(buf);
            channel.writeInbound(buf);
            channel.runPendingTasks();
            i += n;
        }

        assertEquals(expected.frames, session.frames, "frames handed to the core");
        if (expected.error == null) {
            assertTrue(channel.isOpen(), "closed without a bad frame");
            assertNull(channel.readOutbound(), "wrote to a client that sent nothing bad");
        } else {
            assertFalse(channel.isOpen(), "still open after a bad frame");
            ByteBuf out = channel.readOutbound();
            assertTrue(out != null, "no error frame before the close");
            Frame error;
            try {
                assertEquals(out.readableBytes() - FrameDecoder.LENGTH_BYTES, out.readUnsignedInt());
                error = Frame.parseFrom(out.nioBuffer());
            } finally {
                out.release();
            }
            assertEquals(expected.error, error.getError().getCode(), error.toString());
            assertNull(channel.readOutbound(), "more than the error frame");
        }

        channel.finishAndReleaseAll();
        assertEquals(1, session.closedCalls, "onClosed calls");
        for (ByteBuf buf : buffers) {
            assertEquals(0, buf.refCnt(), "inbound buffer not released");
        }
    }

    /** What a correct reading of {@code stream} yields: its complete frames up to the first bad one, and its error. */
    static Expected expected(byte[] stream) {
        Expected e = new Expected();
        ByteBuffer in = ByteBuffer.wrap(stream);
        while (in.remaining() >= FrameDecoder.LENGTH_BYTES) {
            long length = Integer.toUnsignedLong(in.getInt(in.position()));
            if (length > MAX_FRAME) {
                e.error = ErrorCode.ERROR_CODE_FRAME_TOO_LARGE;
                return e;
            }
            if (in.remaining() < FrameDecoder.LENGTH_BYTES + length) {
                return e;
            }
            byte[] body = new byte[(int) length];
            in.position(in.position() + FrameDecoder.LENGTH_BYTES).get(body);
            try {
                e.frames.add(Frame.parseFrom(body));
            } catch (InvalidProtocolBufferException bad) {
                e.error = ErrorCode.ERROR_CODE_BAD_FRAME;
                return e;
            }
        }
        return e;
    }

    static final class Expected {
        final List<Frame> frames = new ArrayList<>();
        ErrorCode error;
    }
}
