package io.parley.push.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.push.spi.Push;
import io.parley.push.spi.Result;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The FCM-shaped provider against a real local HTTP server. */
class FcmClientTest {

    private FakeFcm fcm;
    private FcmClient client;

    @BeforeEach
    void start() throws Exception {
        fcm = new FakeFcm();
    }

    @AfterEach
    void stop() {
        if (client != null) {
            client.close();
        }
        fcm.close();
    }

    static FcmClient.Settings settings(URI endpoint, Duration timeout, int retries, int maxInFlight, int queueMax) {
        return settings(endpoint, timeout, retries, Duration.ofMillis(20), maxInFlight, queueMax);
    }

    static FcmClient.Settings settings(URI endpoint, Duration timeout, int retries, Duration retryBase, int maxInFlight,
                                       int queueMax) {
        return new FcmClient.Settings(endpoint, "demo-project", "test-bearer-credential", timeout, retries, retryBase,
                maxInFlight, queueMax);
    }

    private FcmClient client(Duration timeout, int retries) {
        client = new FcmClient(settings(fcm.endpoint(), timeout, retries, 4, 100));
        return client;
    }

    static Push push(String token) {
        return Push.builder().platform("fcm").token(token).userId("bob").deviceId("phone")
                .conversation("d:alice:bob").seq(7).messageId("m1").title("alice").body("hi bob").build();
    }

    private static Result result(CompletableFuture<Result> stage) throws Exception {
        return stage.get(10, TimeUnit.SECONDS);
    }

    @Test
    void postsTheV1MessageWithTheBearerCredential() throws Exception {
        assertEquals(Result.sent(), result(client(Duration.ofSeconds(5), 0).send(push("tok-1")).toCompletableFuture()));
        FakeFcm.Request request = fcm.take();
        assertEquals("POST", request.method());
        assertEquals("/v1/projects/demo-project/messages:send", request.path());
        assertEquals("Bearer test-bearer-credential", request.authorization());
        assertTrue(request.contentType().startsWith("application/json"), request.contentType());
        JsonNode message = request.json().get("message");
        assertEquals(List.of("message"), names(request.json()));
        assertEquals(List.of("token", "notification", "data"), names(message));
        assertEquals("tok-1", message.get("token").asText());
        assertEquals("alice", message.get("notification").get("title").asText());
        assertEquals("hi bob", message.get("notification").get("body").asText());
        assertEquals("d:alice:bob", message.get("data").get("conversation").asText());
        assertTrue(message.get("data").get("seq").isTextual(), "FCM data values are strings");
        assertEquals("7", message.get("data").get("seq").asText());
    }

    private static List<String> names(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @ParameterizedTest
    @CsvSource({"404,NOT_FOUND,UNREGISTERED", "400,INVALID_ARGUMENT,INVALID_ARGUMENT", "400,INVALID_ARGUMENT,UNREGISTERED"})
    void aTokenFcmDoesNotKnowIsABadToken(int status, String googleStatus, String fcmCode) throws Exception {
        fcm.answer = (exchange, request) -> FakeFcm.respond(exchange, status, FakeFcm.error(status, googleStatus, fcmCode));
        Result result = result(client(Duration.ofSeconds(5), 3).send(push("stale")).toCompletableFuture());
        assertEquals(Result.Status.BAD_TOKEN, result.status(), result.toString());
        assertTrue(result.detail().contains(String.valueOf(status)), result.detail());
        assertEquals(1, fcm.drain(Duration.ofMillis(100)).size(), "not retried");
    }

    @Test
    void anotherBadRequestFailsWithoutBlamingTheToken() throws Exception {
        fcm.answer = (exchange, request) -> FakeFcm.respond(exchange, 400, "{\"error\":{\"status\":\"FAILED_PRECONDITION\"}}");
        Result result = result(client(Duration.ofSeconds(5), 3).send(push("t")).toCompletableFuture());
        assertEquals(Result.Status.FAILED, result.status());
        assertEquals("HTTP 400 FAILED_PRECONDITION", result.detail());
    }

    @Test
    void unavailableIsRetriedWithBackOffUntilSent() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        fcm.answer = (exchange, request) -> {
            if (calls.incrementAndGet() <= 2) {
                FakeFcm.respond(exchange, calls.get() == 1 ? 503 : 429, FakeFcm.error(503, "UNAVAILABLE", "UNAVAILABLE"));
            } else {
                FakeFcm.respond(exchange, 200, "{}");
            }
        };
        assertEquals(Result.sent(), result(client(Duration.ofSeconds(5), 3).send(push("t")).toCompletableFuture()));
        assertEquals(3, calls.get());
    }

    @Test
    void retriesAreBounded() throws Exception {
        fcm.answer = (exchange, request) -> FakeFcm.respond(exchange, 500, "");
        Result result = result(client(Duration.ofSeconds(5), 2).send(push("t")).toCompletableFuture());
        assertEquals(Result.failed("HTTP 500 after 3 attempts"), result);
        assertEquals(3, fcm.drain(Duration.ofMillis(200)).size());
    }

    @Test
    void aRefusedCredentialFailsAtOnce() throws Exception {
        fcm.answer = (exchange, request) -> FakeFcm.respond(exchange, 401, FakeFcm.error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"));
        Result result = result(client(Duration.ofSeconds(5), 3).send(push("t")).toCompletableFuture());
        assertEquals(Result.failed("HTTP 401 UNAUTHENTICATED,THIRD_PARTY_AUTH_ERROR"), result);
        assertEquals(1, fcm.drain(Duration.ofMillis(200)).size());
    }

    @Test
    void aSlowEndpointTimesOutAndSendNeverWaits() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        fcm.answer = (exchange, request) -> {
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try {
            FcmClient c = client(Duration.ofMillis(1500), 0);
            long start = System.nanoTime();
            CompletableFuture<Result> stage = c.send(push("t")).toCompletableFuture();
            long sendMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(sendMillis < 1000, "send took " + sendMillis + " ms");
            assertFalse(stage.isDone());
            assertEquals(Result.failed("timed out"), result(stage));
        } finally {
            release.countDown();
        }
    }

    @Test
    void aDownEndpointFailsAfterItsRetries() throws Exception {
        client = new FcmClient(settings(FakeFcm.deadEndpoint(), Duration.ofSeconds(2), 1, Duration.ofMillis(1500), 4, 100));
        long start = System.nanoTime();
        CompletableFuture<Result> stage = client.send(push("t")).toCompletableFuture();
        long sendMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(sendMillis < 1000, "send took " + sendMillis + " ms (the retry waits 1500 ms)");
        Result result = result(stage);
        assertEquals(Result.Status.FAILED, result.status());
        assertTrue(result.detail().startsWith("cannot connect") && result.detail().endsWith("after 2 attempts"),
                result.detail());
    }

    @Test
    void theQueueIsBoundedAndSlotsAreHandedOn() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        fcm.answer = (exchange, request) -> {
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            FakeFcm.respond(exchange, 200, "{}");
        };
        client = new FcmClient(settings(fcm.endpoint(), Duration.ofSeconds(10), 0, 1, 1));
        CompletableFuture<Result> first = client.send(push("a")).toCompletableFuture();
        CompletableFuture<Result> second = client.send(push("b")).toCompletableFuture();
        CompletableFuture<Result> third = client.send(push("c")).toCompletableFuture();
        assertEquals(Result.failed("the FCM queue is full (1)"), third.getNow(null));
        assertFalse(first.isDone());
        fcm.take();
        release.countDown();
        assertEquals(Result.sent(), result(first));
        assertEquals(Result.sent(), result(second));
    }

    @Test
    void closeFailsWhatIsPendingAndStopsItsThreads() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        fcm.answer = (exchange, request) -> {
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try {
            client = new FcmClient(settings(fcm.endpoint(), Duration.ofSeconds(10), 0, 1, 10));
            CompletableFuture<Result> inFlight = client.send(push("a")).toCompletableFuture();
            CompletableFuture<Result> waiting = client.send(push("b")).toCompletableFuture();
            fcm.take();
            client.close();
            Result stopped = Result.failed("the FCM provider is stopped");
            assertEquals(stopped, inFlight.getNow(null));
            assertEquals(stopped, waiting.getNow(null));
            assertEquals(stopped, client.send(push("c")).toCompletableFuture().getNow(null));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (fcmThreads() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, fcmThreads(), "threads named parley-push-fcm-* still alive");
        } finally {
            release.countDown();
        }
    }

    private static long fcmThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("parley-push-fcm-")).count();
    }

    @Test
    void theSendUrlEncodesTheProjectAndSettingsRefuseNonHttpEndpoints() {
        FcmClient.Settings settings = new FcmClient.Settings(URI.create("https://fcm.example/"), "my project", "s3cret",
                Duration.ofSeconds(1), 0, Duration.ZERO, 1, 1);
        assertEquals(URI.create("https://fcm.example/v1/projects/my%20project/messages:send"), settings.sendUri());
        assertFalse(settings.toString().contains("s3cret"), "the credential is never logged");
        assertThrows(IllegalArgumentException.class, () -> new FcmClient.Settings(URI.create("ftp://x"), "p", "c",
                Duration.ofSeconds(1), 0, Duration.ZERO, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new FcmClient.Settings(URI.create("https://x"), " ", "c",
                Duration.ofSeconds(1), 0, Duration.ZERO, 1, 1));
    }
}
