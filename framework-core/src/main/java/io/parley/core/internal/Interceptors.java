package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.intercept.SendInterceptor;
import io.parley.core.spi.intercept.Verdict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * The registered {@link SendInterceptor}s, run one after the other (highest ranking first) on every message about to
 * be stored, each under its time budget and failure policy (see {@link SendInterceptor}).
 *
 * <p>Thread-safe: the list is copy-on-write; {@link #apply} may run on any thread and chains stages without blocking.
 */
final class Interceptors {

    private static final Logger LOG = LoggerFactory.getLogger(Interceptors.class);

    record Entry(SendInterceptor interceptor, String name, long serviceId, int ranking, long timeoutMillis,
                 boolean failClosed) {
    }

    private static final Comparator<Entry> ORDER =
            Comparator.comparingInt(Entry::ranking).reversed().thenComparingLong(Entry::serviceId);

    private final CopyOnWriteArrayList<Entry> entries = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService timer;
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();

    Interceptors(ScheduledExecutorService timer) {
        this.timer = timer;
    }

    synchronized void add(Entry entry) {
        entries.add(entry);
        entries.sort(ORDER);
        LOG.info("Send interceptor '{}' added (ranking {}, budget {} ms, fail {})", entry.name(), entry.ranking(),
                entry.timeoutMillis(), entry.failClosed() ? "closed" : "open");
    }

    synchronized void remove(SendInterceptor interceptor) {
        entries.removeIf(e -> e.interceptor() == interceptor);
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    /**
     * Runs the chain on {@code message}.
     *
     * @param restore re-applies the fields the core owns (and its limits) to a rewritten message
     * @return a stage completed with the message to store, or failed with {@link ParleyException} for a veto or a
     *         fail-closed failure
     */
    CompletionStage<Message> apply(Message message, UnaryOperator<Message> restore) {
        List<Entry> chain = List.copyOf(entries);
        CompletionStage<Message> stage = CompletableFuture.completedFuture(message);
        for (Entry e : chain) {
            stage = stage.thenCompose(m -> one(e, m, restore));
        }
        return stage;
    }

    private CompletionStage<Message> one(Entry e, Message m, UnaryOperator<Message> restore) {
        return withBudget(e, m).handle((verdict, error) -> {
            if (error != null) {
                Throwable cause = error instanceof CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                boolean timedOut = cause instanceof TimeoutException;
                long n = (timedOut ? timeouts : failures).incrementAndGet();
                if (Long.bitCount(n) == 1) { // log at 1, 2, 4, 8, ... occurrences
                    LOG.warn("Send interceptor '{}' {} (message {}); {} so far; failing {}", e.name(),
                            timedOut ? "did not answer within " + e.timeoutMillis() + " ms" : "failed: " + cause,
                            m.getId(), n, e.failClosed() ? "closed: the send is refused" : "open: the send goes on");
                }
                if (e.failClosed()) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE,
                            "a send check is unavailable; retry later", true);
                }
                return m;
            }
            if (verdict == null || (verdict.body() == null && verdict.ext() == null && !verdict.isVeto())) {
                return m;
            }
            if (verdict.isVeto()) {
                throw new ParleyException(verdict.code(), verdict.reason());
            }
            Message.Builder b = m.toBuilder();
            if (verdict.body() != null) {
                b.setBody(verdict.body());
            }
            if (verdict.ext() != null) {
                b.clearExt().putAllExt(verdict.ext());
            }
            return restore.apply(b.build());
        });
    }

    private CompletableFuture<Verdict> withBudget(Entry e, Message m) {
        CompletableFuture<Verdict> result = new CompletableFuture<>();
        CompletionStage<Verdict> stage;
        try {
            stage = e.interceptor().beforeSend(m);
        } catch (RuntimeException ex) {
            return CompletableFuture.failedFuture(ex);
        }
        ScheduledFuture<?> deadline;
        try {
            deadline = timer.schedule(() -> result.completeExceptionally(new TimeoutException()), e.timeoutMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException stopping) {
            deadline = null;
        }
        ScheduledFuture<?> cancel = deadline;
        stage.whenComplete((v, ex) -> {
            if (cancel != null) {
                cancel.cancel(false);
            }
            if (ex != null) {
                result.completeExceptionally(ex);
            } else {
                result.complete(v);
            }
        });
        return result;
    }
}
