package io.parley.transport.http.internal;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * One HTTP/1.1 connection over a plain socket, so tests send exactly the bytes they mean (heads without bodies,
 * bodies cut short, pipelined requests) and see exactly what the server answers, and whether it closes.
 */
final class RawHttp implements Closeable {

    /** A response; header names lower-case. */
    record Response(int status, Map<String, List<String>> headers, byte[] body) {

        String header(String name) {
            List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
            return values == null ? null : values.get(0);
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return status + " " + headers + " " + (body.length > 300 ? body.length + " bytes" : text());
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    RawHttp(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(5000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** Builds a request head: {@code headers} as {@code "Name: value"} lines; {@code Host} is added. */
    static String head(String method, String target, String... headers) {
        StringBuilder b = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: localhost\r\n");
        for (String h : headers) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    RawHttp send(String head) throws IOException {
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return this;
    }

    RawHttp send(byte[] bytes) throws IOException {
        return send(bytes, 0, bytes.length);
    }

    RawHttp send(byte[] bytes, int from, int length) throws IOException {
        out.write(bytes, from, length);
        out.flush();
        return this;
    }

    /** Sends a request head and its body; returns the response. */
    Response exchange(String head, byte[] body) throws IOException {
        send(head);
        if (body != null) {
            try {
                send(body);
            } catch (SocketException e) {
                // refused from the head and closed while the body was being written: read the answer
            }
        }
        return read(head.startsWith("HEAD "));
    }

    /** Reads one response (its body by Content-Length; none for a HEAD, 1xx, 204 or 304). */
    Response read(boolean toHead) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                fail("closed before a complete response: " + head);
            }
            head.append((char) c);
        }
        String[] lines = head.toString().split("\r\n");
        int status = Integer.parseInt(lines[0].substring(9, 12));
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                    .add(lines[i].substring(colon + 1).trim());
        }
        byte[] body = new byte[0];
        List<String> length = headers.get("content-length");
        if (!toHead && status >= 200 && status != 204 && status != 304 && length != null) {
            body = in.readNBytes(Integer.parseInt(length.get(0)));
        }
        return new Response(status, headers, body);
    }

    Response read() throws IOException {
        return read(false);
    }

    /** @return true if the server closes the connection (end of stream or reset) within the socket's timeout */
    boolean closedByServer() throws IOException {
        try {
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) >= 0; ) {
                rest.write(buf, 0, n);
            }
            return true;
        } catch (SocketException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    void timeout(int millis) throws SocketException {
        socket.setSoTimeout(millis);
    }

    /** Closes at once, with a reset: as a killed client would. */
    void kill() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
