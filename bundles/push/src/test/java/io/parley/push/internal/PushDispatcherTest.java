package io.parley.push.internal;

import io.parley.core.proto.Message;
import io.parley.core.spi.delivery.Notification;
import io.parley.push.internal.TokenStore.DeviceToken;
import io.parley.push.spi.Push;
import io.parley.push.spi.PushProvider;
import io.parley.push.spi.Result;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import static io.parley.push.internal.TokenStoreTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Notification → store lookups → the FCM-shaped provider → a real local HTTP server. */
class PushDispatcherTest {

    private static final long NOW = 1_700_000_000_000L;

    @TempDir
    Path dir;
    private FakeFcm fcm;
    private TokenStore store;
    private FcmClient client;
    private final ProviderRegistry providers = new ProviderRegistry();
    private final List<String> logged = Collections.synchronizedList(new ArrayList<>());
    private PushDispatcher dispatcher;

    @BeforeEach
    void start() throws Exception {
        fcm = new FakeFcm();
        store = TokenStore.open(dir, 1000, () -> NOW);
        dispatcher = dispatcher(new PushDispatcher.Settings(true, "New message", 200));
    }

    @AfterEach
    void stop() {
        if (client != null) {
            client.close();
        }
        store.close();
        fcm.close();
    }

    private PushDispatcher dispatcher(PushDispatcher.Settings settings) {
        return new PushDispatcher(store, providers::lookup, settings, () -> NOW,
                new RateLimitedLog(logged::add, TimeUnit.SECONDS.toNanos(10), System::nanoTime));
    }

    private void useFcm(URI endpoint, Duration timeout, int retries) {
        useFcm(endpoint, timeout, retries, Duration.ofMillis(20));
    }

    private void useFcm(URI endpoint, Duration timeout, int retries, Duration retryBase) {
        client = new FcmClient(FcmClientTest.settings(endpoint, timeout, retries, retryBase, 8, 100));
        providers.add(client, Map.of(PushProvider.PLATFORM, "fcm", "service.id", 1L));
    }

    private static Notification notification(String... recipients) {
        Message message = Message.newBuilder().setId("m-1").setSender("alice").setSenderDevice("laptop")
                .setConversation("g:team").setSeq(7).setType("text").build();
        return new Notification(message, "hi team", List.of(recipients), Set.of());
    }

    /** Dispatches and returns how long the call took, in milliseconds. */
    private long timedDispatch(Notification notification) {
        long start = System.nanoTime();
        dispatcher.dispatch(notification);
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void onePushPerDeviceOfEveryRecipientTitledWithTheSender() throws Exception {
        useFcm(fcm.endpoint(), Duration.ofSeconds(5), 0);
        await(store.register("bob", "phone", "fcm", "bob-phone"));
        await(store.register("bob", "tablet", "fcm", "bob-tablet"));
        await(store.register("carol", "phone", "fcm", "carol-phone"));

        dispatcher.dispatch(notification("bob", "carol", "dave"));

        List<FakeFcm.Request> requests = List.of(fcm.take(), fcm.take(), fcm.take());
        assertEquals(Set.of("bob-phone", "bob-tablet", "carol-phone"), requests.stream()
                .map(r -> r.json().at("/message/token").asText()).collect(Collectors.toSet()));
        for (FakeFcm.Request request : requests) {
            assertEquals("alice", request.json().at("/message/notification/title").asText());
            assertEquals("hi team", request.json().at("/message/notification/body").asText());
            assertEquals("g:team", request.json().at("/message/data/conversation").asText());
            assertEquals("7", request.json().at("/message/data/seq").asText());
        }
        eventually("3 sent", () -> dispatcher.counts().sent() == 3);
        assertEquals(new PushDispatcher.Counts(1, 3, 3, 0, 0, 0, 1, 0), dispatcher.counts());
        assertEquals(List.of(), logged);
    }

    @Test
    void mutedConversationsAndUnknownUsersGetNoPush() throws Exception {
        useFcm(fcm.endpoint(), Duration.ofSeconds(5), 0);
        await(store.register("bob", "phone", "fcm", "bob-phone"));
        await(store.register("carol", "phone", "fcm", "carol-phone"));
        await(store.register("erin", "phone", "fcm", "erin-phone"));
        await(store.mute("bob", "g:team", NOW + 3_600_000));
        await(store.mute("carol", "g:other", NOW + 3_600_000)); // another conversation
        await(store.mute("erin", "g:team", NOW));                // ended

        dispatcher.dispatch(notification("bob", "carol", "dave", "erin"));

        List<FakeFcm.Request> requests = new ArrayList<>(List.of(fcm.take(), fcm.take()));
        requests.addAll(fcm.drain(Duration.ofMillis(300)));
        assertEquals(Set.of("carol-phone", "erin-phone"), requests.stream()
                .map(r -> r.json().at("/message/token").asText()).collect(Collectors.toSet()));
        assertEquals(2, requests.size());
        PushDispatcher.Counts counts = dispatcher.counts();
        assertEquals(1, counts.muted());
        assertEquals(1, counts.noToken());
    }

    @Test
    void aBadTokenAnswerRemovesTheToken() throws Exception {
        useFcm(fcm.endpoint(), Duration.ofSeconds(5), 3);
        await(store.register("bob", "phone", "fcm", "stale"));
        await(store.register("bob", "tablet", "fcm", "fresh"));
        fcm.answer = (exchange, request) -> {
            boolean stale = "stale".equals(request.json().at("/message/token").asText());
            FakeFcm.respond(exchange, stale ? 404 : 200, stale ? FakeFcm.error(404, "NOT_FOUND", "UNREGISTERED") : "{}");
        };

        dispatcher.dispatch(notification("bob"));

        eventually("the stale token removed", () -> store.tokens("bob").size() == 1);
        assertEquals(List.of(new DeviceToken("tablet", "fcm", "fresh")), store.tokens("bob"));
        eventually("counted", () -> dispatcher.counts().badTokens() == 1 && dispatcher.counts().sent() == 1);
        fcm.drain(Duration.ZERO);
        dispatcher.dispatch(notification("bob"));
        assertEquals("fresh", fcm.take().json().at("/message/token").asText());
        assertEquals(List.of(), fcm.drain(Duration.ofMillis(200)));
    }

    @Test
    void aSlowEndpointNeverBlocksDispatchAndIsLogged() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        fcm.answer = (exchange, request) -> {
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try {
            useFcm(fcm.endpoint(), Duration.ofMillis(1500), 0);
            await(store.register("bob", "phone", "fcm", "b"));
            await(store.register("carol", "phone", "fcm", "c"));
            await(store.register("dave", "phone", "fcm", "d"));

            long millis = timedDispatch(notification("bob", "carol", "dave"));

            assertTrue(millis < 1000, "dispatch took " + millis + " ms (the endpoint answers never, time-out 1500 ms)");
            eventually("3 failed", () -> dispatcher.counts().failed() == 3);
            assertEquals(1, logged.size(), "rate-limited: " + logged);
            assertTrue(logged.get(0).contains("timed out"), logged.get(0));
            assertEquals(3, dispatcher.counts().pushes());
            assertEquals(3, store.tokens("bob").size() + store.tokens("carol").size()
                    + store.tokens("dave").size(), "a time-out removes no token");
        } finally {
            release.countDown();
        }
    }

    @Test
    void aDownEndpointNeverBlocksDispatchAndIsLogged() throws Exception {
        useFcm(FakeFcm.deadEndpoint(), Duration.ofSeconds(2), 1, Duration.ofMillis(1500));
        await(store.register("bob", "phone", "fcm", "b"));

        long millis = timedDispatch(notification("bob"));

        assertTrue(millis < 1000, "dispatch took " + millis + " ms (connection refused, retried after 1500 ms)");
        eventually("failed", () -> dispatcher.counts().failed() == 1);
        assertEquals(1, logged.size(), logged.toString());
        assertTrue(logged.get(0).contains("cannot connect"), logged.get(0));
        assertEquals(1, store.tokens("bob").size(), "a refused connection removes no token");
    }

    @Test
    void aPlatformWithoutProviderIsCountedAndLogged() throws Exception {
        await(store.register("bob", "phone", "apns", "a"));
        dispatcher.dispatch(notification("bob"));
        dispatcher.dispatch(notification("bob"));
        assertEquals(2, dispatcher.counts().noProvider());
        assertEquals(List.of("Push: no provider for platform 'apns': its pushes are dropped"), logged);
    }

    @Test
    void theHighestRankedProviderOfAPlatformTakesThePushes() throws Exception {
        useFcm(fcm.endpoint(), Duration.ofSeconds(5), 0);
        await(store.register("bob", "phone", "fcm", "b"));
        List<Push> taken = Collections.synchronizedList(new ArrayList<>());
        PushProvider better = push -> {
            taken.add(push);
            return CompletableFuture.completedFuture(Result.sent());
        };
        providers.add(better, Map.of(PushProvider.PLATFORM, "fcm", "service.id", 2L, "service.ranking", 10));

        dispatcher.dispatch(notification("bob"));
        assertEquals(1, taken.size());
        Push push = taken.get(0);
        assertEquals(List.of("fcm", "b", "bob", "phone", "g:team", 7L, "m-1", "alice", "hi team"),
                List.of(push.platform(), push.token(), push.userId(), push.deviceId(), push.conversation(), push.seq(),
                        push.messageId(), push.title(), push.body()));
        assertEquals(List.of(), fcm.drain(Duration.ofMillis(100)));

        providers.remove(Map.of("service.id", 2L));
        dispatcher.dispatch(notification("bob"));
        fcm.take();
        assertEquals(1, taken.size());
    }

    @Test
    void aProviderThatThrowsOrFailsIsCountedNeverThrown() throws Exception {
        await(store.register("bob", "phone", "x", "b"));
        await(store.register("carol", "phone", "y", "c"));
        providers.add(push -> {
            throw new IllegalStateException("boom");
        }, Map.of(PushProvider.PLATFORM, "x", "service.id", 5L));
        providers.add(push -> CompletableFuture.failedFuture(new IllegalStateException("late boom")),
                Map.of(PushProvider.PLATFORM, "y", "service.id", 6L));
        dispatcher.dispatch(notification("bob", "carol"));
        assertEquals(2, dispatcher.counts().failed());
        assertEquals(2, logged.size(), logged.toString());
    }

    @Test
    void previewsCanBeHiddenAndAreCut() {
        assertEquals("New message", dispatcher(new PushDispatcher.Settings(false, "New message", 200)).body("secret"));
        assertEquals("New message", dispatcher.body(" "));
        assertEquals("hell…", dispatcher(new PushDispatcher.Settings(true, "", 5)).body("hello world"));
        assertEquals("hello", dispatcher(new PushDispatcher.Settings(true, "", 5)).body("hello"));
        assertEquals("ab…", dispatcher(new PushDispatcher.Settings(true, "", 4)).body("ab😀cd"), "no half emoji");
    }
}
