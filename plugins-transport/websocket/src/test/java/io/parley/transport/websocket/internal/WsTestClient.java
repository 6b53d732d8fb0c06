package io.parley.transport.websocket.internal;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Ping;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tiny blocking RFC 6455 client over a plain socket, so tests can send exactly the frames they want (fragments,
 * bad UTF-8, raw opcodes) and see exactly what the server sends. Every read gives up after five seconds.
 */
final class WsTestClient implements AutoCloseable {

    static final int CONTINUATION = 0x0;
    static final int TEXT = 0x1;
    static final int BINARY = 0x2;
    static final int CLOSE = 0x8;
    static final int PING = 0x9;
    static final int PONG = 0xA;

    /** One frame as received. */
    record WsFrame(int opcode, boolean fin, byte[] payload) {
        /** The status code of a close frame, or -1 if it has none. */
        int closeStatus() {
            assertEquals(CLOSE, opcode, "not a close frame");
            return payload.length >= 2 ? ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF) : -1;
        }
    }

    /** The server's answer to the upgrade request. */
    record HttpAnswer(int status, Map<String, String> headers, String body) {
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    WsTestClient(InetSocketAddress address) throws IOException {
        this(address, 0);
    }

    /** A client whose receive buffer is small, for slow-consumer tests. */
    static WsTestClient withSmallReceiveBuffer(InetSocketAddress address) throws IOException {
        return new WsTestClient(address, 4096);
    }

    private WsTestClient(InetSocketAddress address, int receiveBuffer) throws IOException {
        socket = new Socket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        socket.connect(address, 5_000);
        socket.setSoTimeout(5_000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** Upgrades on {@code path} without an Origin header and asserts 101. */
    WsTestClient upgrade(String path) throws IOException {
        HttpAnswer answer = request(path, null);
        assertEquals(101, answer.status(), () -> "upgrade refused: " + answer);
        return this;
    }

    /** Sends a WebSocket upgrade request (with {@code origin} if non-null) and reads the answer's head and body. */
    HttpAnswer request(String path, String origin) throws IOException {
        String key = Base64.getEncoder().encodeToString(randomBytes(16));
        StringBuilder request = new StringBuilder()
                .append("GET ").append(path).append(" HTTP/1.1\r\n")
                .append("Host: localhost\r\n")
                .append("Upgrade: websocket\r\n")
                .append("Connection: Upgrade\r\n")
                .append("Sec-WebSocket-Key: ").append(key).append("\r\n")
                .append("Sec-WebSocket-Version: 13\r\n");
        if (origin != null) {
            request.append("Origin: ").append(origin).append("\r\n");
        }
        request.append("\r\n");
        sendRaw(request.toString().getBytes(StandardCharsets.US_ASCII));
        HttpAnswer answer = readHttpAnswer();
        if (answer.status() == 101) {
            assertEquals(accept(key), answer.headers().get("sec-websocket-accept"));
        }
        return answer;
    }

    /** Reads an HTTP response head and, if it has a Content-Length, its body. */
    HttpAnswer readHttpAnswer() throws IOException {
        String statusLine = readLine();
        Map<String, String> headers = new LinkedHashMap<>();
        for (String line = readLine(); !line.isEmpty(); line = readLine()) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        String body = "";
        if (headers.containsKey("content-length")) {
            body = new String(in.readNBytes(Integer.parseInt(headers.get("content-length"))), StandardCharsets.UTF_8);
        }
        return new HttpAnswer(Integer.parseInt(statusLine.split(" ")[1]), headers, body);
    }

    /** Sends one masked frame. */
    void sendFrame(int opcode, boolean fin, byte[] payload) throws IOException {
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write((fin ? 0x80 : 0) | opcode);
        if (payload.length < 126) {
            frame.write(0x80 | payload.length);
        } else if (payload.length < 65_536) {
            frame.write(0x80 | 126);
            frame.write(payload.length >>> 8);
            frame.write(payload.length);
        } else {
            frame.write(0x80 | 127);
            frame.writeBytes(ByteBuffer.allocate(8).putLong(payload.length).array());
        }
        byte[] mask = randomBytes(4);
        frame.writeBytes(mask);
        byte[] masked = new byte[payload.length];
        for (int i = 0; i < payload.length; i++) {
            masked[i] = (byte) (payload[i] ^ mask[i & 3]);
        }
        frame.writeBytes(masked);
        sendRaw(frame.toByteArray());
    }

    /** Sends {@code frame} as one binary message. */
    void send(Frame frame) throws IOException {
        sendFrame(BINARY, true, frame.toByteArray());
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads the next frame, whatever it is. */
    WsFrame readFrame() throws IOException {
        int first = in.readUnsignedByte();
        int second = in.readUnsignedByte();
        assertEquals(0, second & 0x80, "server frames must not be masked");
        long length = second & 0x7F;
        if (length == 126) {
            length = in.readUnsignedShort();
        } else if (length == 127) {
            length = in.readLong();
        }
        byte[] payload = in.readNBytes((int) length);
        assertEquals(length, payload.length, "truncated frame");
        return new WsFrame(first & 0x0F, (first & 0x80) != 0, payload);
    }

    /** Reads the next frame and asserts it is one complete binary message holding a {@code Frame}. */
    Frame read() throws IOException {
        WsFrame frame = readFrame();
        assertEquals(BINARY, frame.opcode(), () -> "expected a binary message, got " + frame);
        assertTrue(frame.fin(), "server messages are not fragmented");
        return Frame.parseFrom(frame.payload());
    }

    /** Reads the next frame and asserts it is a close; returns its status. */
    int readClose() throws IOException {
        WsFrame frame = readFrame();
        assertEquals(CLOSE, frame.opcode(), () -> "expected a close frame, got opcode " + frame.opcode());
        return frame.closeStatus();
    }

    /** Answers the server's close (as a well-behaved client does) and asserts the server then closes the socket. */
    void completeClose(int status) throws IOException {
        sendFrame(CLOSE, true, new byte[] {(byte) (status >>> 8), (byte) status});
        assertClosedByServer();
    }

    /** Sends hello and returns the HelloOk. */
    Frame hello() throws IOException {
        send(Frame.newBuilder().setRequestId(1)
                .setHello(Hello.newBuilder().setProtocolVersion(1).setToken("t").setDeviceId("d"))
                .build());
        Frame ok = read();
        assertTrue(ok.hasHelloOk(), () -> "expected HelloOk, got " + ok);
        return ok;
    }

    /** Sends a Parley ping and asserts the matching pong comes back. */
    void pingPong(long id) throws IOException {
        send(Frame.newBuilder().setRequestId(id).setPing(Ping.newBuilder().setClientTime(id)).build());
        Frame pong = read();
        assertTrue(pong.hasPong(), () -> "expected Pong, got " + pong);
        assertEquals(id, pong.getRequestId());
    }

    /** Asserts the server closed the socket (end of stream or reset) with nothing more to read. */
    void assertClosedByServer() throws IOException {
        try {
            assertEquals(-1, in.read(), "expected end of stream");
        } catch (SocketException e) {
            // a reset is also a close
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != '\n') {
            if (b < 0) {
                throw new IOException("end of stream in an HTTP head");
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.US_ASCII);
    }

    private static String accept(String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-1").digest(
                    (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(digest);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] randomBytes(int count) {
        byte[] bytes = new byte[count];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }
}
