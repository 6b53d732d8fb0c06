package io.parley.store.memory;

import com.google.protobuf.Any;
import com.google.protobuf.StringValue;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.testing.RecordingConnection;
import org.junit.jupiter.api.Test;

import java.lang.annotation.Annotation;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory store's bound: refuses (retryably) instead of filling the heap, and says so. */
class MemoryStoreBoundTest {

    private static Message draft(String sender, String clientId, String text) {
        return Message.newBuilder().setConversation("d:ann|ben").setSender(sender).setSenderDevice("phone")
                .setClientMsgId(clientId).setType("text").setBody(Any.pack(StringValue.of(text))).build();
    }

    private static <T> T join(CompletionStage<T> stage) {
        return stage.toCompletableFuture().join();
    }

    private static ParleyException refusal(CompletionStage<?> stage) {
        CompletionException e = assertThrows(CompletionException.class, () -> join(stage));
        return assertInstanceOf(ParleyException.class, e.getCause());
    }

    @Test
    void theMessageBoundRefusesRetryablyAndKeepsWhatIsStored() {
        MemoryMessageStore store = new MemoryMessageStore(new MemoryMessageStore.Limits(3, Long.MAX_VALUE));
        for (int i = 1; i <= 3; i++) {
            assertEquals(i, join(store.append(draft("ann", "c" + i, "hi"), List.of("ann", "ben"))).message().getSeq());
        }
        assertTrue(store.writeFailure().isEmpty(), "not full before a refusal");

        ParleyException full = refusal(store.append(draft("ann", "c4", "hi"), List.of("ann", "ben")));
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, full.code());
        assertTrue(full.retryable());
        assertTrue(full.getMessage().contains("max.messages"), full.getMessage());
        assertTrue(store.writeFailure().orElseThrow().contains("in-memory store is full"));

        // nothing of the refused one was kept, its key is free, and a repeat of a stored one still answers
        assertEquals(3, store.head("d:ann|ben"));
        assertTrue(store.findByClientId("ann", "c4").isEmpty());
        MessageStore.Appended repeat = join(store.append(draft("ann", "c2", "hi"), List.of("ann", "ben")));
        assertTrue(repeat.duplicate());
        assertEquals(2, repeat.message().getSeq());
        assertEquals(3, store.heldMessages());
    }

    @Test
    void theByteBoundCountsSerializedSizeAndRefusesGrowingReplacements() {
        Message small = draft("ann", "s", "x");
        long cost = small.getSerializedSize() + MemoryMessageStore.Limits.OVERHEAD_BYTES;
        MemoryMessageStore store = new MemoryMessageStore(new MemoryMessageStore.Limits(100, 2 * cost + 10));
        join(store.append(small, List.of("ann", "ben")));
        join(store.append(draft("ann", "t", "y"), List.of("ann", "ben")));
        assertEquals(2 * cost, store.heldBytes());

        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE,
                refusal(store.append(draft("ann", "u", "z"), List.of("ann", "ben"))).code());
        // a replacement that grows past the bound is refused and leaves the message as it was
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refusal(store.replace("d:ann|ben", 1, "text",
                Any.pack(StringValue.of("a much longer body than the original")), Map.of())).code());
        assertEquals(small.getBody(), store.range("d:ann|ben", 1, 1, 1).get(0).getBody());
        // one that shrinks is accepted and gives room back
        Message tombstone = join(store.replace("d:ann|ben", 2, "recalled", Any.getDefaultInstance(), Map.of()))
                .orElseThrow();
        assertEquals("recalled", tombstone.getType());
        assertTrue(store.heldBytes() < 2 * cost);
    }

    @Test
    void theComponentDerivesTheByteBoundFromTheHeap() {
        assertEquals(new MemoryMessageStore.Limits(1_000_000, 256L << 20),
                MemoryStoreComponent.limits(config(1_000_000, 0), 1L << 30));
        assertEquals(new MemoryMessageStore.Limits(10, 5000), MemoryStoreComponent.limits(config(10, 5000), 1L << 30));
        assertThrows(IllegalArgumentException.class, () -> MemoryStoreComponent.limits(config(0, 0), 1L << 30));
    }

    /** On the real engine: a group operation past the bound is answered UNAVAILABLE, and the core reports it. */
    @Test
    void theEngineAnswersUnavailableAndReportsTheProblem() throws Exception {
        MemoryMessageStore store = new MemoryMessageStore(new MemoryMessageStore.Limits(1, Long.MAX_VALUE));
        try (InProcessCore core = InProcessCore.start(store, Map.of())) {
            RecordingConnection conn = new RecordingConnection();
            InboundSession s = core.receiver().openAuthenticated(conn,
                    new Principal("ann", "phone", Instant.now().plusSeconds(3600)));
            s.onFrame(create(1, "team-1"));
            assertTrue(conn.answerTo(1).hasGroupResponse(), "the first fits");
            assertFalse(storeFull(core), core.receiver().problems().toString());

            s.onFrame(create(2, "team-2"));
            Frame refused = conn.answerTo(2);
            assertTrue(refused.hasError(), refused.toString());
            assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refused.getError().getCode());
            assertTrue(refused.getError().getRetryable());
            assertTrue(storeFull(core), core.receiver().problems().toString());
            s.onClosed();
        }
    }

    /** (The test core runs without an authenticator, which is a problem of its own.) */
    private static boolean storeFull(InProcessCore core) {
        return core.receiver().problems().stream().anyMatch(p -> p.contains("in-memory store is full"));
    }

    private static Frame create(long requestId, String key) {
        return Frame.newBuilder().setRequestId(requestId).setGroup(GroupRequest.newBuilder().setClientRequestId(key)
                .setCreate(GroupRequest.Create.newBuilder().setName("team").addMembers("ben"))).build();
    }

    private static MemoryStoreConfig config(long maxMessages, long maxBytes) {
        return new MemoryStoreConfig() {
            @Override
            public long max_messages() {
                return maxMessages;
            }

            @Override
            public long max_bytes() {
                return maxBytes;
            }

            @Override
            public Class<? extends Annotation> annotationType() {
                return MemoryStoreConfig.class;
            }
        };
    }
}
