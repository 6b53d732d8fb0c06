package io.parley.push.internal;

import io.parley.push.spi.PushProvider;
import io.parley.push.spi.Result;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class ProviderRegistryTest {

    private static PushProvider provider() {
        return push -> CompletableFuture.completedFuture(Result.sent());
    }

    private static Map<String, Object> props(String platform, long id, int ranking) {
        return Map.of(PushProvider.PLATFORM, platform, "service.id", id, "service.ranking", ranking);
    }

    @Test
    void highestRankingWinsThenLowestServiceIdAndRemovalFallsBack() {
        ProviderRegistry registry = new ProviderRegistry();
        PushProvider first = provider();
        PushProvider twin = provider();
        PushProvider better = provider();
        PushProvider apns = provider();
        registry.add(first, props("fcm", 10, 0));
        registry.add(twin, props("fcm", 11, 0));
        registry.add(apns, props("apns", 12, 0));
        assertSame(first, registry.lookup("fcm"));
        registry.add(better, props("fcm", 13, 5));
        assertSame(better, registry.lookup("fcm"));
        assertSame(apns, registry.lookup("apns"));
        registry.remove(props("fcm", 13, 5));
        assertSame(first, registry.lookup("fcm"));
        registry.remove(props("fcm", 10, 0));
        assertSame(twin, registry.lookup("fcm"));
        registry.remove(props("fcm", 11, 0));
        assertNull(registry.lookup("fcm"));
    }

    @Test
    void anUpdatedRankingOrPlatformIsFollowed() {
        ProviderRegistry registry = new ProviderRegistry();
        PushProvider a = provider();
        PushProvider b = provider();
        registry.add(a, props("fcm", 1, 0));
        registry.add(b, props("fcm", 2, 0));
        registry.add(b, props("fcm", 2, 9)); // updated
        assertSame(b, registry.lookup("fcm"));
        registry.add(b, props("hms", 2, 9)); // moved to another platform
        assertSame(a, registry.lookup("fcm"));
        assertSame(b, registry.lookup("hms"));
    }

    @Test
    void aProviderWithoutPlatformIsIgnored() {
        ProviderRegistry registry = new ProviderRegistry();
        assertFalse(registry.add(provider(), Map.of("service.id", 3L)));
        assertFalse(registry.add(provider(), Map.of("service.id", 4L, PushProvider.PLATFORM, "")));
        assertNull(registry.lookup(""));
    }
}
