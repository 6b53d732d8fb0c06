package io.parley.client.bench;

import io.parley.client.CoreServerAccess;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GroupFanoutScenarioTest {
    private static final List<String> MEMBERS = IntStream.range(0, 6).mapToObj(i -> "fan-0000" + i).toList();

    private static BenchOptions options(int port, String... extra) {
        String[] base = {"--port", String.valueOf(port), "--secret", "s", "--scenario", "group-fanout",
                "--clients", "6", "--senders", "2", "--window", "4", "--duration", "800ms", "--warmup", "200ms",
                "--threads", "1", "--user-prefix", "fan-"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return BenchOptions.parse(all);
    }

    private static PrintStream logTo(ByteArrayOutputStream log) {
        return new PrintStream(log, true, StandardCharsets.UTF_8);
    }

    @Test
    void closedLoopDeliversEverySendToEveryOtherMember() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            BenchResult r = new GroupFanoutScenario(options(server.port(), "--timeline", "1s"), (user, device) -> user,
                    logTo(log)).run();
            String context = r.toTable() + log.toString(StandardCharsets.UTF_8);
            assertEquals(MEMBERS, server.groupMembers(onlyGroupOf(server, MEMBERS.get(0))), context);
            // the measured window is shorter than one slice: one slice holds every timed delivery
            assertEquals(1, r.timeline().size(), context);
            assertEquals(r.endToEnd().count(), r.timeline().get(0).delivered(), context);
            assertEquals(0, r.errors(), context);
            assertEquals(6, r.clients());
            assertEquals(2, r.senders());
            assertTrue(r.acked() > 20, context);
            // each message reaches the 5 other members; the window edges shift a few sends in or out
            double fanout = (double) r.delivered() / r.acked();
            assertTrue(fanout > 3.5 && fanout < 6.5, "fan-out " + fanout + "\n" + context);
            assertTrue(r.endToEnd().count() == r.delivered() && r.endToEnd().p50() > 0, context);
            assertTrue(r.endToEnd().p50() <= r.endToEnd().p99() && r.endToEnd().p99() <= r.endToEnd().max());
            assertTrue(r.toJson().startsWith("{\"scenario\":\"group-fanout\",\"clients\":6,\"senders\":2,"),
                    r.toJson());
            assertTrue(r.toTable().contains("6 clients (2 sending)"), r.toTable());
            // only the group's texts were sent: nothing reached a 1:1 conversation
            assertEquals(List.of(), server.texts("d:fan-00000:fan-00001"));
        }
    }

    @Test
    void fixedRateSendsAboutTheTargetRateToAGroupBuiltInSeveralRequests() throws Exception {
        try (CoreServerAccess server = new CoreServerAccess()) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            // 24 bytes of ids per request: Create with 2 members, then AddMembers of 2 and 1
            BenchResult r = new GroupFanoutScenario(options(server.port(), "--rate", "100"), (user, device) -> user,
                    logTo(log), 24).run();
            String context = r.toTable() + log.toString(StandardCharsets.UTF_8);
            assertEquals(MEMBERS, server.groupMembers(onlyGroupOf(server, MEMBERS.get(0))), context);
            assertEquals(0, r.errors(), context);
            // 100/s over 0.8 s = 80 sends, 400 deliveries; generous slack for a busy 2-core machine
            assertTrue(r.acked() > 40 && r.acked() < 100, context);
            assertTrue(r.delivered() > 4 * 40 && r.delivered() < 5 * 100, context);
        }
    }

    /** The id of the one group {@code user} is a member of: the scenario's. */
    private static String onlyGroupOf(CoreServerAccess server, String user) {
        List<String> ids = server.groupIds(user);
        assertEquals(1, ids.size(), "groups of " + user + ": " + ids);
        return ids.get(0);
    }

    @Test
    void memberIdsAreSplitByEncodedSize() {
        List<String> users = new ArrayList<>();
        for (int i = 0; i < 2500; i++) {
            users.add(String.format("bench-%05d", i));      // 11 bytes + 3 = 14 per id
        }
        List<List<String>> chunks = GroupFanoutScenario.chunks(users, 14 * 1000);
        assertEquals(List.of(1000, 1000, 500), chunks.stream().map(List::size).toList());
        assertEquals(users, chunks.stream().flatMap(List::stream).toList());
        assertEquals(List.of(List.of()), GroupFanoutScenario.chunks(List.of(), 100));
        assertEquals(List.of(List.of("a-very-long-id"), List.of("b")),
                GroupFanoutScenario.chunks(List.of("a-very-long-id", "b"), 5));
    }

    @Test
    void optionsAreValidated() {
        assertEquals(2, options(1).senders());
        assertEquals(10, BenchOptions.parse(new String[] {"--port", "1", "--secret", "s"}).senders());
        assertEquals(3, BenchOptions.parse(new String[] {"--port", "1", "--secret", "s", "--scenario",
                "group-fanout", "--clients", "3"}).clients());
        assertThrows(IllegalArgumentException.class, () -> options(1, "--senders", "7"));
        assertThrows(IllegalArgumentException.class, () -> options(1, "--senders", "0"));
        assertThrows(IllegalArgumentException.class, () -> options(1, "--clients", "1", "--senders", "1"));
    }
}
