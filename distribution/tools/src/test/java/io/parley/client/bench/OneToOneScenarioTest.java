package io.parley.client.bench;

import io.netty.channel.epoll.EpollSocketChannel;
import io.parley.client.ClientResources;
import io.parley.client.CoreServerAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OneToOneScenarioTest {
    private static BenchOptions options(int port, String... extra) {
        String[] base = {"--port", String.valueOf(port), "--secret", "s", "--clients", "6", "--window", "4",
                "--duration", "800ms", "--warmup", "200ms", "--threads", "1"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return BenchOptions.parse(all);
    }

    @Test
    void closedLoopRunMeasuresDeliveriesAcksAndLatency() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            BenchResult r = new OneToOneScenario(options(server.port()), (user, device) -> user,
                    new PrintStream(log, true, StandardCharsets.UTF_8)).run();
            assertEquals(0, r.errors(), log.toString(StandardCharsets.UTF_8));
            assertTrue(r.acked() > 0 && r.delivered() > 0, r.toTable());
            assertTrue(r.endToEnd().count() > 0 && r.endToEnd().p50() > 0, r.toTable());
            assertTrue(r.endToEnd().p50() <= r.endToEnd().p99() && r.endToEnd().p99() <= r.endToEnd().max());
            assertTrue(r.toJson().startsWith("{\"scenario\":\"one-to-one\",\"clients\":6,\"senders\":6,"),
                    r.toJson());
            assertTrue(r.toTable().contains("delivered messages"));
        }
    }

    /** On Linux x86-64 the native transports must load (their libraries are test dependencies): no skipping. */
    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll", "io_uring"})
    void clientsRunOnEachSocketLayer(String io) throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            BenchResult r = new OneToOneScenario(options(server.port(), "--io", io), (user, device) -> user,
                    new PrintStream(log, true, StandardCharsets.UTF_8)).run();
            String out = log.toString(StandardCharsets.UTF_8);
            assertEquals(0, r.errors(), out);
            assertTrue(r.acked() > 0 && r.delivered() > 0, r.toTable());
            // the label names the channel class the clients were built on, not the option given
            assertTrue(out.contains("(sockets: " + io + ")"), out);
        }
    }

    @Test
    void socketLayerAutoIsEpollOnLinuxAndUnknownOnesAreRefused() {
        assertEquals("auto", BenchOptions.parse(new String[] {"--port", "1", "--secret", "s"}).io());
        try (ClientResources auto = BenchIo.resources("auto", 1)) {
            assertEquals("epoll", BenchIo.name(auto));
            assertEquals(EpollSocketChannel.class, auto.channelType());
        }
        assertEquals("io_uring", BenchOptions.parse(new String[] {"--port", "1", "--secret", "s", "--io",
                "IO_URING"}).io());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[] {"--port", "1", "--secret", "s", "--io", "kqueue"}));
        assertTrue(e.getMessage().contains("--io: kqueue"), e.getMessage());
    }

    @Test
    void closedLoopRunOverWebSocket() throws Exception {
        try (CoreServerAccess server = CoreServerAccess.webSocket()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            BenchResult r = new OneToOneScenario(options(server.port(), "--transport", "ws"),
                    (user, device) -> user, new PrintStream(log, true, StandardCharsets.UTF_8)).run();
            assertEquals(0, r.errors(), log.toString(StandardCharsets.UTF_8));
            assertEquals(0, r.reconnects(), log.toString(StandardCharsets.UTF_8));
            assertTrue(r.acked() > 0 && r.delivered() > 0, r.toTable());
            assertTrue(r.toJson().endsWith(",\"transport\":\"ws\",\"timeline\":[]}"), r.toJson());
            assertTrue(r.toTable().contains("transport ws"), r.toTable());
        }
    }

    @Test
    void fixedRateRunSendsAboutTheTargetRate() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            BenchResult r = new OneToOneScenario(options(server.port(), "--rate", "300"), (user, device) -> user,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).run();
            assertEquals(0, r.errors());
            // 300/s over 0.8 s = 240 sends; allow generous slack for a busy 2-core machine
            assertTrue(r.acked() > 120 && r.acked() < 300, r.toTable());
        }
    }

    /** The measured window in slices: every timed delivery lands in exactly one, in order. */
    @Test
    void timelineCutsTheMeasuredWindowIntoSlices() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            BenchResult r = new OneToOneScenario(options(server.port(), "--timeline", "300ms"),
                    (user, device) -> user, new PrintStream(new ByteArrayOutputStream(), true,
                    StandardCharsets.UTF_8)).run();
            assertEquals(0, r.errors(), r.toTable());
            // 800 ms in slices of 300 ms: 0-300, 300-600 and the short 600-800
            assertEquals(List.of(0.0, 0.3, 0.6), r.timeline().stream().map(BenchResult.Slice::startSeconds).toList());
            assertEquals(r.endToEnd().count(), r.timeline().stream().mapToLong(BenchResult.Slice::delivered).sum(),
                    r.toTable());
            assertTrue(r.endToEnd().count() > 0, r.toTable());
            // a slice may stay empty if the machine stalls for its whole length; the others are ordered
            for (BenchResult.Slice slice : r.timeline()) {
                if (slice.delivered() > 0) {
                    assertTrue(slice.p50() > 0 && slice.p50() <= slice.p99() && slice.p99() <= slice.max(),
                            r.toTable());
                    assertTrue(slice.max() <= r.endToEnd().max(), r.toTable());
                }
            }
            assertTrue(r.timeline().stream().anyMatch(s -> s.max() == r.endToEnd().max()), r.toTable());
            assertTrue(r.toJson().contains(",\"timeline\":[{\"start_s\":0.000,\"delivered\":"
                    + r.timeline().get(0).delivered() + ","), r.toJson());
            assertTrue(r.toJson().endsWith("}]}"), r.toJson());
            assertTrue(r.toTable().contains("send -> delivery by"), r.toTable());
            assertTrue(r.toTable().contains("  0.600 s"), r.toTable());
        }
    }

    @Test
    void timelineIsOffByDefaultAndBounded() {
        assertEquals(Duration.ZERO, BenchOptions.parse(new String[] {"--port", "1", "--secret", "s"}).timeline());
        assertEquals(Duration.ofSeconds(1), BenchOptions.parse(new String[] {"--port", "1", "--secret", "s",
                "--timeline", "1s", "--duration", "1h"}).timeline());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(
                new String[] {"--port", "1", "--secret", "s", "--timeline", "999ms", "--duration", "1h"}));
        assertTrue(e.getMessage().contains("at most 3600 slices"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(
                new String[] {"--port", "1", "--secret", "s", "--timeline", "-1s"}));
    }

    @Test
    void payloadCarriesTheSendTime() {
        String text = MessageLoad.payload(123456789L, 64);
        assertEquals(64, text.length());
        assertEquals(123456789L, MessageLoad.sentAt(text));
        assertEquals(-1, MessageLoad.sentAt("hello world"));
    }

    @Test
    void unknownScenarioIsABadArgument() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = BenchMain.run(new String[] {"--port", "12345", "--secret", "s", "--scenario", "broadcast"},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown scenario broadcast"));
    }

    @Test
    void optionsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[] {"--port", "1"}));
        assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[] {"--port", "1", "--secret", "s", "--clients", "3"}));
        assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[] {"--port", "1", "--secret", "s", "--transport", "quic"}));
        assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(
                new String[] {"--port", "1", "--secret", "s", "--transport", "ws", "--path", "parley"}));
        BenchOptions ws = BenchOptions.parse(new String[] {"--port", "7701", "--secret", "s", "--transport", "WS"});
        assertEquals("ws://127.0.0.1:7701/parley", ws.webSocketUri(0).toString());
        assertEquals("ws://[::1]:7701/chat", BenchOptions.parse(new String[] {"--host", "::1", "--port", "7701",
                "--secret", "s", "--transport", "ws", "--path", "/chat"}).webSocketUri(0).toString());
        assertEquals("tcp", BenchOptions.parse(new String[] {"--port", "1", "--secret", "s"}).transport());
        BenchOptions nodes = BenchOptions.parse(new String[] {"--port", "7700, 7710,7720", "--secret", "s"});
        for (int i = 0; i < 12; i += 2) {   // a pair's partners are on different nodes
            assertTrue(nodes.port(i) != nodes.port(i ^ 1), "pair " + i);
        }
        assertEquals(7720, nodes.port(5));
        assertEquals("ws://127.0.0.1:7710/parley", BenchOptions.parse(new String[] {"--port", "7700,7710",
                "--secret", "s", "--transport", "ws"}).webSocketUri(3).toString());
        assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[] {"--port", "7700,0", "--secret", "s"}));
        assertEquals(1500, BenchOptions.parseDuration("1500ms").toMillis());
        assertEquals(120, BenchOptions.parseDuration("2m").toSeconds());
    }
}
