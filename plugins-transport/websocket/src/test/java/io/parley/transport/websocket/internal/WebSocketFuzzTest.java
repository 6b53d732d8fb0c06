package io.parley.transport.websocket.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Ping;
import io.parley.core.spi.transport.Connection;
import io.parley.transport.support.NettyServer;
import io.parley.transport.support.RecordingReceiver;
import io.parley.transport.support.ServerSettings;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzz target: an HTTP upgrade request and WebSocket frames, split arbitrarily across reads, into the WebSocket
 * transport's pipeline as {@link WebSocketServer#initPipeline} builds it (HTTP codec, aggregator,
 * {@link HttpUpgradeHandler}, which rebuilds the pipeline for frames, and {@link WebSocketSessionHandler}), on an
 * {@link EmbeddedChannel}, with a recording core behind it.
 *
 * <p>The input ({@link FuzzedDataProvider}) chooses either raw request bytes or a request assembled from fuzzed
 * method, path, version and headers (upgrade, key, version, zero to two origins, a body); then binary messages
 * (some fragmented, some with a ping between the fragments), text messages, pings, pongs, closes and raw frames with
 * any opcode, some unmasked, with reserved bits, or with a non-minimal length; then the read sizes.
 *
 * <p>Contract checked: before the upgrade the server either waits for more bytes, answers 101, or answers one of
 * the documented statuses (400, 403, 404, 405, 413, 414, 417, 426, 431, 505; 100 before a body) and closes; after
 * it, the core receives a prefix of the binary messages sent, in order (all of them, with the connection still open,
 * when every frame was valid); the server sends only pongs echoing a ping, error frames ({@code BAD_FRAME},
 * {@code FRAME_TOO_LARGE}) each followed by a close, and closes with a documented status (1002, 1003, 1007, 1009,
 * or the client's own) and then closes at the latest after the close timeout; no exception but the WebSocket
 * decoder's refusals reaches the session handler; the session ends exactly once; every inbound buffer is released.
 * Run by the {@code fuzz} surefire execution (docs/fuzzing.md).
 */
class WebSocketFuzzTest {

    private static final int MAX_FRAME = 300;
    private static final int MAX_REQUEST = 512;
    private static final String PATH = "/parley";
    private static final String ALLOWED_ORIGIN = "https://chat.example";
    private static final WebSocketSettings SETTINGS = new WebSocketSettings(ServerSettings.builder().build(), PATH,
            OriginPolicy.parse(ALLOWED_ORIGIN), MAX_REQUEST);
    private static final Set<Integer> REFUSALS = Set.of(400, 403, 404, 405, 413, 414, 417, 426, 431, 505);
    private static final Set<Integer> SERVER_CLOSE_STATUSES = Set.of(1002, 1003, 1007, 1009);
    private static final byte[] PING_FRAME = Frame.newBuilder().setRequestId(7)
            .setPing(Ping.newBuilder().setClientTime(1)).build().toByteArray();

    @FuzzTest(maxDuration = "8s")
    void upgradeAndFrames(FuzzedDataProvider data) {
        Client client = new Client();
        client.request(data);
        int requestEnd = client.out.size();
        int units = data.consumeInt(0, 8);
        for (int i = 0; i < units; i++) {
            client.unit(data);
        }
        byte[] stream = client.out.toByteArray();
        Random reads = new Random(data.consumeLong());

        RecordingReceiver receiver = new RecordingReceiver(MAX_FRAME);
        List<Throwable> exceptions = new ArrayList<>();
        EmbeddedChannel channel = new EmbeddedChannel();
        WebSocketServer.initPipeline(channel.pipeline(), SETTINGS, MAX_FRAME,
                new NettyServer("WebSocket", "fuzz", SETTINGS.server()), receiver);
        channel.pipeline().addBefore("session", "probe", new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                // the aggregator's, when the connection ends inside a fragmented message: expected then only
                if (!(cause instanceof PrematureChannelClosureException && !ctx.channel().isActive())) {
                    exceptions.add(cause);
                }
                ctx.fireExceptionCaught(cause);
            }
        });
        channel.pipeline().fireChannelActive();

        List<ByteBuf> buffers = new ArrayList<>();
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        // as RFC 6455 has it, frames only once the upgrade request is complete (a client waits for the 101)
        feed(channel, stream, 0, requestEnd, reads, buffers, written);
        feed(channel, stream, requestEnd, stream.length, reads, buffers, written);
        if (channel.isOpen()) { // a close we began ends when the client answers it or after the close timeout
            channel.advanceTimeBy(SETTINGS.server().closeTimeout().toMillis() + 1_000, TimeUnit.MILLISECONDS);
            channel.runScheduledPendingTasks();
            channel.runPendingTasks();
        }
        drain(channel, written);
        boolean open = channel.isOpen();

        Server server = new Server(written.toByteArray());
        if (!server.upgraded) {
            assertTrue(exceptions.isEmpty(), "exceptions before the upgrade: " + exceptions);
            assertTrue(receiver.session == null, "a core session before the upgrade");
            if (server.status != 0) {
                assertTrue(REFUSALS.contains(server.status), "answered " + server.status);
                assertFalse(open, "still open after answering " + server.status);
            }
        } else {
            for (Throwable e : exceptions) {
                if (!(e instanceof CorruptedWebSocketFrameException || e instanceof TooLongFrameException)) {
                    throw new AssertionError("unexpected exception in the pipeline", e);
                }
            }
            RecordingReceiver.Session session = receiver.session;
            assertTrue(session != null, "no core session after the upgrade");
            List<Frame> sent = client.binaryMessages();
            assertTrue(client.unmodeled || session.frames.size() <= sent.size() && session.frames.equals(sent.subList(0,
                    session.frames.size())), "core got " + session.frames + ", client sent " + sent + ": " + client.log);
            server.checkFrames(client, open);
            if (client.clean) {
                assertTrue(open, "closed though every frame was valid; client sent " + client.log + ", server sent "
                        + server.log);
                assertEquals(sent, session.frames, "frames handed to the core");
            }
        }

        channel.finishAndReleaseAll();
        if (receiver.session != null) {
            assertEquals(1, receiver.session.closedCalls, "onClosed calls");
        }
        for (ByteBuf buf : buffers) {
            assertEquals(0, buf.refCnt(), "inbound buffer not released");
        }
    }

    /** Found by this target: an upgrade request of another HTTP version than 1.1 was upgraded. */
    @Test
    void anUpgradeRequestOfAnotherHttpVersionIsRefusedWith505() {
        for (String version : List.of("HTTP/1.0", "HTTP/9.9", "HTTP/2.0")) {
            assertRefused(505, "GET " + PATH + " " + version + "\r\n" + UPGRADE_HEADERS + "\r\n");
        }
    }

    /** Found by this target: a body over the limit was answered 413, but the connection stayed open for more. */
    @Test
    void aBodyOverTheLimitOrAnUnknownExpectationIsRefusedAndTheConnectionClosed() {
        assertRefused(413, "GET " + PATH + " HTTP/1.1\r\n" + UPGRADE_HEADERS + "Content-Length: " + (MAX_REQUEST + 1)
                + "\r\n\r\n");
        assertRefused(413, "GET " + PATH + " HTTP/1.1\r\n" + UPGRADE_HEADERS + "Content-Length: " + (MAX_REQUEST + 1)
                + "\r\nExpect: 100-continue\r\n\r\n");
        assertRefused(417, "GET " + PATH + " HTTP/1.1\r\n" + UPGRADE_HEADERS + "Content-Length: 1\r\n"
                + "Expect: something-else\r\n\r\n");
    }

    private static final String UPGRADE_HEADERS = "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    private static void assertRefused(int status, String request) {
        RecordingReceiver receiver = new RecordingReceiver(MAX_FRAME);
        EmbeddedChannel channel = new EmbeddedChannel();
        WebSocketServer.initPipeline(channel.pipeline(), SETTINGS, MAX_FRAME,
                new NettyServer("WebSocket", "fuzz", SETTINGS.server()), receiver);
        channel.pipeline().fireChannelActive();
        channel.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        drain(channel, written);
        assertEquals(status, new Server(written.toByteArray()).status, request);
        assertFalse(channel.isOpen(), request);
        assertTrue(receiver.session == null, request);
        channel.finishAndReleaseAll();
    }

    private static void feed(EmbeddedChannel channel, byte[] stream, int from, int to, Random reads,
                             List<ByteBuf> buffers, ByteArrayOutputStream written) {
        for (int i = from; i < to && channel.isOpen(); ) {
            int n = Math.min(to - i, 1 + reads.nextInt(200));
            ByteBuf buf = Unpooled.buffer(n).writeBytes(stream, i, n);
            buffers.add(buf);
            channel.writeInbound(buf);
            channel.runPendingTasks();
            drain(channel, written);
            i += n;
        }
    }

    private static void drain(EmbeddedChannel channel, ByteArrayOutputStream written) {
        for (Object o; (o = channel.readOutbound()) != null; ) {
            ByteBuf buf = (ByteBuf) o;
            try {
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                written.writeBytes(bytes);
            } finally {
                buf.release();
            }
        }
    }

    /** What the fuzzed client sends, and what a correct server makes of it. */
    private static final class Client {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        /** Complete binary messages in order (payload bytes). */
        final List<byte[]> messages = new ArrayList<>();
        final List<byte[]> pings = new ArrayList<>();
        Integer closeStatus; // the client's close status, -1 for a close without one; null if it sent no close
        /**
         * Data frames this model does not follow were sent: the request was raw bytes (whatever follows a request in
         * them is frames), or a frame of any opcode was a data frame.
         */
        boolean unmodeled;
        /** True while every frame is valid, every message parses and nothing asks the server to close. */
        boolean clean = true;
        /** What was sent, for failure messages. */
        final List<String> log = new ArrayList<>();
        private final Random masks = new Random(42);

        void request(FuzzedDataProvider data) {
            if (data.consumeBoolean()) {
                clean = false;
                unmodeled = true;
                out.writeBytes(data.consumeBytes(data.consumeInt(0, 2 * MAX_REQUEST)));
                return;
            }
            String method = data.pickValue(new String[] {"GET", "GET", "POST", "get", "OPTIONS"});
            String path = data.pickValue(new String[] {PATH, PATH, PATH + "?v=1", "/other", "/parley/x", ""});
            String version = data.pickValue(new String[] {"HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/9.9"});
            StringBuilder r = new StringBuilder(method + " " + path + " " + version + "\r\nHost: h\r\n");
            if (data.consumeBoolean()) {
                r.append("Upgrade: ").append(data.pickValue(new String[] {"websocket", "WebSocket", "h2c"}))
                        .append("\r\n");
            } else {
                clean = false;
            }
            if (data.consumeBoolean()) {
                r.append("Connection: ")
                        .append(data.pickValue(new String[] {"Upgrade", "keep-alive, Upgrade", "close"}))
                        .append("\r\n");
            } else {
                clean = false;
            }
            if (data.consumeBoolean()) {
                r.append("Sec-WebSocket-Key: ").append(data.pickValue(
                        new String[] {"dGhlIHNhbXBsZSBub25jZQ==", "", "not base64!"})).append("\r\n");
            }
            if (data.consumeBoolean()) {
                r.append("Sec-WebSocket-Version: ").append(data.pickValue(new String[] {"13", "8", "x"}))
                        .append("\r\n");
            }
            int origins = data.consumeInt(0, 2);
            for (int i = 0; i < origins; i++) {
                r.append("Origin: ").append(data.pickValue(new String[] {ALLOWED_ORIGIN, "https://evil.example"}))
                        .append("\r\n");
            }
            if (data.consumeBoolean()) { // anything, even an early end of the header block
                clean = false;
                r.append(data.consumeAsciiString(40)).append("\r\n");
            }
            if (data.consumeBoolean()) {
                byte[] body = data.consumeBytes(data.consumeInt(0, 2 * MAX_REQUEST));
                r.append("Content-Length: ").append(body.length).append("\r\n\r\n");
                out.writeBytes(r.toString().getBytes(StandardCharsets.ISO_8859_1));
                out.writeBytes(body);
                clean = false;
                return;
            }
            r.append("\r\n");
            log.add(r.toString());
            out.writeBytes(r.toString().getBytes(StandardCharsets.ISO_8859_1));
        }

        void unit(FuzzedDataProvider data) {
            switch (data.consumeInt(0, 5)) {
                case 0 -> { // a binary message, maybe fragmented, maybe with a ping between the fragments
                    byte[] payload = data.consumeBoolean() ? PING_FRAME : data.consumeBytes(data.consumeInt(0, 400));
                    if (payload.length > MAX_FRAME) {
                        clean = false;
                    } else {
                        try {
                            Frame.parseFrom(payload);
                        } catch (InvalidProtocolBufferException e) {
                            clean = false;
                        }
                    }
                    int fragments = data.consumeInt(1, 3);
                    int from = 0;
                    for (int f = 0; f < fragments; f++) {
                        int to = f == fragments - 1 ? payload.length : data.consumeInt(from, payload.length);
                        frame(data, f == fragments - 1, f == 0 ? 2 : 0, Arrays.copyOfRange(payload, from, to));
                        from = to;
                        if (f < fragments - 1 && data.consumeBoolean()) {
                            ping(data);
                        }
                    }
                    messages.add(payload);
                }
                case 1 -> { // text: refused, any content
                    clean = false;
                    frame(data, true, 1, data.consumeBytes(data.consumeInt(0, 100)));
                }
                case 2 -> ping(data);
                case 3 -> frame(data, true, 10, data.consumeBytes(data.consumeInt(0, 125)));
                case 4 -> { // close
                    clean = false;
                    frame(data, true, 8, data.consumeBytes(data.consumeInt(0, 20)));
                }
                default -> { // anything
                    clean = false;
                    int opcode = data.consumeInt(0, 15);
                    unmodeled |= opcode <= 2;
                    frame(data, data.consumeBoolean(), opcode, data.consumeBytes(data.consumeInt(0, 200)));
                }
            }
        }

        private void ping(FuzzedDataProvider data) {
            byte[] payload = data.consumeBytes(data.consumeInt(0, 130));
            if (payload.length > 125) {
                clean = false;
            }
            frame(data, true, 9, payload);
        }

        /** Writes one frame; now and then unmasked, with reserved bits or with a non-minimal length (all invalid). */
        private void frame(FuzzedDataProvider data, boolean fin, int opcode, byte[] payload) {
            int flaw = data.consumeInt(0, 19); // 1: unmasked, 2: reserved bits, 3: non-minimal length
            if (flaw >= 1 && flaw <= 3) {
                clean = false;
            }
            log.add("op " + opcode + (fin ? "" : " (not fin)") + " flaw " + flaw + " len " + payload.length);
            if (opcode == 9) {
                pings.add(payload);
            } else if (opcode == 8 && closeStatus == null) {
                closeStatus = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : -1;
            }
            out.write((fin ? 0x80 : 0) | (flaw == 2 ? 0x40 : 0) | opcode);
            int mask = flaw == 1 ? 0 : 0x80;
            if (payload.length < 126 && flaw != 3) {
                out.write(mask | payload.length);
            } else if (payload.length < 65536) {
                out.write(mask | 126);
                out.write(payload.length >> 8);
                out.write(payload.length);
            } else {
                throw new IllegalStateException("payloads are small");
            }
            byte[] key = new byte[4];
            masks.nextBytes(key);
            if (mask != 0) {
                out.writeBytes(key);
            }
            for (int i = 0; i < payload.length; i++) {
                out.write(mask != 0 ? payload[i] ^ key[i & 3] : payload[i]);
            }
        }

        /** The binary messages as the core would get them, up to the first that does not parse. */
        List<Frame> binaryMessages() {
            List<Frame> frames = new ArrayList<>();
            for (byte[] m : messages) {
                try {
                    frames.add(Frame.parseFrom(m));
                } catch (InvalidProtocolBufferException e) {
                    break;
                }
            }
            return frames;
        }
    }

    /** What the server wrote: HTTP responses, then (after a 101) WebSocket frames. */
    private static final class Server {
        final byte[] bytes;
        int pos;
        int status;
        boolean upgraded;
        final List<String> log = new ArrayList<>();

        Server(byte[] bytes) {
            this.bytes = bytes;
            while (pos < bytes.length && !upgraded) {
                response();
            }
        }

        private void response() {
            String head = new String(bytes, pos, bytes.length - pos, StandardCharsets.ISO_8859_1);
            int end = head.indexOf("\r\n\r\n");
            assertTrue(head.startsWith("HTTP/1.1 ") && end > 0, "not an HTTP response: " + head);
            status = Integer.parseInt(head.substring(9, 12));
            int length = 0;
            for (String line : head.substring(0, end).split("\r\n")) {
                if (line.toLowerCase().startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).trim());
                }
            }
            pos += end + 4 + length;
            upgraded = status == 101;
            if (status != 100 && !upgraded) {
                assertEquals(bytes.length, pos, "bytes after the final response");
            }
        }

        void checkFrames(Client client, boolean open) {
            boolean errorSent = false;
            boolean closeSent = false;
            while (pos < bytes.length) {
                assertFalse(closeSent, "a frame after the close frame");
                int b0 = bytes[pos] & 0xff;
                int length = bytes[pos + 1] & 0x7f;
                assertEquals(0, bytes[pos + 1] & 0x80, "a masked server frame");
                pos += 2;
                if (length == 126) {
                    length = ((bytes[pos] & 0xff) << 8) | (bytes[pos + 1] & 0xff);
                    pos += 2;
                } else if (length == 127) {
                    fail("a server frame over 64 KiB");
                }
                byte[] payload = Arrays.copyOfRange(bytes, pos, pos + length);
                pos += length;
                log.add("op " + (b0 & 0x0f) + " " + (b0 == 0x88 && length >= 2 ? "status " + (((payload[0] & 0xff) << 8)
                        | (payload[1] & 0xff)) + " " + new String(payload, 2, length - 2, StandardCharsets.UTF_8)
                        : "len " + length));
                assertEquals(0x80, b0 & 0xf0, "a fragmented or extended server frame");
                switch (b0 & 0x0f) {
                    case 2 -> {
                        Frame frame;
                        try {
                            frame = Frame.parseFrom(payload);
                        } catch (InvalidProtocolBufferException e) {
                            throw new AssertionError("server sent an unparsable frame", e);
                        }
                        log.add(frame.getError().getMessage());
                        ErrorCode code = frame.getError().getCode();
                        assertTrue(code == ErrorCode.ERROR_CODE_BAD_FRAME
                                || code == ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, "server sent " + frame);
                        errorSent = true;
                    }
                    case 10 -> assertTrue(client.pings.stream().anyMatch(p -> Arrays.equals(p, payload)),
                            "a pong echoing no ping");
                    case 8 -> {
                        closeSent = true;
                        int statusCode = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : -1;
                        boolean echo = client.closeStatus != null && client.closeStatus == statusCode;
                        assertTrue(echo || SERVER_CLOSE_STATUSES.contains(statusCode),
                                "close status " + statusCode + " (client sent " + client.closeStatus + ")");
                    }
                    default -> fail("server sent opcode " + (b0 & 0x0f));
                }
            }
            if (errorSent) {
                assertTrue(closeSent, "an error frame without a close");
            }
            if (closeSent) {
                assertFalse(open, "still open after the close frame");
            }
        }
    }
}
