package io.parley.itest;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Notice;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * A device on a bare TCP socket that reads only when told to: it can say hello, resume and then stop reading
 * (a slow consumer, or a catch-up stalled mid-stream) and, later, drain what the server left in the socket. It never
 * sends {@code DeliverAck}, so it moves no watermark. Not thread-safe.
 */
final class RawDevice implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private long nextRequestId = 1;

    /**
     * @param receiveBufferBytes the socket's receive buffer, set before connecting (it also bounds the TCP window
     *     the server sees, so a device that stops reading is noticed after little data)
     */
    RawDevice(int port, int receiveBufferBytes) throws IOException {
        socket = new Socket();
        socket.setReceiveBufferSize(receiveBufferBytes);
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setSoTimeout(10_000);
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** @return the local port: the server logs this connection as {@code 127.0.0.1:<localPort>} */
    int localPort() {
        return socket.getLocalPort();
    }

    HelloOk hello(String token, String deviceId) throws IOException {
        long rid = send(Frame.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setToken(token)
                .setDeviceId(deviceId).setClient("raw-device")));
        Frame f = read();
        if (!f.hasHelloOk() || f.getRequestId() != rid) {
            throw new IllegalStateException("expected HelloOk, got " + f);
        }
        return f.getHelloOk();
    }

    /** Sends {@code SyncRequest{resume{pageSize}}} and reads its first answer, the conversation list. */
    SyncResponse resume(int pageSize) throws IOException {
        long rid = send(Frame.newBuilder().setSync(SyncRequest.newBuilder()
                .setResume(SyncRequest.Resume.newBuilder().setPageSize(pageSize))));
        Frame f = read();
        if (!f.hasSyncResponse() || f.getRequestId() != rid) {
            throw new IllegalStateException("expected the resume's SyncResponse, got " + f);
        }
        return f.getSyncResponse();
    }

    /** Sends {@code frame} with the next request id; @return that id */
    long send(Frame.Builder frame) throws IOException {
        long rid = nextRequestId++;
        byte[] bytes = frame.setRequestId(rid).build().toByteArray();
        out.writeInt(bytes.length);
        out.write(bytes);
        out.flush();
        return rid;
    }

    Frame read() throws IOException {
        int length = in.readInt();
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return Frame.parseFrom(bytes);
    }

    /** What {@link #drainUntilClosed} found in the socket. */
    record Drained(long bytes, int frames, int deliveredMessages, Notice notice, boolean truncatedTail,
                   String ending) {
    }

    /**
     * Reads everything the server left in the socket until the connection ends.
     *
     * @return the totals, the last {@code Notice} seen (null if none), whether the stream ended inside a frame, and
     *     how it ended ({@code "EOF"} or the reset's message)
     * @throws SocketTimeoutException if nothing arrives for {@code quiet} before the end: the server did not close
     */
    Drained drainUntilClosed(Duration quiet) throws IOException {
        socket.setSoTimeout((int) quiet.toMillis());
        long bytes = 0;
        int frames = 0;
        int delivered = 0;
        Notice notice = null;
        while (true) {
            int length;
            try {
                length = in.readInt();
            } catch (EOFException e) {
                return new Drained(bytes, frames, delivered, notice, false, "EOF");
            } catch (SocketException e) {
                return new Drained(bytes, frames, delivered, notice, false, e.getMessage());
            }
            byte[] body = new byte[length];
            try {
                in.readFully(body);
            } catch (EOFException e) {
                return new Drained(bytes + 4, frames, delivered, notice, true, "EOF");
            } catch (SocketException e) {
                return new Drained(bytes + 4, frames, delivered, notice, true, e.getMessage());
            }
            bytes += 4 + length;
            frames++;
            Frame f = Frame.parseFrom(body);
            if (f.hasDeliver()) {
                delivered += f.getDeliver().getMessagesCount();
            } else if (f.hasNotice()) {
                notice = f.getNotice();
            }
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
