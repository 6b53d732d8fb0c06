package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.message.MessageProcessor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WhiteboardTest {
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final Whiteboard<MessageProcessor> registry = new Whiteboard<>("message type", "processor", ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, timer, 2000, 3);
    private final MessageProcessor v1 = (c, m) -> null;
    private final MessageProcessor v2 = (c, m) -> null;

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    private static ErrorCode failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        return assertInstanceOf(ParleyException.class, e.getCause()).code();
    }

    @Test
    void unknownTypeIsUnsupported() {
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, failure(registry.lookup("text").toCompletableFuture()));
    }

    @Test
    void highestRankingWinsAndTheNextTakesOver() throws Exception {
        registry.add("text", 1, 0, 10, v1);
        registry.add("text", 2, 5, 11, v2);
        assertSame(v2, registry.lookup("text").toCompletableFuture().get());
        registry.remove("text", 2, true);
        assertSame(v1, registry.lookup("text").toCompletableFuture().get());
    }

    @Test
    void sendsAreHeldDuringAnUpdateAndGoToTheNewRevision() throws Exception {
        registry.add("text", 1, 0, 10, v1);
        registry.remove("text", 1, true);
        registry.bundleStopped(10);
        registry.bundleUpdating(10);
        CompletableFuture<MessageProcessor> held = registry.lookup("text").toCompletableFuture();
        Thread.sleep(Whiteboard.STOP_GRACE_MILLIS * 2); // past the stop grace: the update keeps the hold
        assertFalse(held.isDone());
        registry.add("text", 2, 0, 10, v2);
        assertSame(v2, held.get(1, TimeUnit.SECONDS));
    }

    @Test
    void aPlainStopReleasesHeldSendsAsUnsupported() {
        registry.add("text", 1, 0, 10, v1);
        registry.remove("text", 1, true);
        CompletableFuture<MessageProcessor> held = registry.lookup("text").toCompletableFuture();
        registry.bundleStopped(10);
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, failure(held));
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, failure(registry.lookup("text").toCompletableFuture()));
    }

    @Test
    void uninstallReleasesAtOnce() {
        registry.add("text", 1, 0, 10, v1);
        registry.remove("text", 1, true);
        registry.bundleUpdating(10);
        CompletableFuture<MessageProcessor> held = registry.lookup("text").toCompletableFuture();
        registry.bundleUninstalled(10);
        assertTrue(held.isDone());
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, failure(held));
    }

    @Test
    void holdIsBoundedInCountAndTime() {
        Whiteboard<MessageProcessor> quick = new Whiteboard<>("message type", "processor", ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, timer, 100, 2);
        quick.add("text", 1, 0, 10, v1);
        quick.remove("text", 1, true);
        quick.bundleUpdating(10);
        CompletableFuture<MessageProcessor> a = quick.lookup("text").toCompletableFuture();
        CompletableFuture<MessageProcessor> b = quick.lookup("text").toCompletableFuture();
        CompletableFuture<MessageProcessor> c = quick.lookup("text").toCompletableFuture();
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, failure(c));
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, failure(a));
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, failure(b));
    }

    @Test
    void removalOutsideAStopIsNotHeld() {
        registry.add("text", 1, 0, 10, v1);
        registry.remove("text", 1, false);
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, failure(registry.lookup("text").toCompletableFuture()));
    }
}
