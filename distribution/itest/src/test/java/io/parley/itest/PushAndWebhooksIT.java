package io.parley.itest;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.core.proto.ErrorCode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HexFormat;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The push and webhooks bundles from extras/ in the assembled server, against a real local HTTP server standing in
 * for FCM and for the integrator's webhook endpoints: a device registers its push token with a command, goes offline
 * and is pushed; a before-send webhook vetoes; an after-send webhook gets the stored message, signed.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PushAndWebhooksIT {
    @TempDir
    static Path work;
    static ServerProcess server;
    static HttpServer endpoints;
    static final String SECRET = "webhook-test-secret-0123456789-abcdefghij";
    static final LinkedBlockingQueue<String> pushes = new LinkedBlockingQueue<>();
    static final LinkedBlockingQueue<String> afterSend = new LinkedBlockingQueue<>();
    static final LinkedBlockingQueue<String> badSignatures = new LinkedBlockingQueue<>();

    @BeforeAll
    static void start() throws Exception {
        endpoints = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        endpoints.createContext("/v1/projects/itest/messages:send", ex -> record(ex, pushes, "{\"name\":\"m1\"}"));
        endpoints.createContext("/before", ex -> {
            String body = verified(ex);
            answer(ex, body.contains("forbidden") ? "{\"action\":\"veto\",\"reason\":\"not on our platform\"}"
                    : "{\"action\":\"pass\"}");
        });
        endpoints.createContext("/after", ex -> record(ex, afterSend, "{}"));
        endpoints.start();
        String base = "http://127.0.0.1:" + endpoints.getAddress().getPort();

        server = new ServerProcess(work);
        // the hot-swap test sends commands on one connection as fast as an 8-deep window allows: far past the default
        // per-connection request rate (protocol.md §6, Limits), which is not what it is about
        ServerProcess.setKey(server.home.resolve("conf/parley.core.cfg"), "limit.frames.per.connection.per.second", "0");
        for (String jar : new String[] {"parley-push.jar", "parley-webhooks.jar"}) {
            Files.copy(server.home.resolve("extras").resolve(jar), server.home.resolve("deploy").resolve(jar),
                    StandardCopyOption.REPLACE_EXISTING);
        }
        Path push = server.home.resolve("conf/parley.push.cfg");
        ServerProcess.setKey(push, "fcm.endpoint", base);
        ServerProcess.setKey(push, "fcm.project", "itest");
        ServerProcess.setKey(push, "fcm.credential", "itest-credential");
        Path hooks = server.home.resolve("conf/parley.webhooks.cfg");
        ServerProcess.setKey(hooks, "secret", SECRET);
        ServerProcess.setKey(hooks, "before.url", base + "/before");
        ServerProcess.setKey(hooks, "before.timeout.millis", "2000");
        ServerProcess.setKey(hooks, "after.urls", base + "/after");
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (endpoints != null) {
            endpoints.stop(0);
        }
    }

    @Test
    @Order(1)
    void anOfflineDeviceIsPushedAndWebhooksVetoAndObserve() throws Exception {
        // bob registers his phone's push token (parley.push.v1.Register{platform = "fcm", token = "bob-phone-token"})
        try (ParleyClient bob = server.clientBuilder("push-bob", "phone", server.port).build()) {
            bob.connect().get(15, TimeUnit.SECONDS);
            awaitCommand(bob, register("fcm", "bob-phone-token"));
        }
        try (ParleyClient alice = server.clientBuilder("push-alice", "laptop", server.port).build()) {
            alice.connect().get(15, TimeUnit.SECONDS);
            alice.sendText("push-bob", "hello bob").get(15, TimeUnit.SECONDS);

            String pushed = pushes.poll(15, TimeUnit.SECONDS);
            assertNotNull(pushed, "bob's phone is offline: FCM got a push");
            assertTrue(pushed.contains("\"token\":\"bob-phone-token\""), pushed);
            assertTrue(pushed.contains("hello bob"), pushed);

            String stored = afterSend.poll(15, TimeUnit.SECONDS);
            assertNotNull(stored, "the after-send webhook got the stored message");
            assertTrue(stored.contains("\"message.stored\"") && stored.contains("hello bob"), stored);
            assertTrue(stored.contains("push-bob"), "with its recipients: " + stored);

            ExecutionException vetoed = assertThrows(ExecutionException.class,
                    () -> alice.sendText("push-bob", "this is forbidden").get(15, TimeUnit.SECONDS));
            ParleyClientException refusal = (ParleyClientException) vetoed.getCause();
            assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal.code());
            assertTrue(refusal.getMessage().contains("not on our platform"), refusal.getMessage());
            assertEquals(1, alice.syncRange("d:push-alice:push-bob", 1, 0, 10).get(15, TimeUnit.SECONDS)
                    .getMessagesCount(), "the vetoed message was not stored");
        }
        assertTrue(badSignatures.isEmpty(), "every webhook request was signed with the secret: " + badSignatures);

        // the channels' outcomes are metered (and only here, with channels deployed, does the scrape carry every
        // metric of the Grafana dashboard; HttpApiIT checks the rest)
        MetricsScrape scrape = channelScrape(
                "parley_notifications_total{channel=\"offline-push\",outcome=\"delivered\"}");
        assertTrue(scrape.value("parley_notifications_total{channel=\"webhook\",outcome=\"delivered\"}") >= 1,
                scrape.text);
        assertEquals(0.0, scrape.value("parley_notifications_total{channel=\"offline-push\",outcome=\"failed\"}"));
        assertTrue(scrape.has("parley_dispatch_queue_depth{channel=\"offline-push\"}"), scrape.text);
        assertEquals(java.util.Set.of(), scrape.missingFrom(MetricsScrape.dashboard(), java.util.Set.of()),
                "dashboard metrics this server does not export");
    }

    /** Scrapes {@code GET /metrics} until {@code series} is at least 1 (a dispatch is counted once it completed). */
    private static MetricsScrape channelScrape(String series) throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        MetricsScrape scrape;
        do {
            java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                    "http://127.0.0.1:" + server.httpPort + "/metrics")).header("Authorization", "Bearer "
                    + ServerProcess.ADMIN_TOKEN).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            scrape = new MetricsScrape(r.body());
            if (scrape.value(series) >= 1) {
                return scrape;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(series + " not counted within 15 s:\n" + scrape.text);
    }

    @Test
    @Order(2)
    void replacingTheCommandBundleUnderLoadRefusesNoCommandAndRemovingItAnswersUnsupported() throws Exception {
        try (ParleyClient carol = server.clientBuilder("swap-carol", "phone", server.port).build()) {
            carol.connect().get(15, TimeUnit.SECONDS);
            awaitCommand(carol, register("fcm", "carol-token-0"));
            Path v2 = DistributionHotSwapIT.rebuiltWithVersion(server.home.resolve("deploy/parley-push.jar"),
                    "0.1.1.swap", work.resolve("push-v2.jar"));
            java.util.List<java.util.concurrent.CompletableFuture<?>> commands = new java.util.ArrayList<>();
            java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(8);
            long t0 = System.nanoTime();
            boolean swapped = false;
            int i = 0;
            while (ServerProcess.since(t0).toMillis() < 4000) {
                if (!swapped && ServerProcess.since(t0).toMillis() > 1000) {
                    server.deploy(v2, "parley-push.jar");
                    swapped = true;
                }
                window.acquire();
                java.util.concurrent.CompletableFuture<?> f = carol.command("push.register",
                        register("fcm", "carol-token-" + ++i), null);
                f.whenComplete((r, e) -> window.release());
                commands.add(f);
            }
            int refused = 0;
            for (java.util.concurrent.CompletableFuture<?> f : commands) {
                try {
                    f.get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    refused++;
                    System.out.println("[hot-swap] command refused: " + e.getCause());
                }
            }
            System.out.printf("[hot-swap] push bundle replaced under load: %d commands, %d refused%n",
                    commands.size(), refused);
            assertEquals(0, refused, "commands held during the update and run by the new revision");
            assertTrue(commands.size() > 20, "commands sent: " + commands.size());

            server.undeploy("parley-push.jar");
            long t1 = System.nanoTime();
            ErrorCode code = null;
            while (code == null) {
                assertTrue(ServerProcess.since(t1).toSeconds() < 20, "push.register still served 20 s after removal");
                Thread.sleep(100);
                try {
                    carol.command("push.register", register("fcm", "carol-gone"), null).get(15, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    code = ((ParleyClientException) e.getCause()).code();
                }
            }
            assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, code);
        }
    }

    private static void awaitCommand(ParleyClient client, Any payload) throws Exception {
        // the bundles start with the server; a command may come a moment before the push bundle registered it
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            try {
                client.command("push.register", payload, "register-1").get(15, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof ParleyClientException p
                        && p.code() == ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    private static Any register(String platform, String token) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object[] field : new Object[][] {{1, platform}, {2, token}}) {
            byte[] bytes = ((String) field[1]).getBytes(StandardCharsets.UTF_8);
            out.write(((Integer) field[0] << 3) | 2);
            out.write(bytes.length);
            out.write(bytes);
        }
        return Any.newBuilder().setTypeUrl("type.googleapis.com/parley.push.v1.Register")
                .setValue(ByteString.copyFrom(out.toByteArray())).build();
    }

    private static void record(HttpExchange ex, LinkedBlockingQueue<String> into, String answer) throws IOException {
        String body = ex.getRequestURI().getPath().startsWith("/after") ? verified(ex)
                : new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        if (!ex.getRequestURI().getPath().startsWith("/after")
                && !"Bearer itest-credential".equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            badSignatures.add("push without the credential");
        }
        into.add(body);
        answer(ex, answer);
    }

    /** @return the body, after checking X-Parley-Signature = sha256=HMAC(secret, timestamp + "." + body) */
    private static String verified(HttpExchange ex) throws IOException {
        byte[] body = ex.getRequestBody().readAllBytes();
        String timestamp = ex.getRequestHeaders().getFirst("X-Parley-Timestamp");
        String signature = ex.getRequestHeaders().getFirst("X-Parley-Signature");
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update((timestamp + ".").getBytes(StandardCharsets.UTF_8));
            String expected = "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
            if (!expected.equals(signature)) {
                badSignatures.add(ex.getRequestURI() + ": " + signature);
            }
        } catch (Exception e) {
            badSignatures.add(e.toString());
        }
        return new String(body, StandardCharsets.UTF_8);
    }

    private static void answer(HttpExchange ex, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, bytes.length);
        ex.getResponseBody().write(bytes);
        ex.close();
    }
}
