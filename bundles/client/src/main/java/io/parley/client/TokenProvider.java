package io.parley.client;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Supplies the token sent in {@code Hello} on every connection attempt, so an expiring token can be replaced.
 *
 * <p>Called on the client's event loop; it must not block: return an incomplete stage and complete it from
 * another thread when the token needs I/O. A failed stage counts as a failed connection attempt.
 */
@FunctionalInterface
public interface TokenProvider {
    /**
     * @param refresh true after the server refused the previous token (UNAUTHENTICATED or TOKEN_EXPIRED): a
     *     cached token must not be returned again
     * @return the token
     */
    CompletionStage<String> token(boolean refresh);

    /** @return a provider that always returns {@code token} */
    static TokenProvider fixed(String token) {
        CompletableFuture<String> done = CompletableFuture.completedFuture(token);
        return refresh -> done;
    }

    /**
     * @return a provider calling {@code supplier} on {@code executor} for every connection attempt, so the
     *     supplier may block
     */
    static TokenProvider of(Supplier<String> supplier, Executor executor) {
        return refresh -> CompletableFuture.supplyAsync(supplier, executor);
    }
}
