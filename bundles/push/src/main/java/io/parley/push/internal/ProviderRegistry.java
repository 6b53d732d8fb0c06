package io.parley.push.internal;

import io.parley.push.spi.PushProvider;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The push providers by platform, as their services come and go: for each platform the highest
 * {@code service.ranking} wins, then the lowest {@code service.id}. Lookups read an immutable snapshot (one volatile
 * read); changes are synchronized. Holds providers only between {@link #add} and {@link #remove}.
 */
public final class ProviderRegistry {

    private record Entry(PushProvider provider, String platform, int ranking, long serviceId) {
    }

    private static final Comparator<Entry> BEST_FIRST = Comparator.comparingInt(Entry::ranking).reversed()
            .thenComparingLong(Entry::serviceId);

    private final List<Entry> entries = new ArrayList<>();
    private volatile Map<String, PushProvider> best = Map.of();

    /**
     * Adds (or, with a known {@code service.id}, updates) a provider.
     *
     * @param properties its service properties: {@value PushProvider#PLATFORM}, {@code service.ranking},
     *                   {@code service.id}
     * @return false if it names no platform (it is then ignored)
     */
    public synchronized boolean add(PushProvider provider, Map<String, ?> properties) {
        long serviceId = serviceId(properties);
        entries.removeIf(e -> e.serviceId == serviceId);
        Object platform = properties.get(PushProvider.PLATFORM);
        boolean named = platform instanceof String s && !s.isEmpty();
        if (named) {
            Object ranking = properties.get("service.ranking");
            entries.add(new Entry(provider, (String) platform, ranking instanceof Integer i ? i : 0, serviceId));
        }
        publish();
        return named;
    }

    public synchronized void remove(Map<String, ?> properties) {
        long serviceId = serviceId(properties);
        entries.removeIf(e -> e.serviceId == serviceId);
        publish();
    }

    /** @return the provider for {@code platform}, or null if none is registered */
    public PushProvider lookup(String platform) {
        return best.get(platform);
    }

    private void publish() {
        Map<String, PushProvider> chosen = new HashMap<>();
        entries.stream().sorted(BEST_FIRST).forEach(e -> chosen.putIfAbsent(e.platform, e.provider));
        best = Map.copyOf(chosen);
    }

    private static long serviceId(Map<String, ?> properties) {
        return properties.get("service.id") instanceof Long id ? id : -1;
    }
}
