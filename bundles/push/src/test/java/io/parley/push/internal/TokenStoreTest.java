package io.parley.push.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.push.internal.TokenStore.DeviceToken;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenStoreTest {

    @TempDir
    Path dir;

    private final AtomicLong now = new AtomicLong(1_000_000);

    private TokenStore open() {
        return TokenStore.open(dir, 100, now::get);
    }

    static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void tokensAndMutesSurviveCloseAndReopen() throws Exception {
        try (TokenStore store = open()) {
            await(store.register("bob", "phone", "fcm", "tok-phone"));
            await(store.register("bob", "tablet", "fcm", "tok-tablet"));
            await(store.register("bobby", "phone", "fcm", "tok-bobby")); // a user id that starts like bob's
            await(store.mute("bob", "g:team", 5_000_000));
        }
        assertTrue(Files.exists(dir.resolve(TokenStore.FILE_NAME)));
        try (TokenStore store = open()) {
            assertEquals(List.of(new DeviceToken("phone", "fcm", "tok-phone"), new DeviceToken("tablet", "fcm", "tok-tablet")),
                    store.tokens("bob"));
            assertEquals(List.of(new DeviceToken("phone", "fcm", "tok-bobby")), store.tokens("bobby"));
            assertEquals(List.of(), store.tokens("bo"));
            assertTrue(store.muted("bob", "g:team", now.get()));
            assertFalse(store.muted("bob", "g:team", 5_000_000), "the mute ends at until");
            assertFalse(store.muted("bob", "d:alice:bob", now.get()));
        }
    }

    @Test
    void aDeviceHasOneTokenAndATokenOneOwner() throws Exception {
        try (TokenStore store = open()) {
            await(store.register("bob", "phone", "fcm", "old"));
            await(store.register("bob", "phone", "fcm", "new"));
            assertEquals(List.of(new DeviceToken("phone", "fcm", "new")), store.tokens("bob"));
            // bob logs out without unregistering, carol logs in on the same phone: the install's token moves to her
            await(store.register("carol", "phone", "fcm", "new"));
            assertEquals(List.of(), store.tokens("bob"));
            assertEquals(List.of(new DeviceToken("phone", "fcm", "new")), store.tokens("carol"));
            // the old token is free again: registering it elsewhere takes nothing from carol
            await(store.register("dave", "pc", "fcm", "old"));
            assertEquals(1, store.tokens("carol").size());
            assertTrue(await(store.unregister("carol", "phone")));
            assertFalse(await(store.unregister("carol", "phone")));
            assertEquals(List.of(), store.tokens("carol"));
        }
    }

    @Test
    void aRefusedTokenIsRemovedOnlyIfTheDeviceStillHasIt() throws Exception {
        try (TokenStore store = open()) {
            await(store.register("bob", "phone", "fcm", "t1"));
            await(store.register("bob", "phone", "fcm", "t2")); // re-registered while a push to t1 was in flight
            assertFalse(await(store.removeIfToken("bob", "phone", "fcm", "t1")));
            assertEquals(List.of(new DeviceToken("phone", "fcm", "t2")), store.tokens("bob"));
            assertTrue(await(store.removeIfToken("bob", "phone", "fcm", "t2")));
            assertEquals(List.of(), store.tokens("bob"));
            // and t2 is free for another owner
            await(store.register("carol", "phone", "fcm", "t2"));
            assertEquals(1, store.tokens("carol").size());
        }
    }

    @Test
    void unmuteAndExpiredMutesAreGoneAfterReopen() throws Exception {
        try (TokenStore store = open()) {
            await(store.mute("bob", "g:a", 2_000_000));
            await(store.mute("bob", "g:b", Long.MAX_VALUE));
            await(store.mute("bob", "g:c", Long.MAX_VALUE));
            await(store.mute("bob", "g:c", 0));
            assertFalse(store.muted("bob", "g:c", now.get()));
        }
        now.set(3_000_000);
        try (TokenStore store = open()) {
            assertFalse(store.muted("bob", "g:a", 0), "pruned when the store opened");
            assertTrue(store.muted("bob", "g:b", now.get()));
        }
    }

    @Test
    void writesAfterCloseAreRefusedAsRetryable() throws Exception {
        TokenStore store = open();
        store.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(store.register("a", "b", "fcm", "t")));
        ParleyException cause = (ParleyException) e.getCause();
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, cause.code());
        assertTrue(cause.retryable());
        store.close(); // idempotent
    }

    @Test
    void everyQueuedWriteCompletesBeforeClose() throws Exception {
        TokenStore store = open();
        List<CompletionStage<Void>> writes = new java.util.ArrayList<>();
        for (int i = 0; i < 50; i++) {
            writes.add(store.register("u" + i, "d", "fcm", "t" + i));
        }
        store.close();
        for (CompletionStage<Void> write : writes) {
            assertTrue(write.toCompletableFuture().isDone());
        }
        try (TokenStore reopened = open()) {
            for (int i = 0; i < 50; i++) {
                assertEquals(1, reopened.tokens("u" + i).size(), "u" + i);
            }
        }
    }
}
