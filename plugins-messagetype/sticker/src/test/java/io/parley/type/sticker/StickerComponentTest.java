package io.parley.type.sticker;

import io.parley.core.testing.ComponentConfigs;
import io.parley.type.support.testing.ComponentLifecycle;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StickerComponentTest {

    @Test
    void theShippedCfgListsEveryKeyWithItsDefault() throws Exception {
        ComponentConfigs.assertShippedCfg(StickerComponent.Config.class, Path.of("src/main/conf/parley.type.sticker.cfg"));
    }

    @Test
    void theSharedBlobKeysHaveTheDefaultsOfTheFileTypesCfg() throws Exception {
        // conf/parley.blob.cfg belongs to the file types; what this bundle reads of it must default alike
        Path shared = Path.of("../file/src/main/conf/parley.blob.cfg");
        java.util.Properties cfg = new java.util.Properties();
        try (var in = java.nio.file.Files.newBufferedReader(shared)) {
            cfg.load(in);
        }
        ComponentConfigs.defaults(StickerComponent.BlobConfig.class).forEach((key, value) ->
                assertEquals(cfg.getProperty(key), value, key));
    }

    @Test
    void settingsAreCheckedAndNameTheKey() {
        StickerSettings defaults = settings(Map.of(), Map.of());
        assertEquals(524_288, defaults.imageMaxBytes());
        assertEquals(1024, defaults.imageMaxSide());
        assertEquals(Duration.ofDays(1), defaults.catalogUrlTtl());
        assertEquals(Duration.ofMinutes(1), defaults.refreshInterval());
        assertEquals(URI.create("http://127.0.0.1:7702"), defaults.publicUrl());
        assertTrue(assertThrows(IllegalStateException.class, defaults::requireSecret).getMessage()
                .contains("ticket.secret"));
        assertEquals(32, settings(Map.of(), Map.of("ticket.secret", " " + "k".repeat(32) + " ")).requireSecret().length);
        for (Map.Entry<String, Object> bad : Map.<String, Object>of("image.max.bytes", 10, "image.max.side", 5000,
                "catalog.url.seconds", 30L, "refresh.seconds", 0L).entrySet()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> settings(Map.of(bad.getKey(), bad.getValue()), Map.of()));
            assertTrue(e.getMessage().contains(bad.getKey()), e.getMessage());
        }
        IllegalArgumentException url = assertThrows(IllegalArgumentException.class,
                () -> settings(Map.of(), Map.of("public.url", "ftp://x")));
        assertTrue(url.getMessage().contains("public.url"), url.getMessage());
    }

    @Test
    void theComponentRegistersTheTypeAndCommandsLoadsThePacksWhenAStoreIsBoundAndStopsItsThreads(
            @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Map<String, Object> registered = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.List<String> unregistered = new java.util.concurrent.CopyOnWriteArrayList<>();
        org.osgi.framework.BundleContext context = proxy(org.osgi.framework.BundleContext.class, (method, args) -> {
            if (!method.getName().equals("registerService")) {
                throw new UnsupportedOperationException(method.getName());
            }
            java.util.Dictionary<?, ?> props = (java.util.Dictionary<?, ?>) args[2];
            String type = String.valueOf(props.get(props.get(io.parley.core.spi.message.MessageProcessor.TYPE) != null
                    ? io.parley.core.spi.message.MessageProcessor.TYPE : io.parley.core.spi.command.CommandHandler.TYPE));
            registered.put(type, args[1]);
            return proxy(org.osgi.framework.ServiceRegistration.class, (m, a) -> {
                unregistered.add(type);
                return null;
            });
        });
        StickerComponent component = new StickerComponent(context,
                ComponentConfigs.of(StickerComponent.Config.class, Map.of()),
                ComponentConfigs.of(StickerComponent.BlobConfig.class, Map.of()));
        assertEquals(java.util.Set.of("sticker", "sticker.list", "sticker.pack.put", "sticker.pack.withdraw"),
                registered.keySet());
        var processor = (io.parley.core.spi.message.MessageProcessor) registered.get("sticker");
        var draft = StickerEndToEndTest.draft("alice", "cats", "hello");
        assertTrue(processor.process(null, draft).toCompletableFuture().isCompletedExceptionally(),
                "no store yet: not loaded, retryable");
        try (io.parley.blob.fs.FsBlobStore store = new io.parley.blob.fs.FsBlobStore(dir)) {
            component.bindBlob(store);
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (processor.process(null, draft).toCompletableFuture().isCompletedExceptionally()) {
                assertTrue(System.nanoTime() < deadline, "the packs are loaded once a store is bound");
                Thread.sleep(10);
            }
            assertTrue(processor.process(null, draft).toCompletableFuture().get().reason().contains("no sticker"));
            component.deactivate();
        }
        assertEquals(4, unregistered.size());
        ComponentLifecycle.awaitThreadsEnd("parley-sticker", "the workers and the refresh thread end on deactivation");
    }

    @FunctionalInterface
    interface Answer {
        Object answer(java.lang.reflect.Method method, Object[] args);
    }

    static <T> T proxy(Class<T> type, Answer answer) {
        return type.cast(java.lang.reflect.Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type},
                (p, method, args) -> switch (method.getName()) {
                    case "equals" -> p == args[0];
                    case "hashCode" -> System.identityHashCode(p);
                    case "toString" -> type.getSimpleName();
                    default -> answer.answer(method, args);
                }));
    }

    static StickerSettings settings(Map<String, ?> own, Map<String, ?> blob) {
        return StickerComponent.settingsOf(ComponentConfigs.of(StickerComponent.Config.class, own),
                ComponentConfigs.of(StickerComponent.BlobConfig.class, blob));
    }
}
