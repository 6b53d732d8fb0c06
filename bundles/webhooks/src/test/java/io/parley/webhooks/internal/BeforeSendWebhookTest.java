package io.parley.webhooks.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.intercept.Verdict;
import io.parley.webhooks.internal.TestWebhookServer.Answer;
import io.parley.webhooks.internal.TestWebhookServer.Received;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The before-send webhook against real local HTTP servers. */
class BeforeSendWebhookTest {

    static final String SECRET = "before-send-test-secret-0123456789abcdef";
    private static final Duration BUDGET = Duration.ofMillis(200);

    private final ObjectMapper mapper = new ObjectMapper();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final WebhookClient client = new WebhookClient(SECRET, 2, Clock.systemUTC());

    @AfterEach
    void close() throws Exception {
        client.close();
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    @Test
    void vetoAnswerVetoesWithForbiddenAndTheReason() throws Exception {
        TestWebhookServer server = server(r -> Answer.json("{\"action\":\"veto\",\"reason\":\"no swearing here\"}"));
        Verdict verdict = hook(server.url()).beforeSend(Messages.text("m1", "darn it")).toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
        assertTrue(verdict.isVeto());
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, verdict.code());
        assertEquals("no swearing here", verdict.reason());

        Received request = server.received().get(0);
        assertEquals("POST", request.method());
        assertEquals("application/json", request.header("Content-Type"));
        assertEquals("message.before_send", request.header("X-Parley-Event"));
        assertTrue(request.signatureValid(SECRET), "signature verifies on the server side");
        assertFalse(request.signatureValid(SECRET + "x"), "and not with another secret");
        long timestamp = Long.parseLong(request.header("X-Parley-Timestamp"));
        assertTrue(Math.abs(Instant.now().getEpochSecond() - timestamp) <= 5, "epoch seconds, now");
        JsonNode event = mapper.readTree(request.body());
        assertEquals("message.before_send", event.get("event").asText());
        assertEquals("m1", event.get("message").get("id").asText());
        assertEquals("darn it", event.get("message").get("text").asText());
    }

    @Test
    void rewriteAnswerReplacesBodyAndExt() throws Exception {
        Any clean = Messages.textBody("d*rn it");
        TestWebhookServer server = server(r -> Answer.json("{\"action\":\"rewrite\",\"body\":{\"type_url\":\""
                + clean.getTypeUrl() + "\",\"value_base64\":\""
                + Base64.getEncoder().encodeToString(clean.getValue().toByteArray())
                + "\"},\"ext\":{\"moderated\":\"true\"}}"));
        Verdict verdict = hook(server.url()).beforeSend(Messages.text("m2", "darn it")).toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
        assertFalse(verdict.isVeto());
        assertEquals(clean, verdict.body());
        assertEquals(Map.of("moderated", "true"), verdict.ext());
        assertTrue(server.received().get(0).signatureValid(SECRET));
    }

    @Test
    void passAnswerPasses() throws Exception {
        TestWebhookServer server = server(r -> Answer.json("{\"action\":\"pass\"}"));
        assertSame(Verdict.pass(), hook(server.url()).beforeSend(Messages.text("m3", "hello")).toCompletableFuture()
                .get(5, TimeUnit.SECONDS));
    }

    @Test
    void slowWebhookFailsWithTheRequestsOwnTimeoutWithinTheBudget() throws Exception {
        TestWebhookServer server = server(r -> new Answer(200, "{\"action\":\"pass\"}", 3_000));
        BeforeSendWebhook hook = hook(server.url());
        long start = System.nanoTime();
        CompletableFuture<Verdict> stage = hook.beforeSend(Messages.text("m4", "slow")).toCompletableFuture();
        long returnedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertFalse(stage.isDone(), "pending while the webhook thinks");
        assertTrue(returnedMillis < 100, "beforeSend returned at once, not after the exchange: " + returnedMillis);

        ExecutionException failure = assertThrows(ExecutionException.class, () -> stage.get(5, TimeUnit.SECONDS));
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertInstanceOf(HttpTimeoutException.class, failure.getCause(), "the component's own request time-out");
        assertTrue(tookMillis >= BUDGET.toMillis() - 20 && tookMillis < 1_500,
                "failed at about the budget, well before the server's answer: " + tookMillis + " ms");
    }

    @Test
    void webhookDownFailsTheStage() throws Exception {
        ExecutionException failure = assertThrows(ExecutionException.class, () -> hook(TestWebhookServer.downUrl())
                .beforeSend(Messages.text("m5", "anyone?")).toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertInstanceOf(ConnectException.class, failure.getCause(), failure.toString());
    }

    @Test
    void nonTwoXxAndUnusableAnswersFailTheStage() throws Exception {
        List<Answer> answers = List.of(new Answer(500, "{\"action\":\"pass\"}", 0), Answer.status(302),
                Answer.status(204), Answer.json("<html>oops</html>"), Answer.json("{\"action\":\"maybe\"}"),
                Answer.json("{\"action\":\"pass\",\"pad\":\"" + "x".repeat(BeforeSendWebhook.MAX_ANSWER_BYTES)
                        + "\"}"));
        for (Answer answer : answers) {
            TestWebhookServer server = server(r -> answer);
            ExecutionException failure = assertThrows(ExecutionException.class, () -> hook(server.url())
                    .beforeSend(Messages.text("m6", "x")).toCompletableFuture().get(5, TimeUnit.SECONDS),
                    "answer " + answer.status());
            String message = String.valueOf(failure.getCause().getMessage());
            assertFalse(message.contains("not-for-logs"), "the URL's query is not repeated: " + message);
        }
    }

    @Test
    void afterCloseTheStageFailsAtOnce() {
        client.close();
        CompletableFuture<Verdict> stage = hook(URI.create("http://127.0.0.1:1/")).beforeSend(Messages.text("m7", "x"))
                .toCompletableFuture();
        assertTrue(stage.isCompletedExceptionally());
        assertNull(client.schedule(() -> { }, 1));
    }

    private BeforeSendWebhook hook(URI url) {
        return new BeforeSendWebhook(client, new EventJson(), url, BUDGET);
    }

    private TestWebhookServer server(Function<Received, Answer> answers) throws Exception {
        TestWebhookServer server = new TestWebhookServer(answers);
        closeables.add(server);
        return server;
    }
}
