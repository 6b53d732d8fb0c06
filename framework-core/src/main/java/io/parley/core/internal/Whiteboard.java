package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Services keyed by a type string (the whiteboard): message processors by message type, command handlers by command
 * type. Highest ranking first, plus the hold that keeps requests of a type waiting while the bundle providing it is
 * updated.
 *
 * <p>Hold rules: when the last service of a type leaves because its bundle is stopping, requests of that type are
 * held. If the bundle is then updated or refreshed (UNRESOLVED/UPDATED), they keep waiting for the new revision's
 * service, at most {@code holdMillis}, after which they fail with retryable {@code UNAVAILABLE}. If the bundle
 * was only stopped (no update follows within {@link #STOP_GRACE_MILLIS}) or is uninstalled, they fail with the
 * "unsupported" code ({@code UNSUPPORTED_TYPE}, {@code UNSUPPORTED_COMMAND}), the same answer a type that never
 * existed gets.
 *
 * <p>Thread-safety: all methods are thread-safe. {@link #lookup} is lock-free while a service is present.
 * Waiters are completed outside the lock, on the thread that registers the service or the timer thread.
 */
final class Whiteboard<T> {
    static final long STOP_GRACE_MILLIS = 250;
    private static final Logger LOG = LoggerFactory.getLogger(Whiteboard.class);

    private record Provider<S>(long serviceId, int ranking, long bundleId, S service, CompletableFuture<S> ready) {
    }

    private final Comparator<Provider<T>> bestFirst =
            Comparator.<Provider<T>>comparingInt(Provider::ranking).reversed().thenComparingLong(Provider::serviceId);

    private final class Hold {
        final String type;
        final long bundleId;
        final List<CompletableFuture<T>> waiters = new ArrayList<>();
        final ScheduledFuture<?> timeout;
        boolean updating;

        Hold(String type, long bundleId) {
            this.type = type;
            this.bundleId = bundleId;
            this.timeout = timer.schedule(() -> expire(this), holdMillis, TimeUnit.MILLISECONDS);
        }
    }

    private final String kind;
    private final String noun;
    private final ErrorCode unsupportedCode;
    private final ScheduledExecutorService timer;
    private final long holdMillis;
    private final int holdMaxSends;
    private final Map<String, List<Provider<T>>> providers = new HashMap<>();
    private final Map<String, Hold> holds = new HashMap<>();
    /** Requests ever held (metrics). Guarded by this. */
    private long heldTotal;
    /** Copy-on-write snapshot: type → completed future of the best service. */
    private volatile Map<String, CompletableFuture<T>> best = Map.of();

    /**
     * @param kind            what the keys are, for logs and errors: {@code "message type"}, {@code "command"}
     * @param noun            what the services are: {@code "processor"}, {@code "handler"}
     * @param unsupportedCode the error for a type nobody serves
     */
    Whiteboard(String kind, String noun, ErrorCode unsupportedCode, ScheduledExecutorService timer, long holdMillis,
               int holdMaxSends) {
        this.kind = kind;
        this.noun = noun;
        this.unsupportedCode = unsupportedCode;
        this.timer = timer;
        this.holdMillis = holdMillis;
        this.holdMaxSends = holdMaxSends;
    }

    /**
     * @return a stage completed with the service for {@code type}: at once if one is registered, later if the type
     *         is held, or failed with {@link ParleyException} (the unsupported code, or {@code UNAVAILABLE})
     */
    CompletionStage<T> lookup(String type) {
        CompletableFuture<T> ready = best.get(type);
        if (ready != null) {
            return ready;
        }
        synchronized (this) {
            ready = best.get(type);
            if (ready != null) {
                return ready;
            }
            Hold hold = holds.get(type);
            if (hold == null) {
                return CompletableFuture.failedFuture(unsupported(type));
            }
            if (hold.waiters.size() >= holdMaxSends) {
                return CompletableFuture.failedFuture(new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE,
                        kind + " '" + type + "' is being updated and too many requests are waiting", true));
            }
            CompletableFuture<T> waiter = new CompletableFuture<>();
            hold.waiters.add(waiter);
            heldTotal++;
            return waiter;
        }
    }

    /**
     * @return the service for {@code type} if one is registered now, else null (none, or the type is held); lock-free,
     *         never waits
     */
    T lookupNow(String type) {
        CompletableFuture<T> ready = best.get(type);
        return ready == null ? null : ready.getNow(null);
    }

    /** @return the requests waiting in holds right now (metrics; takes this object's lock briefly) */
    synchronized int heldNow() {
        int n = 0;
        for (Hold h : holds.values()) {
            n += h.waiters.size();
        }
        return n;
    }

    /** @return the requests held since this whiteboard was created (metrics) */
    synchronized long heldTotal() {
        return heldTotal;
    }

    void add(String type, long serviceId, int ranking, long bundleId, T service) {
        Hold released;
        Provider<T> provider = new Provider<>(serviceId, ranking, bundleId, service, CompletableFuture.completedFuture(service));
        synchronized (this) {
            List<Provider<T>> list = providers.computeIfAbsent(type, t -> new ArrayList<>());
            list.add(provider);
            list.sort(bestFirst);
            publish();
            released = holds.remove(type);
        }
        LOG.info("{} '{}' is served by bundle {} (service {}, ranking {})", capitalized(), type, bundleId, serviceId,
                ranking);
        if (released != null) {
            released.timeout.cancel(false);
            T chosen = lookup(type).toCompletableFuture().getNow(service);
            LOG.info("Releasing {} held request(s) of {} '{}' to the new service", released.waiters.size(), kind, type);
            released.waiters.forEach(w -> w.complete(chosen));
        }
    }

    /**
     * @param providerStopping true when the providing bundle is stopping (stop, update, refresh or uninstall): the
     *                         type is held if no other service serves it
     */
    void remove(String type, long serviceId, boolean providerStopping) {
        synchronized (this) {
            List<Provider<T>> list = providers.get(type);
            if (list == null) {
                return;
            }
            Provider<T> removed = null;
            for (Iterator<Provider<T>> it = list.iterator(); it.hasNext(); ) {
                Provider<T> p = it.next();
                if (p.serviceId() == serviceId) {
                    removed = p;
                    it.remove();
                }
            }
            if (list.isEmpty()) {
                providers.remove(type);
                if (removed != null && providerStopping && !holds.containsKey(type)) {
                    holds.put(type, new Hold(type, removed.bundleId()));
                    LOG.info("{} '{}' left with its bundle {}; holding its requests for up to {} ms",
                            capitalized(), type, removed.bundleId(), holdMillis);
                } else {
                    LOG.info("{} '{}' is no longer served", capitalized(), type);
                }
            }
            publish();
        }
    }

    /** The bundle moved to RESOLVED after stopping; unless an update follows quickly, its held types are gone. */
    void bundleStopped(long bundleId) {
        timer.schedule(() -> {
            List<Hold> released = new ArrayList<>();
            synchronized (this) {
                for (Iterator<Hold> it = holds.values().iterator(); it.hasNext(); ) {
                    Hold h = it.next();
                    if (h.bundleId == bundleId && !h.updating) {
                        it.remove();
                        released.add(h);
                    }
                }
            }
            released.forEach(h -> fail(h, unsupported(h.type)));
        }, STOP_GRACE_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** The bundle is being updated or refreshed: its held types wait for the new revision. */
    synchronized void bundleUpdating(long bundleId) {
        holds.values().forEach(h -> {
            if (h.bundleId == bundleId) {
                h.updating = true;
            }
        });
    }

    void bundleUninstalled(long bundleId) {
        List<Hold> released = new ArrayList<>();
        synchronized (this) {
            for (Iterator<Hold> it = holds.values().iterator(); it.hasNext(); ) {
                Hold h = it.next();
                if (h.bundleId == bundleId) {
                    it.remove();
                    released.add(h);
                }
            }
        }
        released.forEach(h -> fail(h, unsupported(h.type)));
    }

    /** @return type → the best service for it, right now */
    Map<String, T> services() {
        Map<String, T> out = new java.util.TreeMap<>();
        best.forEach((type, ready) -> out.put(type, ready.getNow(null)));
        return out;
    }

    /** Fails every held request as UNAVAILABLE (the engine is stopping). */
    void close() {
        List<Hold> released;
        synchronized (this) {
            released = new ArrayList<>(holds.values());
            holds.clear();
        }
        released.forEach(h -> fail(h, new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "server is stopping", true)));
    }

    private void expire(Hold hold) {
        synchronized (this) {
            if (holds.get(hold.type) != hold) {
                return;
            }
            holds.remove(hold.type);
        }
        LOG.warn("{} '{}' did not come back within {} ms; refusing {} held request(s) as UNAVAILABLE",
                capitalized(), hold.type, holdMillis, hold.waiters.size());
        fail(hold, new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE,
                kind + " '" + hold.type + "' is being updated; retry later", true));
    }

    private void fail(Hold hold, ParleyException error) {
        hold.timeout.cancel(false);
        hold.waiters.forEach(w -> w.completeExceptionally(error));
    }

    private void publish() {
        Map<String, CompletableFuture<T>> next = new HashMap<>();
        providers.forEach((type, list) -> next.put(type, list.get(0).ready()));
        best = Map.copyOf(next);
    }

    private ParleyException unsupported(String type) {
        return new ParleyException(unsupportedCode, "no " + noun + " for " + kind + " '" + type + "'");
    }

    private String capitalized() {
        return Character.toUpperCase(kind.charAt(0)) + kind.substring(1);
    }
}
