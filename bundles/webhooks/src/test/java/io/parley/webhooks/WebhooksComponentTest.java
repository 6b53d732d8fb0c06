package io.parley.webhooks;

import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.spi.intercept.SendInterceptor;
import io.parley.core.testing.ComponentConfigs;
import io.parley.webhooks.internal.Messages;
import io.parley.webhooks.internal.TestWebhookServer;
import io.parley.webhooks.internal.TestWebhookServer.Answer;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;

import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg, what is registered for which configuration, and stopping. */
class WebhooksComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.webhooks.cfg");
    private static final String SECRET = "component-test-secret-0123456789abcdef";

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndACommentAbove() throws IOException {
        ComponentConfigs.assertShippedCfg(WebhooksConfig.class, SHIPPED_CFG);
        List<String> problems = new ArrayList<>();
        assertNull(WebhooksComponent.settings(config(Map.of()), problems), "no URL ships: webhooks off");
        assertEquals(List.of(), problems);
    }

    @Test
    void aUrlWithoutAUsableSecretRegistersNothingAndStartsNoThread() {
        Set<String> before = threadNames();
        for (String secret : new String[]{"", "too-short-0123456789"}) {
            FakeContext context = new FakeContext();
            List<String> problems = new ArrayList<>();
            Map<String, Object> props = Map.of("before.url", "http://127.0.0.1:1/x", "secret", secret);
            assertNull(WebhooksComponent.settings(config(props), problems));
            assertEquals(1, problems.size(), problems.toString());
            assertTrue(problems.get(0).contains("'secret'"), problems.get(0));
            new WebhooksComponent(context.context, config(props)).deactivate();
            assertEquals(List.of(), context.registered, "nothing registered");
        }
        assertEquals(Set.of(), newThreads(before));
    }

    @Test
    void unusableValuesAreNamedByKey() {
        List<String> problems = new ArrayList<>();
        Map<String, Object> props = new HashMap<>();
        props.put("secret", SECRET);
        props.put("before.url", "ftp://example.com/");
        props.put("after.urls", "https://example.com/a, not a url");
        props.put("before.on.failure", "maybe");
        props.put("after.max.attempts", 0);
        props.put("after.backoff.initial.millis", 1_000L);
        props.put("after.backoff.max.millis", 10L);
        assertNull(WebhooksComponent.settings(config(props), problems));
        String all = String.join("\n", problems);
        for (String key : List.of("'before.url'", "'after.urls'", "'before.on.failure'", "'after.max.attempts'",
                "'after.backoff.max.millis'")) {
            assertTrue(all.contains(key), key + " in " + all);
        }
        assertEquals(5, problems.size(), all);
    }

    @Test
    void registersTheInterceptorAndTheChannelWithTheirPropertiesAndUnregistersThem() {
        FakeContext context = new FakeContext();
        Map<String, Object> props = new HashMap<>();
        props.put("secret", SECRET);
        props.put("before.url", "http://127.0.0.1:1/before");
        props.put("before.timeout.millis", 150);
        props.put("before.on.failure", "closed");
        props.put("before.ranking", 7);
        props.put("after.urls", "http://127.0.0.1:1/a,http://127.0.0.1:1/b");
        WebhooksComponent component = new WebhooksComponent(context.context, config(props));
        try {
            assertEquals(2, context.registered.size());
            Registered interceptor = context.registered.get(0);
            assertEquals(SendInterceptor.class, interceptor.type());
            assertTrue(interceptor.service() instanceof SendInterceptor);
            assertEquals("webhook", interceptor.properties().get(SendInterceptor.NAME));
            assertEquals(150L, interceptor.properties().get(SendInterceptor.TIMEOUT_MILLIS));
            assertEquals("closed", interceptor.properties().get(SendInterceptor.ON_FAILURE));
            assertEquals(7, interceptor.properties().get(Constants.SERVICE_RANKING));
            Registered channel = context.registered.get(1);
            assertEquals(NotificationDispatcher.class, channel.type());
            assertEquals("webhook", channel.properties().get(NotificationDispatcher.CHANNEL));
            assertEquals("all", channel.properties().get(NotificationDispatcher.SCOPE));
        } finally {
            component.deactivate();
        }
        assertEquals(2, context.unregistered.size());
    }

    @Test
    void deactivateLeavesNoThreadBehind() throws Exception {
        try (TestWebhookServer slow = new TestWebhookServer(r -> new Answer(200, "{\"action\":\"pass\"}", 5_000));
             TestWebhookServer failing = new TestWebhookServer(r -> Answer.status(500))) {
            Set<String> before = threadNames();
            FakeContext context = new FakeContext();
            Map<String, Object> props = new HashMap<>();
            props.put("secret", SECRET);
            props.put("before.url", slow.url().toString());
            props.put("before.timeout.millis", 10_000);
            props.put("after.urls", failing.url() + "," + slow.url());
            props.put("after.backoff.initial.millis", 50L);
            WebhooksComponent component = new WebhooksComponent(context.context, config(props));
            SendInterceptor interceptor = (SendInterceptor) context.registered.get(0).service();
            NotificationDispatcher channel = (NotificationDispatcher) context.registered.get(1).service();

            CompletableFuture<?> pending = interceptor.beforeSend(Messages.text("m1", "hi")).toCompletableFuture();
            channel.dispatch(new Notification(Messages.text("m2", "hi"), "hi", List.of("bob"), Set.of()));
            waitUntil(() -> failing.received().size() >= 2 && slow.received().size() >= 2); // retrying, and in flight
            Set<String> running = newThreads(before);
            assertTrue(running.stream().anyMatch(n -> n.startsWith("parley-webhooks-")), running.toString());
            assertTrue(running.stream().anyMatch(n -> n.matches("HttpClient-\\d+-SelectorManager")),
                    running.toString());
            assertFalse(pending.isDone());

            component.deactivate();
            waitUntil(pending::isDone); // the cancellation may complete it on the HTTP client's thread
            assertTrue(pending.isCompletedExceptionally(), "a before-send call in flight fails at deactivation");
            // no garbage collection needed: the executor is stopped and the HTTP client's selector thread ended
            // (shutdownNow on Java 21+, interrupted on 17); only the JDK's short-lived completion threads may linger
            // for a moment
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            Set<String> left = newThreads(before);
            while (!left.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
                left = newThreads(before);
            }
            assertEquals(Set.of(), left, "threads left after deactivate");
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static WebhooksConfig config(Map<String, ?> props) {
        return ComponentConfigs.of(WebhooksConfig.class, props);
    }

    private static Set<String> threadNames() {
        Set<String> names = new TreeSet<>();
        Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).forEach(t -> names.add(t.getName()));
        return names;
    }

    /**
     * Threads alive now that were not before, except the test servers' own and the JVM's shared common pool (JDK 17's
     * HttpClient completes sendAsync futures through it; those threads belong to the JVM, hold nothing of the
     * bundle and end by themselves). With fewer than 3 cores the JDK runs those completions on fresh short-lived
     * threads instead ("Thread-N"), which the caller waits out.
     */
    private static Set<String> newThreads(Set<String> before) {
        Set<String> now = threadNames();
        now.removeAll(before);
        now.removeIf(n -> n.startsWith(TestWebhookServer.THREAD_PREFIX) || n.startsWith("ForkJoinPool.commonPool"));
        return now;
    }

    private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 10 s");
            }
            Thread.sleep(10);
        }
    }

    record Registered(Class<?> type, Object service, Dictionary<String, ?> properties) {
    }

    /** A BundleContext that records registerService(Class, S, Dictionary) and unregister(); nothing else is used. */
    static final class FakeContext {
        final List<Registered> registered = new ArrayList<>();
        final List<Registered> unregistered = new ArrayList<>();
        final BundleContext context = (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[]{BundleContext.class}, (proxy, method, args) -> {
                    if (method.getName().equals("registerService") && args[0] instanceof Class<?> type) {
                        @SuppressWarnings("unchecked")
                        Registered r = new Registered(type, args[1], (Dictionary<String, ?>) args[2]);
                        registered.add(r);
                        return Proxy.newProxyInstance(getClass().getClassLoader(),
                                new Class<?>[]{ServiceRegistration.class}, (p, m, a) -> {
                                    if (m.getName().equals("unregister")) {
                                        unregistered.add(r);
                                        return null;
                                    }
                                    throw new UnsupportedOperationException(m.getName());
                                });
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
