package io.parley.cluster.redis;

import io.parley.core.testing.RedisServer;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg, what each configuration starts, and stopping. */
class RedisClusterComponentTest {

    @TempDir
    Path dir;

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws Exception {
        ComponentConfigs.assertShippedCfg(RedisClusterConfig.class, Path.of("src/main/conf/parley.cluster.redis.cfg"));
    }

    @Test
    void withoutANodeIdNothingStarts() throws Exception {
        Set<String> before = threadNames();
        FakeContext context = new FakeContext();
        new RedisClusterComponent(context.context, config(Map.of()), new Node("n1")).deactivate();
        assertEquals(List.of(), context.registered);
        assertEquals(Set.of(), newThreads(before));
    }

    @Test
    void anUnusableConfigurationNamesItsKeysAndStartsNothing() throws Exception {
        List<String> problems = new ArrayList<>();
        assertNull(RedisClusterComponent.options(config(Map.of("node.id", "n2", "key.prefix", "p{x}:",
                "lease.seconds", 5, "heartbeat.seconds", 5, "redis.uri", "redis://a:1,redis://b:2")), "n1", problems));
        String all = String.join("\n", problems);
        for (String key : List.of("'node.id' is n2 but node.id in conf/parley.core.cfg is n1", "'key.prefix'",
                "'lease.seconds'", "'redis.uri' names 2 servers")) {
            assertTrue(all.contains(key), key + " in:\n" + all);
        }
        problems.clear();
        RedisClusterComponent.options(config(Map.of("node.id", "Node-1")), "Node-1", problems);
        assertTrue(problems.get(0).contains("1-8 characters"), problems.toString());

        Set<String> before = threadNames();
        FakeContext context = new FakeContext();
        new RedisClusterComponent(context.context, config(Map.of("node.id", "n2")), new Node("n1")).deactivate();
        assertEquals(List.of(), context.registered);
        assertEquals(Set.of(), newThreads(before));
    }

    @Test
    void theLinkIsRegisteredOnceJoinedAndEverythingStopsOnDeactivate() throws Exception {
        Set<String> before = threadNames();
        try (RedisServer redis = RedisServer.start(dir.resolve("redis"))) {
            FakeContext context = new FakeContext();
            Node node = new Node("n1");
            RedisClusterComponent component = new RedisClusterComponent(context.context,
                    config(Map.of("node.id", "n1", "redis.uri", redis.uri())), node);
            waitUntil(() -> context.registered.size() == 1, "the link registered");
            assertEquals(ClusterLink.class, context.registered.get(0));
            component.deactivate();
            assertEquals(1, context.unregistered.size());
            assertEquals(List.of("closeSessions"), node.calls, "its clients reconnect: no node routes to them now");
        }
        waitUntil(() -> newThreads(before).isEmpty(), "no thread left: " + newThreads(before));
    }

    // ---------------------------------------------------------------- helpers

    private static RedisClusterConfig config(Map<String, Object> props) {
        return ComponentConfigs.of(RedisClusterConfig.class, new HashMap<>(props));
    }

    private static Set<String> threadNames() {
        Set<String> names = new TreeSet<>();
        Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).forEach(t -> names.add(t.getName()));
        return names;
    }

    private static Set<String> newThreads(Set<String> before) {
        Set<String> now = threadNames();
        now.removeAll(before);
        now.removeIf(n -> n.startsWith("ForkJoinPool.commonPool") || n.startsWith("process reaper"));
        return now;
    }

    private static void waitUntil(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(50);
        }
    }

    /** A LocalNode that only records closeSessions. */
    static final class Node implements LocalNode {
        final String id;
        final List<String> calls = new CopyOnWriteArrayList<>();

        Node(String id) {
            this.id = id;
        }

        @Override
        public String nodeId() {
            return id;
        }

        @Override
        public void deliver(Message message, List<String> users) {
        }

        @Override
        public void relay(Frame frame, List<String> users) {
        }

        @Override
        public void readMarked(String conversation, String user, long seq) {
        }

        @Override
        public void kick(String user, String device, long startedBefore) {
        }

        @Override
        public void groupChanged(String groupId) {
        }

        @Override
        public void closeSessions(String reason) {
            calls.add("closeSessions");
        }
    }

    static final class FakeContext {
        final List<Class<?>> registered = new CopyOnWriteArrayList<>();
        final List<Class<?>> unregistered = new CopyOnWriteArrayList<>();
        final BundleContext context = (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[]{BundleContext.class}, (proxy, method, args) -> {
                    if (method.getName().equals("registerService") && args[0] instanceof Class<?> type) {
                        registered.add(type);
                        return Proxy.newProxyInstance(getClass().getClassLoader(),
                                new Class<?>[]{ServiceRegistration.class}, (p, m, a) -> {
                                    if (m.getName().equals("unregister")) {
                                        unregistered.add(type);
                                        return null;
                                    }
                                    throw new UnsupportedOperationException(m.getName());
                                });
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
