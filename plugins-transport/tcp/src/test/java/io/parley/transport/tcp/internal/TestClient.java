package io.parley.transport.tcp.internal;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Ping;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A blocking client speaking the length-prefixed framing; every read gives up after five seconds. */
final class TestClient implements AutoCloseable {

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    TestClient(InetSocketAddress address) throws IOException {
        this(address, 0);
    }

    /** A client whose receive buffer is small, for slow-consumer tests. */
    static TestClient withSmallReceiveBuffer(InetSocketAddress address) throws IOException {
        return new TestClient(address, 4096);
    }

    /** A client over a socket that is already connected (e.g. a TLS socket). */
    TestClient(Socket connected) throws IOException {
        socket = connected;
        socket.setSoTimeout(5_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    private TestClient(InetSocketAddress address, int receiveBuffer) throws IOException {
        socket = new Socket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        socket.connect(address, 5_000);
        socket.setSoTimeout(5_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    void send(Frame frame) throws IOException {
        byte[] body = frame.toByteArray();
        out.writeInt(body.length);
        out.write(body);
        out.flush();
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    Frame read() throws IOException {
        int length = in.readInt();
        byte[] body = in.readNBytes(length);
        assertEquals(length, body.length, "truncated frame");
        return Frame.parseFrom(body);
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

    /** Sends a ping and asserts the matching pong comes back. */
    void pingPong(long id) throws IOException {
        send(Frame.newBuilder().setRequestId(id).setPing(Ping.newBuilder().setClientTime(id)).build());
        Frame pong = read();
        assertTrue(pong.hasPong(), () -> "expected Pong, got " + pong);
        assertEquals(id, pong.getRequestId());
    }

    /**
     * Asserts the server ended the connection (end of stream, or a reset) with nothing more to read, then closes this
     * side, as a client does on end of stream (the server lingers until then).
     */
    void assertClosedByServer() throws IOException {
        try {
            assertEquals(-1, in.read(), "expected end of stream");
        } catch (SocketException e) {
            // a reset is also a close
        }
        socket.close();
    }

    void shutdownOutput() throws IOException {
        socket.shutdownOutput();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
