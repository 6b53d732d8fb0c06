package io.parley.itest;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.client.Bodies;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The assembled server with the mvstore on a real, small filesystem (an 8 MiB tmpfs; the build machines and
 * CI run as root, and a failed mount fails the test) that fills up: sends get a retryable UNAVAILABLE, reads keep
 * working, {@code /health} says DOWN and why, and everything comes back by itself when space is freed.
 */
class DiskFullIT {
    @TempDir
    Path work;
    private ServerProcess server;
    private Path store;
    private boolean mounted;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        // mvstore: its file fits an 8 MiB disk; rocksdb's own disk-full test (RocksStoreDiskFullTest, a real tmpfs)
        // covers the default store
        server = new ServerProcess(work).useStore("mvstore");
        store = Files.createDirectories(server.home.resolve("data/store"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", store.toString())
                .redirectErrorStream(true).start();
        String output = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (mount.waitFor() != 0) {
            fail("cannot mount a tmpfs at " + store + ": " + output + " (this test needs root, as on the build "
                    + "machines and CI)");
        }
        mounted = true;
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (server != null) {
                server.close();
            }
        } finally {
            if (mounted) {
                Process umount = new ProcessBuilder("umount", "-l", store.toString()).redirectErrorStream(true).start();
                umount.getInputStream().readAllBytes();
                umount.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aFullDiskRefusesSendsRetryablyKeepsReadsReportsDownAndRecoversByItself() throws Exception {
        String token = server.tokens().mint("alice", null, Duration.ofMinutes(10));
        try (RawConnection alice = new RawConnection("127.0.0.1", server.port)) {
            alice.send(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                    .setToken(token).setDeviceId("laptop")).build());
            assertTrue(alice.read().hasHelloOk());
            long rid = 10;
            for (int i = 1; i <= 5; i++) {
                Frame ack = request(alice, send(rid++, "before " + i));
                assertEquals(i, ack.getSendAck().getSeq(), ack.toString());
            }
            assertHealth(200, "UP");

            Path filler = store.resolve("filler");
            fill(filler);
            // the next commit fails: the send is refused, retryably, and nothing is stored
            Frame refused = request(alice, send(rid++, "while full"));
            assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refused.getError().getCode(), refused.toString());
            assertTrue(refused.getError().getRetryable(), refused.toString());
            Frame again = request(alice, send(rid++, "still full"));
            assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, again.getError().getCode(), again.toString());
            String down = assertHealth(503, "DOWN");
            assertTrue(down.contains("cannot write"), down);
            // reads keep working: the whole history so far
            Frame history = request(alice, Frame.newBuilder().setRequestId(rid++).setSync(SyncRequest.newBuilder()
                    .setRange(SyncRequest.Range.newBuilder().setConversation("d:alice:bob").setFromSeq(1)
                            .setLimit(100))).build());
            assertEquals(5, history.getSyncResponse().getMessagesCount(), history.toString());

            Files.delete(filler);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            Frame ack;
            do {
                Thread.sleep(250);
                ack = request(alice, send(rid++, "after"));
            } while (ack.hasError() && System.nanoTime() < deadline);
            assertEquals(6, ack.getSendAck().getSeq(), "the next seq, no gap and no reuse: " + ack);
            assertHealth(200, "UP");
        }
        assertTrue(server.log().contains("Refusing writes"), "the failure is logged");
    }

    private static Frame send(long rid, String text) {
        return Frame.newBuilder().setRequestId(rid).setSend(Send.newBuilder().setPeer("bob").setType(Bodies.TEXT_TYPE)
                .setClientMsgId("m-" + rid).setBody(Bodies.text(text))).build();
    }

    /** Sends and returns the answer with the same request id (skipping deliveries and notices). */
    private static Frame request(RawConnection c, Frame frame) throws IOException {
        c.send(frame);
        while (true) {
            Frame f = c.read();
            if (f.getRequestId() == frame.getRequestId()) {
                return f;
            }
        }
    }

    private static void fill(Path filler) throws IOException {
        byte[] chunk = new byte[64 * 1024];
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(chunk);
            }
        } catch (IOException full) {
            if (!String.valueOf(full.getMessage()).contains("No space left")) {
                throw full;
            }
        }
    }

    private static String tail(String log) {
        return log.length() > 6000 ? log.substring(log.length() - 6000) : log;
    }

    private String assertHealth(int status, String state) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort
                + "/health")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(status, r.statusCode(), () -> r.body() + "\nserver log:\n" + tail(server.log()));
        assertTrue(r.body().contains("\"" + state + "\""), r.body());
        return r.body();
    }
}
