package io.parley.itest;

import com.google.protobuf.Any;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Calls in the web client (docs/web-client.md, protocol.md §6i) between real headless Chromium instances with fake
 * cameras and microphones, through Parley's signalling in the assembled server (bundles/calls in deploy/): a video
 * call connects peer to peer, the callee's page plays the caller's stream (a video element with a size and an
 * advancing time), the call is hung up and the history shows it with the server's duration; every device of the
 * callee rings and stops when one answers. A second call forces relay-only ICE ({@code ?ice=relay}) through Debian's
 * coturn, started here with a shared secret on 127.0.0.1, and so proves the TURN credentials the server hands out
 * work. Screenshots go to {@code target/screenshots/}.
 *
 * <p>Fails (does not skip) without chromium, chromium-driver or coturn: {@code .ci/run} installs them.
 */
class BrowserCallIT {

    static final Path TURNSERVER = Path.of(System.getProperty("parley.turnserver", "/usr/bin/turnserver"));
    /** coturn's listening port and relay port range (this test's range: 24300-24399). */
    static final int TURN_PORT = 24300;
    static final int RELAY_MIN_PORT = 24310;
    static final int RELAY_MAX_PORT = 24399;
    static final String TURN_SECRET = "browser-call-it-turn-secret-0123456789";

    @TempDir
    static Path work;
    static ServerProcess server;
    static String webUrl;
    static Process turn;
    static Path turnLog;

    @BeforeAll
    static void start() throws Exception {
        MediaBrowser.requireChromium();
        if (!Files.isExecutable(TURNSERVER)) {
            fail("the call test needs coturn's " + TURNSERVER + ": apt-get install coturn (.ci/run does this when it is"
                    + " missing)");
        }
        turn = startCoturn();
        server = MediaServer.prepare(work);
        webUrl = MediaServer.webUrl(server);
        Path calls = server.home.resolve("conf/parley.calls.cfg");
        ServerProcess.setKey(calls, "turn.urls", "turn:127.0.0.1:" + TURN_PORT + "?transport=udp");
        ServerProcess.setKey(calls, "turn.secret", TURN_SECRET);
        server.start();
        MediaServer.awaitCommand(server, "call.turn");
    }

    /** coturn as the issue describes it: shared secret (TURN REST API), 127.0.0.1 only, no TLS, loopback peers. */
    static Process startCoturn() throws Exception {
        turnLog = Path.of("target/coturn-" + ProcessHandle.current().pid() + ".log").toAbsolutePath();
        Files.createDirectories(turnLog.getParent());
        Process p = new ProcessBuilder(TURNSERVER.toString(), "-n", "--verbose", "--simple-log", "--log-file=stdout",
                "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--listening-port=" + TURN_PORT,
                "--min-port=" + RELAY_MIN_PORT, "--max-port=" + RELAY_MAX_PORT,
                "--use-auth-secret", "--static-auth-secret=" + TURN_SECRET, "--realm=parley.test",
                "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--fingerprint",
                "--userdb=" + work.resolve("turndb"), "--pidfile=" + work.resolve("turnserver.pid"))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(turnLog.toFile()))
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                fail("turnserver exited with " + p.exitValue() + ": " + Files.readString(turnLog));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", TURN_PORT), 200);
                return p;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        p.destroyForcibly();
        fail("turnserver did not listen on " + TURN_PORT + " within 15 s: " + Files.readString(turnLog));
        return null;
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (turn != null) {
            turn.destroy();
            if (!turn.waitFor(10, TimeUnit.SECONDS)) {
                turn.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aVideoCallPlaysTheRemoteStreamRingsEveryDeviceAndIsLoggedWithItsDuration() throws Exception {
        try (MediaBrowser alice = new MediaBrowser("call-alice", webUrl);
             MediaBrowser bob = new MediaBrowser("call-bob", webUrl);
             MediaBrowser bobsOtherDevice = new MediaBrowser("call-bob-2", webUrl)) {
            alice.signIn(server.tokens().mint("calice", null, Duration.ofMinutes(30)));
            bob.signIn(server.tokens().mint("cbob", null, Duration.ofMinutes(30)));
            bobsOtherDevice.signIn(server.tokens().mint("cbob", null, Duration.ofMinutes(30)));
            alice.startChat("cbob");

            alice.click("#call-video");
            // every device of bob rings
            for (MediaBrowser device : List.of(bob, bobsOtherDevice)) {
                device.await(d -> device.displayed("#call-incoming") ? true : null);
                assertEquals("📞 calice is calling (video)", device.textIn("#call-incoming-text"));
            }
            alice.await(d -> "ringing".equals(alice.attribute("#call", "data-phase")) ? true : null);
            assertEquals("Calling cbob…", alice.textIn("#call-status"));
            alice.screenshot("call-1-alice-calling");
            bob.screenshot("call-1-bob-ringing");

            // bob answers on one device; the other stops ringing (it saw ACCEPTED by bob)
            bob.click("#call-accept");
            bobsOtherDevice.await(d -> bobsOtherDevice.displayed("#call-incoming") ? null : true);
            assertFalse(bobsOtherDevice.displayed("#call"), "the other device is not in the call");

            connected(alice, bob, "calice", "cbob", false);
            Thread.sleep(1500);
            alice.screenshot("call-2-alice-in-call");
            bob.screenshot("call-2-bob-in-call");

            bob.click("#call-hangup");
            loggedWithDuration(alice, bob, "d:calice:cbob", "call-3");
        }
    }

    @Test
    void aRelayOnlyCallGoesThroughCoturnWithTheServersTurnCredentials() throws Exception {
        try (MediaBrowser alice = new MediaBrowser("relay-alice", webUrl + "?ice=relay");
             MediaBrowser bob = new MediaBrowser("relay-bob", webUrl + "?ice=relay")) {
            alice.signIn(server.tokens().mint("ralice", null, Duration.ofMinutes(30)));
            bob.signIn(server.tokens().mint("rbob", null, Duration.ofMinutes(30)));
            alice.startChat("rbob");
            alice.click("#call-video");
            bob.await(d -> bob.displayed("#call-incoming") ? true : null);
            bob.click("#call-accept");

            connected(alice, bob, "ralice", "rbob", true);
            Thread.sleep(1500);
            alice.screenshot("relay-1-alice-in-call");
            bob.screenshot("relay-1-bob-in-call");
            // coturn accepted the credentials the server minted for each user (username "<expiry>:<user>")
            String log = Files.readString(turnLog);
            assertTrue(log.contains(":ralice") && log.contains(":rbob"), "coturn saw both users' TURN usernames:\n"
                    + tail(log));

            alice.click("#call-hangup");
            loggedWithDuration(alice, bob, "d:ralice:rbob", "relay-2");
        }
    }

    @Test
    void aDeclinedCallEndsForTheCallerAndIsLoggedOnBothSides() throws Exception {
        try (MediaBrowser carol = new MediaBrowser("decline-carol", webUrl);
             MediaBrowser dave = new MediaBrowser("decline-dave", webUrl)) {
            carol.signIn(server.tokens().mint("dcarol", null, Duration.ofMinutes(30)));
            dave.signIn(server.tokens().mint("ddave", null, Duration.ofMinutes(30)));
            carol.startChat("ddave");
            carol.click("#call-audio");
            dave.await(d -> dave.displayed("#call-incoming") ? true : null);
            assertEquals("📞 dcarol is calling", dave.textIn("#call-incoming-text"));
            dave.click("#call-reject");
            carol.await(d -> carol.displayed("#call") ? null : true);
            assertEquals("Declined", carol.textIn("#call-notice"));
            carol.await(d -> d.findElement(By.cssSelector("#messages li[data-type='call'][data-call-state='REJECTED']"))
                    .getText().equals("📞 Declined") ? true : null);
            dave.open("d:dcarol:ddave");
            dave.await(d -> d.findElement(By.cssSelector("#messages li[data-type='call'][data-call-state='REJECTED']"))
                    .getText().equals("📞 Declined") ? true : null);
            assertTrue(dave.driver.findElements(By.cssSelector("#messages li[data-call-state='RINGING']")).isEmpty(),
                    "RINGING is no line of its own");
            carol.screenshot("decline-1-carol");
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /**
     * Waits until both pages are in the connected call and each plays the other's stream: a remote video element
     * with a size and an advancing time; with {@code relay}, both connections use relay candidates.
     */
    static void connected(MediaBrowser caller, MediaBrowser callee, String callerName, String calleeName,
                          boolean relay) throws Exception {
        for (MediaBrowser page : List.of(caller, callee)) {
            page.await(d -> "connected".equals(page.attribute("#call", "data-phase")) ? true : null);
        }
        playing(callee, callerName);
        playing(caller, calleeName);
        if (relay) {
            for (MediaBrowser page : List.of(caller, callee)) {
                String route = page.await(d -> {
                    String r = page.attribute("#call", "data-route");
                    return r == null || r.isEmpty() ? null : r;
                });
                assertEquals("relay", route, page.name + ": the connection must go through TURN");
                assertTrue(page.textIn("#call-status").endsWith("· via relay"), page.textIn("#call-status"));
            }
        }
    }

    /** The remote video of {@code user} on this page has a frame size and its time advances. */
    static void playing(MediaBrowser page, String user) {
        String css = "#call-remote video[data-user='" + user + "']";
        double first = page.awaitNumber("const v = document.querySelector(arguments[0]);"
                + " return v && v.videoWidth > 0 && v.videoHeight > 0 && v.currentTime > 0.2 ? v.currentTime : null;",
                css);
        double later = page.awaitNumber("const v = document.querySelector(arguments[0]);"
                + " return v.currentTime > arguments[1] + 0.5 ? v.currentTime : null;", css, first);
        assertTrue(later > first, page.name + ": the remote stream's time advances");
        Object size = page.script("const v = document.querySelector(arguments[0]);"
                + " const r = v.getBoundingClientRect(); return r.width * r.height;", css);
        assertTrue(((Number) size).doubleValue() > 0, page.name + ": the remote video is shown with a size");
    }

    /**
     * After a hangup: both pages leave the call, and both histories show the ENDED call with the duration the server
     * stored (its text and the data-duration-ms of the line).
     */
    static void loggedWithDuration(MediaBrowser caller, MediaBrowser callee, String conversation, String label)
            throws Exception {
        for (MediaBrowser page : List.of(caller, callee)) {
            page.await(d -> page.displayed("#call") ? null : true);
        }
        Message ended = MediaServer.latest(server, conversation.split(":")[1], conversation, "call");
        Any body = ended.getBody();
        assertEquals(7, MediaServer.varint(body, 2), "the last call event is ENDED: " + ended);
        long durationMs = MediaServer.varint(body, 8);
        assertTrue(durationMs >= 1500, "the call lasted a few seconds: " + durationMs + " ms");
        String expected = "📞 Video call · " + MediaServer.formatDuration(durationMs);
        callee.open(conversation);
        for (MediaBrowser page : List.of(caller, callee)) {
            String css = "#messages li[data-type='call'][data-call-state='ENDED'][data-seq='" + ended.getSeq() + "']";
            page.await(d -> expected.equals(d.findElement(By.cssSelector(css)).getText()) ? true : null);
            assertEquals(Long.toString(durationMs), page.attribute(css, "data-duration-ms"));
            page.screenshot(label + "-" + page.name + "-history");
        }
    }

    static String tail(String log) {
        List<String> lines = log.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
