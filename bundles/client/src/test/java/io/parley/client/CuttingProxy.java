package io.parley.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback that forwards to {@link #target} and cuts connections on demand: {@link #cutUpAfter} /
 * {@link #cutDownAfter} arm a one-shot cut that closes both sides of the connection carrying the byte that crosses
 * the given count of bytes forwarded client → server (up) or server → client (down), counted across all connections
 * from the moment of arming; {@link #stallDownAfter} likewise stops forwarding on such a connection without closing
 * it. Counts every byte, connection, cut and stall. Two daemon threads per connection.
 */
final class CuttingProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile int target;
    final AtomicLong up = new AtomicLong();
    final AtomicLong down = new AtomicLong();
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger cuts = new AtomicInteger();
    final AtomicInteger stalls = new AtomicInteger();
    /** Cut when {@link #up} passes this; -1 when disarmed. */
    private final AtomicLong cutUpAt = new AtomicLong(-1);
    private final AtomicLong cutDownAt = new AtomicLong(-1);
    /** Stall when {@link #down} passes this; -1 when disarmed. */
    private final AtomicLong stallDownAt = new AtomicLong(-1);

    CuttingProxy() throws IOException {
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(this::accept, "cutting-proxy-accept");
        accept.setDaemon(true);
        accept.start();
    }

    /** {@code http://127.0.0.1:<port>} */
    String url() {
        return "http://127.0.0.1:" + listener.getLocalPort();
    }

    /** Forwards new connections to {@code 127.0.0.1:port}. */
    void target(int port) {
        this.target = port;
    }

    /** Cuts the connection that carries the client's {@code bytes}-th byte from now on. */
    void cutUpAfter(long bytes) {
        cutUpAt.set(up.get() + bytes);
    }

    /** Cuts the connection that carries the server's {@code bytes}-th byte from now on. */
    void cutDownAfter(long bytes) {
        cutDownAt.set(down.get() + bytes);
    }

    /**
     * Stops forwarding server → client on the connection that carries the server's {@code bytes}-th byte from now on,
     * keeping it open until the client closes it: a connection gone silent.
     */
    void stallDownAfter(long bytes) {
        stallDownAt.set(down.get() + bytes);
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket();
                server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), target), 2000);
                sockets.add(client);
                sockets.add(server);
                connections.incrementAndGet();
                pump(client, server, up, cutUpAt, null, "up");
                pump(server, client, down, cutDownAt, stallDownAt, "down");
            } catch (IOException e) {
                if (listener.isClosed()) {
                    return;
                }
            }
        }
    }

    private void pump(Socket from, Socket to, AtomicLong count, AtomicLong cutAt, AtomicLong stallAt, String name) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    long before = count.get();
                    long stall = stallAt == null ? -1 : stallAt.get();
                    if (stall >= 0 && before + n >= stall && stallAt.compareAndSet(stall, -1)) {
                        int pass = (int) Math.max(0, stall - before);
                        out.write(buf, 0, pass);
                        out.flush();
                        count.addAndGet(pass);
                        stalls.incrementAndGet();
                        while (!to.isClosed()) {   // until the client gives up on the connection
                            Thread.sleep(10);
                        }
                        break;
                    }
                    long at = cutAt.get();
                    if (at >= 0 && before + n >= at && cutAt.compareAndSet(at, -1)) {
                        int pass = (int) Math.max(0, at - before);
                        out.write(buf, 0, pass);
                        out.flush();
                        count.addAndGet(pass);
                        cuts.incrementAndGet();
                        break;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                    count.addAndGet(n);
                }
            } catch (IOException e) {
                // the other direction closed the connection
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "cutting-proxy-" + name);
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        sockets.forEach(CuttingProxy::closeQuietly);
    }
}
