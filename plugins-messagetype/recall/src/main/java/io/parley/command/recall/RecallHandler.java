package io.parley.command.recall;

import com.google.protobuf.Any;
import io.parley.command.recall.proto.Recall;
import io.parley.command.recall.proto.RecallEvent;
import io.parley.command.recall.proto.RecallResult;
import io.parley.command.recall.proto.Recalled;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code recall} command in plain Java: checks the request with {@link RecallRules}, then, through the core's
 * facade,
 * <ol>
 * <li>appends a {@value RecallRules#EVENT_TYPE} event ({@code parley.recall.v1.RecallEvent{seq, message_id}}, sent by
 * the caller) to the conversation's seq stream — delivered live to every device of every member, the caller's
 * included, and found by every device that syncs later;</li>
 * <li>replaces the message in place with a {@value RecallRules#TOMBSTONE_TYPE} tombstone
 * ({@code parley.recall.v1.Recalled{recalled_by, recalled_at, event_seq}}): same id, seq, sender and time; the
 * original type, body and ext are gone from the store;</li>
 * </ol>
 * (what the original referred to outside the message store — a file's blob — is released by its type: the core calls
 * the type's {@code MessageProcessor.released} once the tombstone is durable)
 * and answers {@code parley.recall.v1.RecallResult}.
 *
 * <p><b>Why the event comes first.</b> Once a tombstone exists, its event exists too, so a recall of a message that is
 * already a tombstone can answer success without appending anything (the tombstone names its event). If the replace
 * fails after the event was appended (the store became unavailable), the command fails, the devices already hide the
 * message, and a retry finishes the job: with the same {@code client_request_id} the core hands back the first event
 * instead of appending a second one; without one a second event may be appended, which devices apply harmlessly.
 *
 * <p>Threading: {@link #execute} runs on a core worker (the facade's reads may touch the store there) and never
 * blocks; the rest runs on whatever thread completes the store's stages. Thread-safe; the rules can be swapped at run
 * time ({@link #rules(RecallRules)}).
 */
public final class RecallHandler implements CommandHandler {

    private volatile RecallRules rules;
    public RecallHandler(RecallRules rules) {
        this.rules = rules;
    }

    /** Replaces the rules (a configuration change); commands already running keep the ones they started with. */
    public void rules(RecallRules rules) {
        this.rules = rules;
    }

    public RecallRules rules() {
        return rules;
    }

    @Override
    public CompletionStage<Any> execute(CommandContext context, Any payload) {
        try {
            RecallRules r = rules;
            Recall recall = r.parse(payload);
            String conversation = recall.getConversation();
            long seq = recall.getSeq();
            // NOT_FOUND for non-members comes from the facade, worded like every other refusal of a stranger
            Message target = context.message(conversation, seq).orElseThrow(() -> new ParleyException(
                    ErrorCode.ERROR_CODE_NOT_FOUND, "no message " + seq + " in " + conversation));
            Optional<Group> group = context.group(conversation);
            if (r.check(target, context.userId(), group, context.receivedAt())
                    == RecallRules.Decision.ALREADY_RECALLED) {
                Recalled t = RecallRules.tombstoneOf(target);
                return CompletableFuture.completedFuture(result(conversation, seq, t.getEventSeq(),
                        t.getRecalledBy(), t.getRecalledAt()));
            }
            Any event = Any.pack(RecallEvent.newBuilder().setSeq(seq).setMessageId(target.getId()).build());
            return context.appendEvent(conversation, RecallRules.EVENT_TYPE, event)
                    .thenCompose(appended -> {
                        Recalled tombstone = Recalled.newBuilder().setRecalledBy(appended.getSender())
                                .setRecalledAt(appended.getServerTime()).setEventSeq(appended.getSeq()).build();
                        return context.replace(conversation, seq, RecallRules.TOMBSTONE_TYPE, Any.pack(tombstone))
                                .thenApply(replaced -> result(conversation, seq, tombstone.getEventSeq(),
                                        tombstone.getRecalledBy(), tombstone.getRecalledAt()));
                    });
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static Any result(String conversation, long seq, long eventSeq, String by, long at) {
        return Any.pack(RecallResult.newBuilder().setConversation(conversation).setSeq(seq).setEventSeq(eventSeq)
                .setRecalledBy(by).setRecalledAt(at).build());
    }
}
