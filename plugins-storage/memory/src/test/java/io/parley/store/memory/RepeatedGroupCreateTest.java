package io.parley.store.memory;

import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.ForwardingMessageStore;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.testing.RecordingConnection;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A group create repeated (same client_request_id) while the first is still being stored — a client retrying after a
 * lost answer — must answer with the first one's group, on the real engine. The store here is slow to commit group
 * events, which opens the window the fault-injection suite once hit by chance.
 */
class RepeatedGroupCreateTest {

    /** The memory store, completing group events 300 ms late. */
    private static final class SlowGroupEvents extends ForwardingMessageStore {
        private final MemoryMessageStore store = new MemoryMessageStore();
        private final Executor later = CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS);

        @Override
        protected MessageStore delegate() {
            return store;
        }

        @Override
        public CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                          Collection<String> joined, Collection<String> left) {
            return store.appendGroupEvent(event, groupId, record, joined, left).thenApplyAsync(a -> a, later);
        }
    }

    @Test
    void aRepeatRacingItsOriginalAnswersWithTheOriginalsGroup() throws Exception {
        try (InProcessCore core = InProcessCore.start(new SlowGroupEvents(), Map.of())) {
            Principal ann = new Principal("ann", "phone", Instant.now().plusSeconds(3600));
            RecordingConnection first = new RecordingConnection();
            RecordingConnection second = new RecordingConnection();
            InboundSession s1 = core.receiver().openAuthenticated(first, ann);
            InboundSession s2 = core.receiver().openAuthenticated(second, ann);
            Frame create = Frame.newBuilder().setRequestId(7).setGroup(GroupRequest.newBuilder()
                    .setClientRequestId("team-1").setCreate(GroupRequest.Create.newBuilder().setName("team")
                            .addMembers("ben"))).build();
            s1.onFrame(create);
            Thread.sleep(50); // the first is being stored (300 ms) when the repeat comes
            s2.onFrame(create);
            Frame a = first.answerTo(7);
            Frame b = second.answerTo(7);
            assertTrue(a.hasGroupResponse(), a.toString());
            assertTrue(b.hasGroupResponse(), "the repeat is answered, not refused: " + b);
            assertEquals(a.getGroupResponse().getGroup().getId(), b.getGroupResponse().getGroup().getId());
            assertEquals(a.getGroupResponse().getEventSeq(), b.getGroupResponse().getEventSeq());
            s1.onClosed();
            s2.onClosed();
        }
    }
}
