package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.core.spi.ops.ListeningTransport;
import io.parley.core.spi.ops.Liveness;
import io.parley.core.spi.ops.MetricsExposition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code /metrics}, {@code /health/live}, {@code /health/ready} over real sockets, with the real engine as the core. */
class OpsEndpointsTest {

    private static final String ADMIN = HttpApiServerTest.ADMIN;
    private static final String METRICS_TOKEN = "metrics-token-0123456789";

    private final ObjectMapper mapper = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private EngineCore core;
    private HttpApiServer server;

    private final MetricsExposition exposition = new MetricsExposition() {
        @Override
        public String contentType() {
            return "text/plain; version=0.0.4; charset=utf-8";
        }

        @Override
        public void scrape(OutputStream out) throws java.io.IOException {
            out.write("parley_messages_sent_total{type=\"text\"} 2.0\n".getBytes(StandardCharsets.UTF_8));
        }
    };

    @BeforeEach
    void start() throws Exception {
        core = new EngineCore(HttpApiServerTest.SECRET);
        server = new HttpApiServer(HttpApiServerTest.settings(ADMIN, 4096, Duration.ofSeconds(5), 10),
                TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)));
        server.start();
        server.bindReceiver(core);
    }

    @AfterEach
    void stop() {
        server.stop();
        core.close();
    }

    @Test
    void metricsNeedsItsTokenAndTheMetricsBundle() throws Exception {
        HttpResponse<String> none = get("/metrics", null);
        assertError(none, 401, "UNAUTHENTICATED");
        assertEquals("Bearer realm=\"parley\"", none.headers().firstValue("www-authenticate").orElse(""));
        assertError(get("/metrics", "Bearer wrong-token-0123456789"), 401, "UNAUTHENTICATED");

        // authorized, but no metrics bundle: 503 saying so
        HttpResponse<String> missing = get("/metrics", "Bearer " + ADMIN);
        assertError(missing, 503, "UNAVAILABLE");
        assertTrue(missing.body().contains("no metrics bundle"), missing.body());

        server.ops().bindExposition(exposition);
        HttpResponse<String> ok = get("/metrics", "Bearer " + ADMIN);
        assertEquals(200, ok.statusCode(), ok.body());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", ok.headers().firstValue("content-type").orElse(""));
        assertTrue(ok.body().contains("parley_messages_sent_total{type=\"text\"} 2.0"), ok.body());

        // metrics.token set: it is the one accepted, the admin token no longer is
        server.ops().useMetricsToken(METRICS_TOKEN);
        assertEquals(200, get("/metrics", "Bearer " + METRICS_TOKEN).statusCode());
        assertError(get("/metrics", "Bearer " + ADMIN), 401, "UNAUTHENTICATED");

        server.ops().unbindExposition(exposition);
        assertError(get("/metrics", "Bearer " + METRICS_TOKEN), 503, "UNAVAILABLE");
    }

    @Test
    void livenessFollowsTheEnginesProbe() throws Exception {
        HttpResponse<String> noCore = get("/health/live", null);
        assertEquals(503, noCore.statusCode());
        assertEquals("DOWN", json(noCore).get("status").asText());

        server.ops().bindLiveness(() -> CompletableFuture.completedFuture(null));
        assertEquals(200, get("/health/live", null).statusCode());

        Liveness wedged = CompletableFuture::new; // never completes
        server.ops().bindLiveness(wedged);
        long t0 = System.nanoTime();
        HttpResponse<String> stuck = get("/health/live", null);
        assertEquals(503, stuck.statusCode());
        assertTrue(json(stuck).get("problems").get(0).asText().contains("did not run a task"), stuck.body());
        assertTrue(System.nanoTime() - t0 >= OpsEndpoints.LIVENESS_DEADLINE.toNanos() * 9 / 10);

        server.ops().bindLiveness(() -> CompletableFuture.failedFuture(new IllegalStateException("stopping")));
        assertEquals(503, get("/health/live", null).statusCode());
    }

    @Test
    void readinessNeedsTheCoreReadyAndAlive() throws Exception {
        Liveness alive = () -> CompletableFuture.completedFuture(null);
        server.ops().bindLiveness(alive);
        HttpResponse<String> ready = get("/health/ready", null);
        assertEquals(200, ready.statusCode(), ready.body());
        assertEquals("UP", json(ready).get("status").asText());

        server.unbindReceiver(core);
        HttpResponse<String> noCore = get("/health/ready", null);
        assertEquals(503, noCore.statusCode());
        assertEquals("the core is not running", json(noCore).get("problems").get(0).asText());
        server.bindReceiver(core);

        server.ops().unbindLiveness(() -> CompletableFuture.completedFuture(null)); // not the bound one: no-op
        assertEquals(200, get("/health/ready", null).statusCode());
        server.ops().unbindLiveness(alive);
        HttpResponse<String> noProbe = get("/health/ready", null);
        assertEquals(503, noProbe.statusCode());
        assertEquals("the core is not running", json(noProbe).get("problems").get(0).asText());
    }

    @Test
    void readinessNeedsEveryRequiredTransportListening() throws Exception {
        server.ops().bindLiveness(() -> CompletableFuture.completedFuture(null));
        server.ops().requireTransports(" tcp, websocket ,");
        HttpResponse<String> none = get("/health/ready", null);
        assertEquals(503, none.statusCode());
        assertEquals("[\"the tcp transport is not listening\",\"the websocket transport is not listening\"]",
                json(none).get("problems").toString());

        ListeningTransport tcp = () -> new InetSocketAddress("127.0.0.1", 1);
        ListeningTransport ws = () -> new InetSocketAddress("127.0.0.1", 2);
        server.ops().transportUp(tcp, "tcp");
        server.ops().transportUp(ws, "websocket");
        assertEquals(200, get("/health/ready", null).statusCode());

        server.ops().transportDown(ws);
        HttpResponse<String> wsDown = get("/health/ready", null);
        assertEquals(503, wsDown.statusCode());
        assertEquals("the websocket transport is not listening", json(wsDown).get("problems").get(0).asText());
        assertEquals(200, get("/health/live", null).statusCode(), "liveness does not depend on transports");

        server.ops().requireTransports("tcp");
        assertEquals(200, get("/health/ready", null).statusCode());
    }

    private HttpResponse<String> get(String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.localAddress().getPort() + path)).timeout(Duration.ofSeconds(10)).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(HttpResponse<String> r) throws Exception {
        return mapper.readTree(r.body());
    }

    private void assertError(HttpResponse<String> r, int status, String code) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals(code, json(r).get("error").get("code").asText(), r.body());
    }
}
