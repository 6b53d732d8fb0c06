package io.parley.client.bench;

import io.parley.client.CoreServerAccess;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CatchUpScenarioTest {
    private static BenchOptions options(int port, String... extra) {
        String[] base = {"--port", String.valueOf(port), "--secret", "s", "--scenario", "catch-up", "--clients", "6",
                "--backlog", "7", "--rounds", "3", "--window", "3", "--threads", "1", "--connect-concurrency", "2"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return BenchOptions.parse(all);
    }

    @Test
    void everyRoundBringsEachReceiverItsBacklogExactlyOnce() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            CatchUpResult r = new CatchUpScenario(options(server.port()), (user, device) -> user,
                    new PrintStream(log, true, StandardCharsets.UTF_8)).run();
            String text = log.toString(StandardCharsets.UTF_8);
            assertEquals(3, r.rounds().size(), text);
            for (CatchUpResult.Round round : r.rounds()) {
                // rounds 2 and 3 get only their own backlog: the acks of the round before moved the watermark
                assertEquals(21, round.owed(), r.toTable());
                assertEquals(21, round.received(), r.toTable());
                assertEquals(0, round.missing(), r.toTable());
                assertEquals(0, round.duplicates(), r.toTable());
                assertEquals(3, round.connected(), r.toTable());
                assertEquals(3, round.catchUp().count(), r.toTable());
                assertTrue(round.catchUpSeconds() > 0 && round.receivedPerSecond() > 0, r.toTable());
            }
            assertTrue(r.complete(), r.toTable());
            assertTrue(text.contains("round 3: 21 owed, 3 receivers caught up in"), text);
            assertTrue(r.toJson().startsWith("{\"scenario\":\"catch-up\",\"clients\":6,\"backlog\":7,\"window\":3,"
                    + "\"message_bytes\":64,\"complete\":true,\"rounds\":[{\"round\":1,\"receivers\":3,\"owed\":21,"),
                    r.toJson());
        }
    }

    @Test
    void aReceiverThatCannotConnectLeavesItsBacklogMissingAndTheRunFails() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            // the test server's authenticator refuses tokens starting with "bad": receiver bench-00003 never connects
            CatchUpResult r = new CatchUpScenario(options(server.port(), "--rounds", "1"),
                    (user, device) -> user.endsWith("3") ? "bad" + user : user,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).run();
            CatchUpResult.Round round = r.rounds().get(0);
            assertEquals(21, round.owed(), r.toTable());
            assertEquals(1, round.failed(), r.toTable());
            assertEquals(14, round.received(), r.toTable());
            assertEquals(7, round.missing(), r.toTable());
            assertFalse(r.complete(), r.toTable());
            assertTrue(r.toJson().contains("\"complete\":false"), r.toJson());
        }
    }

    @Test
    void theMainKnowsTheScenarioAndExitsOneWhenNoServerAnswers() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = BenchMain.run(new String[] {"--port", String.valueOf(port), "--secret",
                "0123456789abcdef0123456789abcdef", "--scenario", "catch-up", "--clients", "4", "--threads", "1"},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String printed = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, code, printed);
        assertTrue(printed.contains("clients failed to connect"), printed);
        assertTrue(BenchOptions.USAGE.contains("catch-up"));
    }

    @Test
    void optionsNeedPairsAPositiveRoundCountAndNoNegativeBacklog() {
        assertEquals(100, BenchOptions.parse(new String[] {"--port", "1", "--secret", "s"}).backlog());
        assertEquals(3, BenchOptions.parse(new String[] {"--port", "1", "--secret", "s"}).rounds());
        assertThrows(IllegalArgumentException.class, () -> options(1, "--clients", "5"));
        assertThrows(IllegalArgumentException.class, () -> options(1, "--rounds", "0"));
        assertThrows(IllegalArgumentException.class, () -> options(1, "--backlog", "-1"));
    }
}
