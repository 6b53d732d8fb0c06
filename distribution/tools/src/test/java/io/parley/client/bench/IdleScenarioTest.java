package io.parley.client.bench;

import io.parley.client.CoreServerAccess;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdleScenarioTest {
    private static final String SECRET = "0123456789abcdef0123456789abcdef";

    private static BenchOptions options(int port, String clients) {
        return BenchOptions.parse(new String[] {"--port", String.valueOf(port), "--secret", "s", "--scenario", "idle",
                "--clients", clients, "--duration", "300ms", "--threads", "1", "--connect-concurrency", "2"});
    }

    @Test
    void clientsConnectAndStayConnected() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            IdleResult r = new IdleScenario(options(server.port(), "5"), (user, device) -> user,
                    new PrintStream(log, true, StandardCharsets.UTF_8)).run();
            String text = log.toString(StandardCharsets.UTF_8);
            assertEquals(5, r.connected(), text);
            assertEquals(0, r.failed(), text);
            assertEquals(5, r.minConnected(), r.toTable());
            assertEquals(5, r.connectedAtEnd(), r.toTable());
            assertEquals(0, r.disconnects(), r.toTable());
            assertEquals(5, r.connect().count());
            assertTrue(r.connectsPerSecond() > 0, r.toTable());
            assertTrue(text.contains("idle: 5 connected, 0 failed"), text);
            assertTrue(r.toJson().startsWith("{\"scenario\":\"idle\",\"clients\":5,\"connected\":5,\"failed\":0,"),
                    r.toJson());
        }
    }

    @Test
    void refusedTokensCountAsFailures() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            // the test server's authenticator refuses tokens starting with "bad"
            IdleResult r = new IdleScenario(options(server.port(), "4"),
                    (user, device) -> user.endsWith("1") ? "bad" + user : user,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).run();
            assertEquals(3, r.connected(), r.toTable());
            assertEquals(1, r.failed(), r.toTable());
            assertEquals(3, r.connectedAtEnd(), r.toTable());
        }
    }

    @Test
    void noServerMeansExitCodeOne() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = BenchMain.run(new String[] {"--port", String.valueOf(port), "--secret", SECRET, "--scenario", "idle",
                "--clients", "2", "--duration", "100ms", "--threads", "1"}, new PrintStream(out),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertEquals(1, code);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("connected 0, failed 2"), out.toString());
    }

    @Test
    void idleAcceptsAnyPositiveClientCount() {
        assertEquals(3, options(1, "3").clients());
        assertThrows(IllegalArgumentException.class, () -> options(1, "0"));
    }
}
