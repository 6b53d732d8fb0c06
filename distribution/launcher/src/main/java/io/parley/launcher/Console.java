package io.parley.launcher;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Gogo console of a running server: {@code bin/parley shell} connects to a Unix domain socket at
 * {@code data/console/parley.sock} ({@link ConsoleClient}) and gets a line-by-line Gogo session ({@code lb},
 * {@code scr:list}, {@code inspect}, {@code stop 0}). The socket's directory is created with mode 700, so only the
 * user the server runs as (and root) can connect: the same people who can read the admin token in conf/. In
 * {@code --shell} mode the same session runs on the process's stdin/stdout.
 *
 * <p>{@code exit} or end of input ends a session; a socket session leaves the server running. Gogo is called
 * reflectively through the runtime bundle's {@code CommandProcessor} service, like {@link ConfigAdminProbe}.
 *
 * <p>Threads: one accept thread ({@code parley-console}) and one thread per connected session; {@link #close}
 * stops all of them and removes the socket.
 */
final class Console implements Closeable {
    static final String PROCESSOR = "org.apache.felix.service.command.CommandProcessor";
    static final String PROMPT = "parley> ";
    /** Gogo's {@code Converter.INSPECT}: the detailed rendering of a command's result. */
    private static final int INSPECT = 0;

    private final BundleContext context;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Set<SocketChannel> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger count = new AtomicInteger();

    private Console(BundleContext context, Path socket, ServerSocketChannel server) {
        this.context = context;
        this.socket = socket;
        this.server = server;
    }

    /** The console socket of the installation at {@code home}. */
    static Path socketPath(Path home) {
        return home.resolve("data").resolve("console").resolve("parley.sock");
    }

    /**
     * Listens on {@code socket} (a stale file from an earlier run is replaced) and serves sessions until closed.
     *
     * @throws IOException if the socket cannot be created
     */
    static Console listen(BundleContext context, Path socket) throws IOException {
        Path dir = socket.getParent();
        Files.createDirectories(dir);
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException notPosix) {
            // not a POSIX file system: the directory keeps its permissions
        }
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Console console = new Console(context, socket, server);
        Thread accept = new Thread(console::acceptLoop, "parley-console");
        accept.setDaemon(true);
        accept.start();
        return console;
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (ClosedChannelException closed) {
                return;
            } catch (IOException e) {
                BootLog.warn("console: " + e);
                return;
            }
            sessions.add(channel);
            Thread t = new Thread(() -> {
                try (SocketChannel c = channel) {
                    run(context, channelIn(c), channelOut(c),
                            "'exit' or Ctrl-D leaves the console; the server keeps running ('stop 0' stops it)");
                } catch (IOException e) {
                    // the client went away
                } finally {
                    sessions.remove(channel);
                }
            }, "parley-console-" + count.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (SocketChannel c : sessions) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException ignored) {
            // best effort
        }
    }

    /**
     * Runs one console session: reads lines from {@code in}, runs each as a Gogo command and writes its output and
     * result to {@code out}, until {@code exit} or end of input.
     *
     * @param farewell the line that tells how the session ends, printed first
     */
    static void run(BundleContext context, InputStream in, OutputStream out, String farewell) throws IOException {
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        ServiceReference<?> ref = context.getServiceReference(PROCESSOR);
        Object processor = ref == null ? null : context.getService(ref);
        if (processor == null) {
            print.println("parley: no Gogo command processor is running (system/org.apache.felix.gogo.runtime)");
            return;
        }
        Object session = null;
        try {
            Bundle provider = ref.getBundle();
            Class<?> processorType = provider.loadClass(PROCESSOR);
            Class<?> sessionType = provider.loadClass("org.apache.felix.service.command.CommandSession");
            Method create = processorType.getMethod("createSession", InputStream.class, OutputStream.class,
                    OutputStream.class);
            Method execute = sessionType.getMethod("execute", CharSequence.class);
            Method format = sessionType.getMethod("format", Object.class, int.class);
            session = create.invoke(processor, new ByteArrayInputStream(new byte[0]), print, print);
            print.println("Parley console (Apache Felix Gogo): 'help' lists the commands (lb, scr:list, inspect, ...); "
                    + farewell + ".");
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            while (true) {
                print.print(PROMPT);
                print.flush();
                String line = lines.readLine();
                if (line == null) {
                    print.println();
                    return;
                }
                String command = line.strip();
                if (command.equals("exit") || command.startsWith("exit ")) {
                    return;
                }
                if (command.isEmpty() || command.startsWith("#")) {
                    continue;
                }
                try {
                    Object result = execute.invoke(session, command);
                    if (result != null) {
                        print.println(format.invoke(session, result, INSPECT));
                    }
                } catch (InvocationTargetException e) {
                    Throwable cause = e.getCause() == null ? e : e.getCause();
                    print.println("gogo: " + cause.getClass().getSimpleName()
                            + (cause.getMessage() == null ? "" : ": " + cause.getMessage()));
                }
                print.flush();
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            print.println("parley: the console failed: " + e);
        } finally {
            if (session != null) {
                try {
                    session.getClass().getMethod("close").invoke(session);
                } catch (ReflectiveOperationException | RuntimeException ignored) {
                    // already closed
                }
            }
            try {
                context.ungetService(ref);
            } catch (IllegalStateException ignored) {
                // the framework is stopping
            }
        }
    }

    /**
     * An InputStream reading the channel directly. {@code Channels.newInputStream} would hold the channel's blocking
     * lock while it waits, which blocks every write from another thread.
     */
    static InputStream channelIn(SocketChannel c) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                int n = c.read(ByteBuffer.wrap(b, off, len));
                return n < 0 ? -1 : n;
            }
        };
    }

    /** An OutputStream writing the channel directly (see {@link #channelIn}). */
    static OutputStream channelOut(SocketChannel c) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) {
                    c.write(buf);
                }
            }
        };
    }
}
