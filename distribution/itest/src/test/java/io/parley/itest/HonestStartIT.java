package io.parley.itest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/parley start} says "started" only when every component works: a transport whose port is taken, or a
 * configuration value that is not a number or out of range, makes it fail with a line naming the component, the
 * file and the key, and leaves no server behind.
 */
class HonestStartIT {

    private static BinParley.Result parley(Path home, String... args) throws Exception {
        return BinParley.run(home, Map.of("PARLEY_CDS", "0"), 120, args);
    }

    private static void assertRefused(Path home, String... expected) throws Exception {
        try {
            BinParley.Result start = parley(home, "start");
            assertNotEquals(0, start.exit(), start.output());
            assertTrue(start.output().contains("parley: not started:"), start.output());
            for (String e : expected) {
                assertTrue(start.output().contains(e), "expected \"" + e + "\" in:\n" + start.output());
            }
            assertEquals(3, parley(home, "status").exit(), "no server left running");
        } finally {
            parley(home, "stop");
        }
    }

    @Test
    void aTakenPortFailsTheStartAndNamesTheTransport(@TempDir Path dir) throws Exception {
        ServerProcess server = new ServerProcess(dir);
        try (ServerSocket squatter = new ServerSocket(server.port, 50, InetAddress.getByName("127.0.0.1"))) {
            assertRefused(server.home, "parley.transport.tcp", "Address already in use");
        }
        // and once the port is free the same installation starts
        BinParley.Result start = parley(server.home, "start");
        try {
            assertEquals(0, start.exit(), start.output());
            assertTrue(start.output().contains("parley: started"), start.output());
        } finally {
            parley(server.home, "stop");
        }
    }

    @Test
    void aValueThatIsNotANumberNamesFileAndKey(@TempDir Path dir) throws Exception {
        ServerProcess server = new ServerProcess(dir);
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.tcp.cfg"), "port", "77OO");
        assertRefused(server.home, "conf/parley.transport.tcp.cfg: port = 77OO is not a number");
    }

    @Test
    void aValueOutOfRangeNamesTheKey(@TempDir Path dir) throws Exception {
        ServerProcess server = new ServerProcess(dir);
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.websocket.cfg"), "idle.timeout.seconds", "-5");
        assertRefused(server.home, "parley.transport.websocket", "idle.timeout.seconds must be >= 0",
                "conf/parley.transport.websocket.cfg");
    }
}
