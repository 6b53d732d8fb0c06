package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.message.MessageProcessor;
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
 * Processors keyed by message type (the whiteboard), highest ranking first, plus the hold that keeps sends of a
 * type waiting while the bundle providing it is updated.
 *
 * <p>Hold rules: when the last processor of a type leaves because its bundle is stopping, sends of that type are
 * held. If the bundle is then updated or refreshed (UNRESOLVED/UPDATED), they keep waiting for the new revision's
 * processor, at most {@code holdMillis}, after which they fail with retryable {@code UNAVAILABLE}. If the bundle
 * was only stopped (no update follows within {@link #STOP_GRACE_MILLIS}) or is uninstalled, they fail with
 * {@code UNSUPPORTED_TYPE}, the same answer a type that never existed gets.
 *
 * <p>Thread-safety: all methods are thread-safe. {@link #lookup} is lock-free while a processor is present.
 * Waiters are completed outside the lock, on the thread that registers the processor or the timer thread.
 */
final class ProcessorRegistry {
    static final long STOP_GRACE_MILLIS = 250;
    private static final Logger LOG = LoggerFactory.getLogger(ProcessorRegistry.class);

    private record Provider(long serviceId, int ranking, long bundleId, MessageProcessor processor,
                            CompletableFuture<MessageProcessor> ready) {
    }

    private static final Comparator<Provider> BEST_FIRST =
            Comparator.comparingInt(Provider::ranking).reversed().thenComparingLong(Provider::serviceId);

    private final class Hold {
        final String type;
        final long bundleId;
        final List<CompletableFuture<MessageProcessor>> waiters = new ArrayList<>();
        final ScheduledFuture<?> timeout;
        boolean updating;

        Hold(String type, long bundleId) {
            this.type = type;
            this.bundleId = bundleId;
            this.timeout = timer.schedule(() -> expire(this), holdMillis, TimeUnit.MILLISECONDS);
        }
    }

    private final ScheduledExecutorService timer;
    private final long holdMillis;
    private final int holdMaxSends;
    private final Map<String, List<Provider>> providers = new HashMap<>();
    private final Map<String, Hold> holds = new HashMap<>();
    /** Copy-on-write snapshot: type → completed future of the best processor. */
    private volatile Map<String, CompletableFuture<MessageProcessor>> best = Map.of();

    ProcessorRegistry(ScheduledExecutorService timer, long holdMillis, int holdMaxSends) {
        this.timer = timer;
        this.holdMillis = holdMillis;
        this.holdMaxSends = holdMaxSends;
    }

    /**
     * @return a stage completed with the processor for {@code type}: at once if one is registered, later if the type
     *         is held, or failed with {@link ParleyException} ({@code UNSUPPORTED_TYPE} or {@code UNAVAILABLE})
     */
    CompletionStage<MessageProcessor> lookup(String type) {
        CompletableFuture<MessageProcessor> ready = best.get(type);
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
                        "type '" + type + "' is being updated and too many sends are waiting", true));
            }
            CompletableFuture<MessageProcessor> waiter = new CompletableFuture<>();
            hold.waiters.add(waiter);
            return waiter;
        }
    }

    void add(String type, long serviceId, int ranking, long bundleId, MessageProcessor processor) {
        Hold released;
        Provider provider = new Provider(serviceId, ranking, bundleId, processor, CompletableFuture.completedFuture(processor));
        synchronized (this) {
            List<Provider> list = providers.computeIfAbsent(type, t -> new ArrayList<>());
            list.add(provider);
            list.sort(BEST_FIRST);
            publish();
            released = holds.remove(type);
        }
        LOG.info("Message type '{}' is served by bundle {} (service {}, ranking {})", type, bundleId, serviceId, ranking);
        if (released != null) {
            released.timeout.cancel(false);
            MessageProcessor chosen = lookup(type).toCompletableFuture().getNow(processor);
            LOG.info("Releasing {} held send(s) of type '{}' to the new processor", released.waiters.size(), type);
            released.waiters.forEach(w -> w.complete(chosen));
        }
    }

    /**
     * @param providerStopping true when the providing bundle is stopping (stop, update, refresh or uninstall): the
     *                         type is held if no other processor serves it
     */
    void remove(String type, long serviceId, boolean providerStopping) {
        synchronized (this) {
            List<Provider> list = providers.get(type);
            if (list == null) {
                return;
            }
            Provider removed = null;
            for (Iterator<Provider> it = list.iterator(); it.hasNext(); ) {
                Provider p = it.next();
                if (p.serviceId() == serviceId) {
                    removed = p;
                    it.remove();
                }
            }
            if (list.isEmpty()) {
                providers.remove(type);
                if (removed != null && providerStopping && !holds.containsKey(type)) {
                    holds.put(type, new Hold(type, removed.bundleId()));
                    LOG.info("Message type '{}' left with its bundle {}; holding its sends for up to {} ms",
                            type, removed.bundleId(), holdMillis);
                } else {
                    LOG.info("Message type '{}' is no longer served", type);
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

    synchronized List<String> types() {
        return List.copyOf(providers.keySet());
    }

    /** Fails every held send as UNAVAILABLE (the engine is stopping). */
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
        LOG.warn("Message type '{}' did not come back within {} ms; refusing {} held send(s) as UNAVAILABLE",
                hold.type, holdMillis, hold.waiters.size());
        fail(hold, new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE,
                "type '" + hold.type + "' is being updated; retry later", true));
    }

    private void fail(Hold hold, ParleyException error) {
        hold.timeout.cancel(false);
        hold.waiters.forEach(w -> w.completeExceptionally(error));
    }

    private void publish() {
        Map<String, CompletableFuture<MessageProcessor>> next = new HashMap<>();
        providers.forEach((type, list) -> next.put(type, list.get(0).ready()));
        best = Map.copyOf(next);
    }

    private static ParleyException unsupported(String type) {
        return new ParleyException(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, "no processor for message type '" + type + "'");
    }
}
