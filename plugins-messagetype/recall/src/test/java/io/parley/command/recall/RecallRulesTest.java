package io.parley.command.recall;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.command.recall.proto.Recall;
import io.parley.command.recall.proto.RecallEvent;
import io.parley.command.recall.proto.RecallResult;
import io.parley.command.recall.proto.Recalled;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.testing.ComponentConfigs;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The recall rules (window, roles, what cannot be recalled) and the handler's steps, against a stand-in facade. */
class RecallRulesTest {
    static final long SENT = 1_000_000L;
    static final RecallRules TWO_MINUTES = new RecallRules(Duration.ofMinutes(2));

    static Message message(long seq, String sender, String clientMsgId, String type) {
        return Message.newBuilder().setId("m" + seq).setClientMsgId(clientMsgId).setSender(sender)
                .setConversation("g:team").setSeq(seq).setServerTime(SENT).setType(type)
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.text.v1.Text")
                        .setValue(ByteString.copyFromUtf8("secret"))).build();
    }

    static Group team(boolean dissolved) {
        return Group.newBuilder().setId("team").setConversation("g:team").setDissolved(dissolved)
                .addMembers(GroupMember.newBuilder().setUser("olga").setRole(GroupRole.GROUP_ROLE_OWNER))
                .addMembers(GroupMember.newBuilder().setUser("adam").setRole(GroupRole.GROUP_ROLE_ADMIN))
                .addMembers(GroupMember.newBuilder().setUser("mia").setRole(GroupRole.GROUP_ROLE_MEMBER))
                .addMembers(GroupMember.newBuilder().setUser("max").setRole(GroupRole.GROUP_ROLE_MEMBER))
                .build();
    }

    static Instant after(Duration d) {
        return Instant.ofEpochMilli(SENT).plus(d);
    }

    static ErrorCode refusal(Runnable r) {
        return assertThrows(ParleyException.class, r::run).code();
    }

    @Test
    void theSenderRecallsWithinTheWindowAndNotAfter() {
        Message mine = message(3, "mia", "c1", "text");
        Optional<Group> group = Optional.of(team(false));
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(mine, "mia", group, after(Duration.ZERO)));
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(mine, "mia", group, after(Duration.ofMinutes(2))));
        ParleyException late = assertThrows(ParleyException.class,
                () -> TWO_MINUTES.check(mine, "mia", group, after(Duration.ofMinutes(2).plusMillis(1))));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, late.code());
        assertTrue(late.getMessage().contains("2 minutes"), late.getMessage());
        // 1:1 conversations: the same window
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(mine, "mia", Optional.empty(),
                after(Duration.ofSeconds(90))));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(() -> TWO_MINUTES.check(mine, "mia", Optional.empty(),
                after(Duration.ofMinutes(3)))));
        // a window of 0: senders never
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(() -> new RecallRules(Duration.ZERO)
                .check(mine, "mia", Optional.empty(), after(Duration.ZERO))));
        assertThrows(IllegalArgumentException.class, () -> new RecallRules(Duration.ofSeconds(-1)));
    }

    @Test
    void ownersAndAdminsRecallAnyMembersMessageAtAnyTimePlainMembersOnlyTheirOwn() {
        Message mias = message(3, "mia", "c1", "text");
        Optional<Group> group = Optional.of(team(false));
        Instant muchLater = after(Duration.ofDays(30));
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(mias, "olga", group, muchLater));
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(mias, "adam", group, muchLater));
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(message(4, "olga", "c2", "text"), "adam", group,
                muchLater), "an admin may recall the owner's message too (any member's)");
        assertEquals(RecallRules.Decision.RECALL, TWO_MINUTES.check(message(5, "adam", "c3", "text"), "adam", group,
                muchLater), "a manager's own message: no window");
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(() -> TWO_MINUTES.check(mias, "max", group,
                after(Duration.ZERO))));
        // in a 1:1 conversation nobody manages: only the sender
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(() -> TWO_MINUTES.check(mias, "max", Optional.empty(),
                after(Duration.ZERO))));
        // a dissolved group's history no longer changes, whoever asks
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(() -> TWO_MINUTES.check(mias, "olga",
                Optional.of(team(true)), after(Duration.ZERO))));
    }

    @Test
    void eventsCannotBeRecalledAndATombstoneIsRecalledAlready() {
        Optional<Group> group = Optional.of(team(false));
        for (String key : List.of("group:r1", "command:recall:r2", "command:push.mute:x")) {
            Message event = message(2, "olga", key, "group.event");
            ParleyException e = assertThrows(ParleyException.class,
                    () -> TWO_MINUTES.check(event, "olga", group, after(Duration.ZERO)));
            assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, e.code());
            assertTrue(e.getMessage().contains("system event"), e.getMessage());
        }
        Message tombstone = message(3, "mia", "c1", RecallRules.TOMBSTONE_TYPE);
        assertEquals(RecallRules.Decision.ALREADY_RECALLED, TWO_MINUTES.check(tombstone, "mia", group,
                after(Duration.ofDays(1))), "already recalled: success, the window does not matter");
        assertEquals(RecallRules.Decision.ALREADY_RECALLED, TWO_MINUTES.check(tombstone, "adam", group,
                after(Duration.ofDays(1))));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(() -> TWO_MINUTES.check(tombstone, "max", group,
                after(Duration.ZERO))), "still nobody else's business");
    }

    @Test
    void malformedPayloadsAreInvalidRequests() {
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(() -> TWO_MINUTES.parse(Any.getDefaultInstance())));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(() -> TWO_MINUTES.parse(Any.pack(
                Recall.newBuilder().setSeq(1).build()))));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(() -> TWO_MINUTES.parse(Any.pack(
                Recall.newBuilder().setConversation("d:a:b").build()))));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(() -> TWO_MINUTES.parse(Any.newBuilder()
                .setTypeUrl(RecallRules.PAYLOAD_TYPE_URL).setValue(ByteString.copyFrom(new byte[] {(byte) 0xff}))
                .build())));
        assertEquals(Recall.newBuilder().setConversation("d:a:b").setSeq(7).build(),
                TWO_MINUTES.parse(Any.pack(Recall.newBuilder().setConversation("d:a:b").setSeq(7).build())));
    }

    @Test
    void theHandlerAppendsTheEventThenTombstones() throws Exception {
        FakeContext ctx = new FakeContext("mia", after(Duration.ofSeconds(5)));
        ctx.messages.put(3L, message(3, "mia", "c1", "text"));
        RecallHandler handler = new RecallHandler(TWO_MINUTES);
        RecallResult result = handler.execute(ctx, recall(3)).toCompletableFuture().get().unpack(RecallResult.class);

        assertEquals(List.of("appendEvent", "replace"), ctx.calls);
        assertEquals(RecallRules.EVENT_TYPE, ctx.events.get(0).getType());
        assertEquals(RecallEvent.newBuilder().setSeq(3).setMessageId("m3").build(),
                ctx.events.get(0).getBody().unpack(RecallEvent.class));
        Message tombstone = ctx.messages.get(3L);
        assertEquals(RecallRules.TOMBSTONE_TYPE, tombstone.getType());
        Recalled body = tombstone.getBody().unpack(Recalled.class);
        assertEquals(Recalled.newBuilder().setRecalledBy("mia").setRecalledAt(ctx.events.get(0).getServerTime())
                .setEventSeq(4).build(), body);
        assertEquals(RecallResult.newBuilder().setConversation("g:team").setSeq(3).setEventSeq(4).setRecalledBy("mia")
                .setRecalledAt(body.getRecalledAt()).build(), result);

        // again (another request): success with the recall that holds, nothing appended or replaced
        RecallResult again = handler.execute(ctx, recall(3)).toCompletableFuture().get().unpack(RecallResult.class);
        assertEquals(result, again);
        assertEquals(List.of("appendEvent", "replace"), ctx.calls);
    }

    @Test
    void refusalsChangeNothing() throws Exception {
        FakeContext ctx = new FakeContext("max", after(Duration.ofSeconds(5)));
        ctx.messages.put(3L, message(3, "mia", "c1", "text"));
        RecallHandler handler = new RecallHandler(TWO_MINUTES);
        ExecutionException notYours = assertThrows(ExecutionException.class,
                () -> handler.execute(ctx, recall(3)).toCompletableFuture().get());
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, assertInstanceOf(ParleyException.class, notYours.getCause()).code());
        ExecutionException missing = assertThrows(ExecutionException.class,
                () -> handler.execute(ctx, recall(9)).toCompletableFuture().get());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, assertInstanceOf(ParleyException.class, missing.getCause()).code());
        assertEquals(List.of(), ctx.calls);

        FakeContext mia = new FakeContext("mia", after(Duration.ofSeconds(5)));
        mia.messages.put(3L, message(3, "mia", "c1", "text"));
        handler.execute(mia, recall(3)).toCompletableFuture().get();
        assertEquals(RecallRules.TOMBSTONE_TYPE, mia.messages.get(3L).getType());
    }

    @Test
    void theShippedCfgListsEveryKeyWithItsDefault() throws Exception {
        ComponentConfigs.assertShippedCfg(RecallComponent.Config.class, Path.of("src/main/conf/parley.command.recall.cfg"));
    }

    @Test
    void aConfigurationChangeAppliesToTheNextCommand() {
        RecallComponent component = new RecallComponent(ComponentConfigs.of(RecallComponent.Config.class, Map.of()));
        FakeContext ctx = new FakeContext("mia", after(Duration.ofMinutes(5)));
        ctx.messages.put(3L, message(3, "mia", "c1", "text"));
        assertThrows(ExecutionException.class, () -> component.execute(ctx, recall(3)).toCompletableFuture().get());
        component.modified(ComponentConfigs.of(RecallComponent.Config.class, Map.of("window.seconds", 600L)));
        component.execute(ctx, recall(3)).toCompletableFuture().join();
        assertEquals(RecallRules.TOMBSTONE_TYPE, ctx.messages.get(3L).getType());
    }

    static Any recall(long seq) {
        return Any.pack(Recall.newBuilder().setConversation("g:team").setSeq(seq).build());
    }

    /** The facade over one group conversation, "g:team", holding messages by seq; records the writes. */
    static final class FakeContext implements CommandContext {
        final String user;
        final Instant now;
        final Map<Long, Message> messages = new HashMap<>();
        final List<Message> events = new ArrayList<>();
        final List<String> calls = new ArrayList<>();
        final AtomicInteger head = new AtomicInteger(3);

        FakeContext(String user, Instant now) {
            this.user = user;
            this.now = now;
        }

        @Override
        public String userId() {
            return user;
        }

        @Override
        public String deviceId() {
            return "d1";
        }

        @Override
        public String commandType() {
            return RecallRules.COMMAND_TYPE;
        }

        @Override
        public String clientRequestId() {
            return "";
        }

        @Override
        public Instant receivedAt() {
            return now;
        }

        @Override
        public List<String> members(String conversation) {
            return team(false).getMembersList().stream().map(GroupMember::getUser).toList();
        }

        @Override
        public Optional<Group> group(String conversation) {
            return Optional.of(team(false));
        }

        @Override
        public Optional<Message> message(String conversation, long seq) {
            return Optional.ofNullable(messages.get(seq));
        }

        @Override
        public CompletionStage<Message> appendEvent(String conversation, String type, Any body) {
            calls.add("appendEvent");
            Message event = Message.newBuilder().setId("e").setClientMsgId("command:recall:x").setSender(user)
                    .setConversation(conversation).setSeq(head.incrementAndGet()).setServerTime(now.toEpochMilli())
                    .setType(type).setBody(body).build();
            events.add(event);
            messages.put(event.getSeq(), event);
            return CompletableFuture.completedFuture(event);
        }

        @Override
        public CompletionStage<Message> replace(String conversation, long seq, String type, Any body) {
            calls.add("replace");
            Message replaced = messages.get(seq).toBuilder().setType(type).setBody(body).clearExt().build();
            messages.put(seq, replaced);
            return CompletableFuture.completedFuture(replaced);
        }
    }
}
