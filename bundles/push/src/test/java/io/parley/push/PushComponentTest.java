package io.parley.push;

import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.testing.ComponentConfigs;
import io.parley.push.internal.FcmClient;
import io.parley.push.internal.TokenStore;
import io.parley.push.spi.PushProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and the config maps right. */
class PushComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.push.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefaultAndAComment() throws IOException {
        ComponentConfigs.assertShippedCfg(PushConfig.class, SHIPPED_CFG);
    }

    @Test
    void theDirResolvesAgainstParleyHome() {
        assertEquals(Path.of("/srv/parley/data/push"), PushComponent.resolveDir("data/push", "/srv/parley"));
        assertEquals(Path.of("/var/push"), PushComponent.resolveDir("/var/push", "/srv/parley"));
        assertEquals(Path.of("data/push").toAbsolutePath(), PushComponent.resolveDir(" data/push ", null));
    }

    @Test
    void fcmIsOffWithoutAProjectAndMapsEveryKeyWithOne() {
        assertTrue(FcmProviderComponent.settings(config(Map.of())).isEmpty(), "FCM is off by default");
        FcmClient.Settings settings = FcmProviderComponent.settings(config(Map.of("fcm.project", " demo ",
                "fcm.endpoint", "http://127.0.0.1:9/", "fcm.credential", "tok", "fcm.timeout.millis", 1500L,
                "fcm.retries", 2, "fcm.retry.base.millis", 250L, "fcm.max.in.flight", 8, "fcm.queue.max", 99))).orElseThrow();
        assertEquals(new FcmClient.Settings(URI.create("http://127.0.0.1:9/"), "demo", "tok", Duration.ofMillis(1500), 2,
                Duration.ofMillis(250), 8, 99), settings);
        assertEquals(URI.create("http://127.0.0.1:9/v1/projects/demo/messages:send"), settings.sendUri());
        assertThrows(IllegalArgumentException.class, () -> FcmProviderComponent.settings(config(Map.of(
                "fcm.project", "demo", "fcm.endpoint", "fcm.googleapis.com"))));
    }

    @Test
    void previewSettingsMap() {
        assertEquals(new io.parley.push.internal.PushDispatcher.Settings(true, "New message", 200),
                PushComponent.settings(config(Map.of())));
    }

    @Test
    void activateRegistersTheCommandsAndTheChannelWithRoutingPropertiesOnly(@TempDir Path dir) throws Exception {
        FakeBundleContext bundle = new FakeBundleContext();
        PushComponent component = new PushComponent();
        component.activate(bundle.context(), config(Map.of("dir", dir.toString(), "fcm.project", "demo",
                "fcm.credential", "top-secret-credential")));

        Set<Object> commandTypes = bundle.registered.stream()
                .filter(r -> r.type.equals(CommandHandler.class.getName()))
                .map(r -> r.properties.get(CommandHandler.TYPE)).collect(Collectors.toSet());
        assertEquals(Set.of("push.register", "push.unregister", "push.mute"), commandTypes);
        List<FakeBundleContext.Registered> channels = bundle.registered.stream()
                .filter(r -> r.type.equals(NotificationDispatcher.class.getName())).toList();
        assertEquals(1, channels.size());
        assertEquals(Map.of(NotificationDispatcher.CHANNEL, "offline-push", NotificationDispatcher.SCOPE, "offline"),
                channels.get(0).properties);
        assertEquals(4, bundle.registered.size());
        for (FakeBundleContext.Registered r : bundle.registered) {
            assertFalse(r.properties.containsValue("top-secret-credential"), "the credential is not a service property");
        }

        NotificationDispatcher channel = (NotificationDispatcher) channels.get(0).service;
        Notification notification = new Notification(Message.newBuilder().setConversation("g:x").setSender("a").setSeq(1)
                .build(), "hi", List.of("nobody"), Set.of());
        assertTrue(channel.dispatch(notification).toCompletableFuture().isDone());
        assertEquals(1, component.counts().noToken());

        component.deactivate();
        assertTrue(bundle.registered.stream().allMatch(r -> r.unregistered));
        TokenStore.open(dir, 1, System::currentTimeMillis).close(); // the file was released
    }

    @Test
    void theFcmComponentRegistersAProviderOnlyWhenConfigured(@TempDir Path dir) {
        FakeBundleContext off = new FakeBundleContext();
        new FcmProviderComponent(off.context(), config(Map.of())).deactivate();
        assertEquals(List.of(), off.registered);

        FakeBundleContext on = new FakeBundleContext();
        FcmProviderComponent component = new FcmProviderComponent(on.context(), config(Map.of("fcm.project", "demo",
                "fcm.credential", "top-secret-credential", "fcm.endpoint", "http://127.0.0.1:9")));
        assertEquals(1, on.registered.size());
        FakeBundleContext.Registered provider = on.registered.get(0);
        assertEquals(PushProvider.class.getName(), provider.type);
        assertEquals(Map.of(PushProvider.PLATFORM, "fcm"), provider.properties);
        component.deactivate();
        assertTrue(provider.unregistered);
        // stopped: a push now fails at once
        CompletableFuture<?> result = ((PushProvider) provider.service).send(io.parley.push.spi.Push.builder()
                .platform("fcm").token("t").userId("u").deviceId("d").conversation("c").build()).toCompletableFuture();
        assertEquals("FAILED: the FCM provider is stopped", result.getNow(null).toString());
    }

    private static PushConfig config(Map<String, Object> properties) {
        return ComponentConfigs.of(PushConfig.class, properties);
    }
}
