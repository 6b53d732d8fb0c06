package io.parley.itest;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The configuration guard (system/parley-config-guard): a value in conf/ that does not fit its key's type or range
 * is refused at start (key, file and allowed range named, no server left running) and, edited into a running
 * server, logged with key, file and range while the value in force stays (the transport keeps its port); a good
 * edit next to it still applies. A value only the component can refuse makes it fail, and the guard brings back the
 * configuration it ran with.
 */
class ConfigGuardIT {
    /** Ports of this test (24400-24499 belong to the instance and configuration tests). */
    private static final int TCP = 24410;
    private static final int TCP_MOVED = 24411;
    private static final int WEBSOCKET = 24412;
    private static final int HTTP = 24413;

    private static BinParley.Result parley(Path home, String... args) throws Exception {
        return BinParley.run(home, Map.of("PARLEY_CDS", "0"), 120, args);
    }

    private static ServerProcess server(Path dir) throws IOException {
        ServerProcess server = new ServerProcess(dir);
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.tcp.cfg"), "port", Integer.toString(TCP));
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.websocket.cfg"), "port",
                Integer.toString(WEBSOCKET));
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.http.cfg"), "port", Integer.toString(HTTP));
        ServerProcess.setKey(server.home.resolve("conf/parley.blob.cfg"), "public.url", "http://127.0.0.1:" + HTTP);
        return server;
    }

    @Test
    void aValueOutOfRangeIsRefusedAtStartWithKeyFileAndRange(@TempDir Path dir) throws Exception {
        ServerProcess server = server(dir);
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.tcp.cfg"), "port", "70000");
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.websocket.cfg"), "tcp.nodelay", "yes");
        try {
            BinParley.Result start = parley(server.home, "start");
            assertNotEquals(0, start.exit(), start.output());
            assertTrue(start.output().contains("parley: not started:"), start.output());
            assertTrue(start.output().contains("parley.transport.tcp: conf/parley.transport.tcp.cfg: port = 70000 is out "
                    + "of range (allowed: an integer from 0 to 65535)"), start.output());
            // a value the component would silently read as false is refused too
            assertTrue(start.output().contains("conf/parley.transport.websocket.cfg: tcp.nodelay = yes is not true or "
                    + "false (allowed: true or false)"), start.output());
            assertEquals(3, parley(server.home, "status").exit(), "no server left running");
        } finally {
            parley(server.home, "stop");
        }
    }

    @Test
    void aBadValueEditedAtRuntimeIsLoggedAndTheOldValueStays(@TempDir Path dir) throws Exception {
        ServerProcess server = server(dir);
        Path tcpCfg = server.home.resolve("conf/parley.transport.tcp.cfg");
        try {
            BinParley.Result start = parley(server.home, "start");
            assertEquals(0, start.exit(), start.output());
            assertTrue(helloOk(TCP, server), "serving on " + TCP);

            ServerProcess.setKey(tcpCfg, "port", "77OO");
            String line = awaitLog(server, "conf/parley.transport.tcp.cfg: port = 77OO", Duration.ofSeconds(15));
            assertTrue(line.contains("conf/parley.transport.tcp.cfg: port = 77OO is not a number (allowed: an integer "
                    + "from 0 to 65535); keeping port = " + TCP), line);
            assertTrue(line.contains("WARN"), line);
            assertTrue(helloOk(TCP, server), "the old port stays in force");
            BinParley.Result status = parley(server.home, "status");
            assertEquals(0, status.exit(), status.output());

            // an edit with a good port next to the bad value of another key: the good part applies
            Path edit = tcpCfg.resolveSibling(".tcp.cfg.tmp");   // a dot-name FileInstall ignores, renamed into place
            Files.copy(tcpCfg, edit);
            ServerProcess.setKey(edit, "port", Integer.toString(TCP_MOVED));
            ServerProcess.setKey(edit, "idle.timeout.seconds", "ninety");
            Files.move(edit, tcpCfg, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            awaitLog(server, "idle.timeout.seconds = ninety is not a number", Duration.ofSeconds(15));
            assertTrue(awaitListening(TCP_MOVED, Duration.ofSeconds(15)), "the good edit moved the transport");
            assertTrue(helloOk(TCP_MOVED, server));
            assertFalse(listening(TCP), "the old port is closed");

            // a range only the component checks: it fails with the edit, and the guard restores what ran before
            ServerProcess.setKey(server.home.resolve("conf/parley.transport.websocket.cfg"), "idle.timeout.seconds", "-5");
            String refused = awaitLog(server, "conf/parley.transport.websocket.cfg: refused:", Duration.ofSeconds(20));
            assertTrue(refused.contains("idle.timeout.seconds must be >= 0: -5; keeping the previous configuration"),
                    refused);
            assertTrue(awaitListening(WEBSOCKET, Duration.ofSeconds(15)), "the WebSocket transport runs again");
        } finally {
            parley(server.home, "stop");
        }
    }

    private static boolean helloOk(int port, ServerProcess server) throws Exception {
        String token = server.tokens().mint("probe", null, Duration.ofMinutes(5));
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (System.nanoTime() < deadline) {
            try (RawConnection c = new RawConnection("127.0.0.1", port)) {
                c.send(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                        .setToken(token).setDeviceId("probe")).build());
                if (c.read().hasHelloOk()) {
                    return true;
                }
            } catch (IOException notYet) {
                // restarting
            }
            Thread.sleep(100);
        }
        return false;
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean awaitListening(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (listening(port)) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }

    /** @return the first line of logs/parley.log containing {@code text}, waiting up to {@code timeout} */
    private static String awaitLog(ServerProcess server, String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (String line : server.log().split("\n")) {
                if (line.contains(text)) {
                    return line;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no log line with \"" + text + "\" within " + timeout + "; log:\n" + server.log());
    }
}
