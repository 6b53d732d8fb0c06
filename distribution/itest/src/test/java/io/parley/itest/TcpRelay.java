package io.parley.itest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A byte-for-byte TCP relay on 127.0.0.1, for any protocol (RESP between a node and Redis, Parley frames between a
 * client and a node — unlike {@link ChaosProxy}, which parses Parley frames). New connections go to the upstream
 * port named last ({@link #to}), as through a load balancer; {@link #cutAll} resets every live connection on both
 * sides; while {@link #refuse refusing}, new connections are reset as soon as they are accepted (a partition).
 *
 * <p>Threads: one accept thread and two per connection, daemons, all ended by {@link #close}.
 */
final class TcpRelay implements AutoCloseable {
    private record Link(Socket client, Socket server, int upstream) {
    }

    private final ServerSocket listener;
    private final Map<Long, Link> links = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong cut = new AtomicLong();
    private volatile int upstream;
    private volatile boolean refusing;

    TcpRelay(int upstream) throws IOException {
        this.upstream = upstream;
        listener = new ServerSocket();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), ServerProcess.freePort()), 256);
        Thread accept = new Thread(this::accept, "tcp-relay-accept");
        accept.setDaemon(true);
        accept.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** New connections go to {@code port}; live ones stay where they are. */
    void to(int port) {
        upstream = port;
    }

    /** While {@code on}, connections are reset as soon as they are accepted. */
    void refuse(boolean on) {
        refusing = on;
    }

    /** Resets every live connection, both sides. @return how many were cut */
    int cutAll() {
        int n = 0;
        for (Long id : new ArrayList<>(links.keySet())) {
            Link l = links.remove(id);
            if (l != null) {
                reset(l.client());
                reset(l.server());
                n++;
            }
        }
        cut.addAndGet(n);
        return n;
    }

    /** @return live connections relayed to {@code port} */
    long linksTo(int port) {
        return links.values().stream().filter(l -> l.upstream() == port).count();
    }

    long accepted() {
        return accepted.get();
    }

    /** @return connections cut by {@link #cutAll} */
    long cut() {
        return cut.get();
    }

    private void accept() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException closed) {
                return;
            }
            accepted.incrementAndGet();
            if (refusing) {
                reset(client);
                continue;
            }
            int port = upstream;
            Socket server = new Socket();
            try {
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            } catch (IOException refused) {
                reset(client);
                reset(server);
                continue;
            }
            long id = ids.incrementAndGet();
            links.put(id, new Link(client, server, port));
            pump(id, client, server);
            pump(id, server, client);
        }
    }

    private void pump(long id, Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[16384];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException ended) {
                // a side went away or the link was cut
            } finally {
                links.remove(id);
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "tcp-relay-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // already closed
        }
        closeQuietly(s);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        closeQuietly2(listener);
        cutAll();
    }

    private static void closeQuietly2(ServerSocket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
