package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import org.slf4j.Logger;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A request whose rate-limit token was reserved ({@link Limits}) and that runs once it is there: the session's next
 * frame waits with it (the returned stage is the frame's admission), so a client that goes a little too fast is slowed
 * down, in order, instead of refused. Stateless.
 */
final class DelayedAdmission {

    private DelayedAdmission() {
    }

    /**
     * Runs {@code action} on {@code workers} after {@code nanos}. A {@link ParleyException} it throws is answered to
     * request {@code rid} as the session answers refusals; another exception is logged and answered INTERNAL.
     *
     * @return completed once the action's own stage completed (or it failed, or the engine is stopping)
     */
    static CompletionStage<Void> after(long nanos, ScheduledExecutorService timer, ExecutorService workers,
                                       ServerSession session, long rid, Supplier<CompletionStage<Void>> action,
                                       Logger log) {
        CompletableFuture<Void> admitted = new CompletableFuture<>();
        Runnable run = () -> {
            try {
                action.get().whenComplete((v, e) -> admitted.complete(null));
            } catch (ParleyException e) {
                session.reject(rid, e);
                admitted.complete(null);
            } catch (RuntimeException e) {
                log.error("{}: internal error on a delayed request", session, e);
                session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
                admitted.complete(null);
            }
        };
        try {
            timer.schedule(() -> {
                try {
                    workers.execute(run);
                } catch (RejectedExecutionException e) {
                    admitted.complete(null); // stopping
                }
            }, nanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            admitted.complete(null); // stopping: every session is being closed
        }
        return admitted;
    }
}
