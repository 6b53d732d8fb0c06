package io.parley.core.internal;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.cluster.ClusterLink;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@link ClusterLink} the engine uses now, or none (a single node): set as DS binds and unbinds it, read once per
 * operation by the parts that reach other nodes. Calls into the link go through here, so a link that throws is logged
 * and never fails the engine's own work, and so that waiting for a link's answer is bounded by
 * {@code cluster.route.timeout.millis}.
 *
 * <p>Thread-safe: one volatile field; never blocks.
 */
@Singleton
final class CurrentLink {
    private static final Logger LOG = LoggerFactory.getLogger(CurrentLink.class);
    private static final CompletableFuture<Set<String>> NOBODY = CompletableFuture.completedFuture(Set.of());

    private final ScheduledExecutorService timer;
    private final long timeoutMillis;
    private final AtomicLong late = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile ClusterLink link;

    @Inject
    CurrentLink(EngineConfig config, ScheduledExecutorService timer) {
        this.timer = timer;
        this.timeoutMillis = Math.max(1, config.cluster_route_timeout_millis());
    }

    /** @return the bound link, or null while this node is alone */
    ClusterLink get() {
        return link;
    }

    void set(ClusterLink l) {
        this.link = l;
    }

    /**
     * {@code stage}'s value, or {@code fallback} if it fails, completes with null, or is not done within
     * {@code cluster.route.timeout.millis}. Completes on the link's thread or the engine's timer.
     */
    <T> CompletableFuture<T> within(CompletionStage<T> stage, T fallback, String what) {
        CompletableFuture<T> out = new CompletableFuture<>();
        stage.whenComplete((v, e) -> {
            if (e != null) {
                count(failed, "failed", what, e);
            }
            out.complete(e == null && v != null ? v : fallback);
        });
        if (!out.isDone()) {
            try {
                ScheduledFuture<?> timeout = timer.schedule(() -> {
                    if (out.complete(fallback)) {
                        count(late, "took longer than " + timeoutMillis + " ms", what, null);
                    }
                }, timeoutMillis, TimeUnit.MILLISECONDS);
                out.whenComplete((v, e) -> timeout.cancel(false));
            } catch (RejectedExecutionException stopping) {
                out.complete(fallback);
            }
        }
        return out;
    }

    /** Logs at the 1st, 2nd, 4th, 8th… occurrence, so a Redis outage does not flood the log. */
    private static void count(AtomicLong counter, String how, String what, Throwable e) {
        long n = counter.incrementAndGet();
        if (Long.bitCount(n) == 1) {
            LOG.warn("Cluster link: {} {} ({} time(s) so far){}", what, how, n, e == null ? "" : ": " + e);
        }
    }

    // ---------------------------------------------------------------- guarded calls

    CompletionStage<Void> sessionOpened(ClusterLink l, String user, String device) {
        try {
            CompletionStage<Void> s = l.sessionOpened(user, device);
            return s != null ? s : CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    void sessionClosed(ClusterLink l, String user, String device) {
        try {
            l.sessionClosed(user, device);
        } catch (RuntimeException e) {
            count(failed, "failed", "sessionClosed", e);
        }
    }

    CompletionStage<Set<String>> route(ClusterLink l, Message message, List<String> members) {
        try {
            CompletionStage<Set<String>> s = l.route(message, members);
            return s != null ? s : NOBODY;
        } catch (RuntimeException e) {
            count(failed, "failed", "route", e);
            return NOBODY;
        }
    }

    void relay(ClusterLink l, Frame frame, List<String> users) {
        try {
            l.relay(frame, users);
        } catch (RuntimeException e) {
            count(failed, "failed", "relay", e);
        }
    }

    void readMarked(ClusterLink l, String conversation, String user, long seq) {
        try {
            l.readMarked(conversation, user, seq);
        } catch (RuntimeException e) {
            count(failed, "failed", "readMarked", e);
        }
    }

    void kick(ClusterLink l, String user, String device, long startedBefore) {
        try {
            l.kick(user, device, startedBefore);
        } catch (RuntimeException e) {
            count(failed, "failed", "kick", e);
        }
    }

    void groupChanged(String groupId) {
        ClusterLink l = link;
        if (l == null) {
            return;
        }
        try {
            l.groupChanged(groupId);
        } catch (RuntimeException e) {
            count(failed, "failed", "groupChanged", e);
        }
    }
}
