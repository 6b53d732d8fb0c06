package io.parley.webhooks.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.core.spi.delivery.Notification;
import io.parley.webhooks.internal.TestWebhookServer.Answer;
import io.parley.webhooks.internal.TestWebhookServer.Received;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The after-send webhooks against real local HTTP servers. */
class AfterSendWebhooksTest {

    private static final String SECRET = BeforeSendWebhookTest.SECRET;
    private static final Backoff FAST = new Backoff(5, Duration.ofMillis(100), Duration.ofMillis(1_000));

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
    void failingTwiceThenAcceptingIsRetriedWithBackoffAndDeliveredOnce() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        TestWebhookServer server = server(r -> switch (calls.incrementAndGet()) {
            case 1 -> Answer.status(500);
            case 2 -> Answer.status(503);
            default -> Answer.status(204);
        });
        AfterSendWebhooks hooks = hooks(List.of(server.url()), FAST, 100, 8);
        CompletableFuture<Void> stage = hooks.dispatch(notification("m1")).toCompletableFuture();
        assertTrue(stage.isDone(), "dispatch completes once the delivery is handed off, not after the retries");

        waitUntil(() -> hooks.delivered() == 1, 10_000);
        Thread.sleep(300); // nothing more arrives after the success
        List<Received> got = server.received();
        assertEquals(3, got.size(), "two failures, one success");
        assertEquals(1, hooks.delivered());
        assertEquals(2, hooks.failedAttempts());
        assertEquals(0, hooks.givenUp());
        assertEquals(0, hooks.held());
        for (int i = 0; i < got.size(); i++) {
            Received r = got.get(i);
            assertTrue(r.signatureValid(SECRET), "attempt " + (i + 1) + " is signed");
            assertEquals("message.stored", r.header("X-Parley-Event"));
            assertEquals(Integer.toString(i + 1), r.header("X-Parley-Attempt"));
            assertEquals(got.get(0).header("X-Parley-Delivery"), r.header("X-Parley-Delivery"), "one delivery id");
            assertArrayEquals(got.get(0).body(), r.body(), "the same event each time");
        }
        long firstGap = TimeUnit.NANOSECONDS.toMillis(got.get(1).nanoTime() - got.get(0).nanoTime());
        long secondGap = TimeUnit.NANOSECONDS.toMillis(got.get(2).nanoTime() - got.get(1).nanoTime());
        assertTrue(firstGap >= FAST.stepMillis(1) / 2, "first back-off at least half of 100 ms: " + firstGap);
        assertTrue(secondGap >= FAST.stepMillis(2) / 2, "second back-off at least half of 200 ms: " + secondGap);

        JsonNode event = mapper.readTree(got.get(0).body());
        assertEquals("message.stored", event.get("event").asText());
        assertEquals("m1", event.get("message").get("id").asText());
        assertEquals(7, event.get("message").get("seq").asLong());
        assertEquals(List.of("bob", "carol"), mapper.convertValue(event.get("recipients"), List.class));
    }

    @Test
    void downWebhookIsGivenUpAfterTheLastAttempt() throws Exception {
        Backoff three = new Backoff(3, Duration.ofMillis(20), Duration.ofMillis(40));
        AfterSendWebhooks hooks = hooks(List.of(TestWebhookServer.downUrl()), three, 100, 8);
        hooks.dispatch(notification("m2"));
        waitUntil(() -> hooks.givenUp() == 1, 10_000);
        assertEquals(3, hooks.failedAttempts());
        assertEquals(0, hooks.delivered());
        assertEquals(0, hooks.held());
    }

    @Test
    void everyUrlGetsItsOwnDelivery() throws Exception {
        TestWebhookServer a = server(r -> Answer.status(200));
        TestWebhookServer b = server(r -> Answer.status(200));
        AfterSendWebhooks hooks = hooks(List.of(a.url(), b.url()), FAST, 100, 8);
        for (int i = 0; i < 5; i++) {
            hooks.dispatch(notification("m" + i));
        }
        waitUntil(() -> hooks.delivered() == 10, 10_000);
        assertEquals(5, a.received().size());
        assertEquals(5, b.received().size());
        assertTrue(a.received().stream().allMatch(r -> r.signatureValid(SECRET)));
    }

    @Test
    void deliveriesBeyondTheQueueAreDroppedAndInFlightIsBounded() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger maxConcurrent = new AtomicInteger();
        TestWebhookServer server = server(r -> {
            maxConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            concurrent.decrementAndGet();
            return Answer.status(200);
        });
        AfterSendWebhooks hooks = hooks(List.of(server.url()), FAST, 5, 2);
        for (int i = 0; i < 8; i++) {
            assertTrue(hooks.dispatch(notification("q" + i)).toCompletableFuture().isDone());
        }
        assertEquals(3, hooks.dropped(), "after.queue.max 5: three of eight dropped");
        assertEquals(5, hooks.held());
        waitUntil(() -> server.received().size() == 2, 5_000);
        Thread.sleep(200);
        assertEquals(2, server.received().size(), "after.max.in.flight 2");
        release.countDown();
        waitUntil(() -> hooks.delivered() == 5, 10_000);
        assertEquals(2, maxConcurrent.get());
        assertEquals(0, hooks.held());
    }

    @Test
    void backoffDoublesUpToItsMaximumWithEqualJitter() {
        Backoff b = new Backoff(10, Duration.ofMillis(500), Duration.ofMillis(30_000));
        assertEquals(List.of(500L, 1_000L, 2_000L, 4_000L, 8_000L, 16_000L, 30_000L, 30_000L),
                Arrays.stream(new int[]{1, 2, 3, 4, 5, 6, 7, 100}).mapToObj(b::stepMillis).toList());
        for (int i = 0; i < 1_000; i++) {
            long d = b.delayMillis(2);
            assertTrue(d >= 500 && d <= 1_000, "in [step/2, step]: " + d);
        }
    }

    private AfterSendWebhooks hooks(List<URI> urls, Backoff backoff, int queueMax, int maxInFlight) {
        return new AfterSendWebhooks(client, new EventJson(), urls, Duration.ofSeconds(5), backoff, queueMax,
                maxInFlight);
    }

    private static Notification notification(String id) {
        return new Notification(Messages.text(id, "hello").toBuilder().setSeq(7).build(), "hello",
                List.of("bob", "carol"), Set.of());
    }

    private TestWebhookServer server(Function<Received, Answer> answers) throws Exception {
        TestWebhookServer server = new TestWebhookServer(answers);
        closeables.add(server);
        return server;
    }

    static void waitUntil(BooleanSupplier condition, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within " + timeoutMillis + " ms");
            }
            Thread.sleep(10);
        }
    }
}
