package io.parley.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * {@code java -cp lib/parley-launcher.jar io.parley.launcher.ConsoleClient SOCKET}: connects the terminal to the
 * console of a running server ({@link Console}); used by {@code bin/parley shell}. Copies stdin to the socket and
 * the socket to stdout; at end of stdin it half-closes the socket, and it exits when the server ends the session.
 * Exit status 0, or 1 when no server listens on the socket.
 */
public final class ConsoleClient {
    private ConsoleClient() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ConsoleClient SOCKET");
            System.exit(2);
        }
        Path socket = Path.of(args[0]);
        SocketChannel channel;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            System.err.println("parley: no console at " + socket + " (" + e.getMessage()
                    + "): is the server running? (bin/parley status)");
            System.exit(1);
            return;
        }
        // stdin may block forever after the server ended the session ("exit"): a daemon thread reads it
        Thread fromStdin = new Thread(() -> {
            copy(System.in, Console.channelOut(channel));
            try {
                channel.shutdownOutput();
            } catch (IOException closed) {
                // the server ended the session
            }
        }, "console-in");
        fromStdin.setDaemon(true);
        fromStdin.start();
        copy(Console.channelIn(channel), System.out);
        channel.close();
        System.exit(0);
    }

    private static void copy(InputStream in, OutputStream out) {
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // closed
        }
    }
}
