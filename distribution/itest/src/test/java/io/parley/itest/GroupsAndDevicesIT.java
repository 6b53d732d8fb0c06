package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.Message;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.Typing;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Groups, their authorization, multi-device delivery, read receipts and typing on the assembled server. */
class GroupsAndDevicesIT {
    @TempDir
    static Path work;
    static ServerProcess server;
    static final List<ParleyClient> clients = new ArrayList<>();

    /** One device's view: messages, read updates and typing notices, in arrival order. */
    record Device(ParleyClient client, LinkedBlockingQueue<Message> messages, LinkedBlockingQueue<ReadUpdate> reads,
                  LinkedBlockingQueue<Typing> typing) {
        Message next() throws InterruptedException {
            Message m = messages.poll(10, TimeUnit.SECONDS);
            assertNotNull(m, "expected a message");
            return m;
        }
    }

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        server.close();
    }

    static Device device(String user, String device) throws Exception {
        LinkedBlockingQueue<Message> messages = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<ReadUpdate> reads = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<Typing> typing = new LinkedBlockingQueue<>();
        ParleyClient c = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId(device)
                .token(server.tokens().mint(user, null, Duration.ofMinutes(30)))
                .maxSendRetries(0)
                .messageListener(messages::add).readListener(reads::add).typingListener(typing::add).build();
        clients.add(c);
        c.connect().get(15, TimeUnit.SECONDS);
        return new Device(c, messages, reads, typing);
    }

    static ErrorCode refusal(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(15, TimeUnit.SECONDS));
        return assertInstanceOf(ParleyClientException.class, e.getCause()).code();
    }

    static GroupEvent.Kind eventKind(Message m) {
        assertTrue(Groups.isEvent(m), "expected a group event, got " + m.getType());
        return Groups.eventOf(m).getKind();
    }

    @Test
    void groupLifecycleWithEventsInTheSeqStreamAndAuthorization() throws Exception {
        Device olive = device("olive", "o1");
        Device adam = device("adam", "a1");
        Device mia = device("mia", "m1");
        Device zed = device("zed", "z1");

        Group team = olive.client().createGroup("team", List.of("adam", "mia")).get(15, TimeUnit.SECONDS);
        String conversation = team.getConversation();
        for (Device d : List.of(olive, adam, mia)) {
            Message created = d.next();
            assertEquals(GroupEvent.Kind.KIND_CREATED, eventKind(created));
            assertEquals(1, created.getSeq());
        }

        SendAck hello = mia.client().sendTextToGroup(team.getId(), "hello team").get(15, TimeUnit.SECONDS);
        assertEquals(2, hello.getSeq());
        for (Device d : List.of(olive, adam)) {
            Message m = d.next();
            assertEquals("hello team", Bodies.textOf(m));
            assertEquals(2, m.getSeq());
        }

        // a non-member cannot tell the group from one that does not exist
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(zed.client().sendTextToGroup(team.getId(), "let me in")));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(zed.client().syncRange(conversation, 1, 0, 10)));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(adam.client().addMembers(team.getId(), List.of("zed"))));

        olive.client().mute(team.getId(), "mia", Instant.now().plusSeconds(3600)).get(15, TimeUnit.SECONDS);
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(mia.client().sendTextToGroup(team.getId(), "muted?")));

        olive.client().removeMembers(team.getId(), List.of("adam")).get(15, TimeUnit.SECONDS);
        assertEquals(GroupEvent.Kind.KIND_MEMBER_MUTED, eventKind(adam.next()));
        Message removed = adam.next();
        assertEquals(GroupEvent.Kind.KIND_MEMBERS_REMOVED, eventKind(removed));
        assertEquals(List.of("adam"), Groups.eventOf(removed).getUsersList());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(adam.client().sendTextToGroup(team.getId(), "still here?")));

        olive.client().addMembers(team.getId(), List.of("zed")).get(15, TimeUnit.SECONDS);
        Message joined = zed.next();
        assertEquals(GroupEvent.Kind.KIND_MEMBERS_ADDED, eventKind(joined));
        zed.client().sendTextToGroup(team.getId(), "thanks").get(15, TimeUnit.SECONDS);

        olive.client().dissolveGroup(team.getId()).get(15, TimeUnit.SECONDS);
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(olive.client().sendTextToGroup(team.getId(), "anyone?")));

        // every remaining member's device saw the same stream: seqs 1..n without gaps
        List<Long> seqs = new ArrayList<>();
        for (Message m : olive.messages()) {
            seqs.add(m.getSeq());
        }
        for (int i = 1; i < seqs.size(); i++) {
            assertEquals(seqs.get(i - 1) + 1, seqs.get(i), "olive's view of the group is gapless: " + seqs);
        }
    }

    @Test
    void everyDeviceGetsEveryMessageAndReadsAndTypingReachTheOthers() throws Exception {
        Device pat1 = device("pat", "p1");
        Device pat2 = device("pat", "p2");
        Device quinn = device("quinn", "q1");

        SendAck toPat = quinn.client().sendText("pat", "hi pat").get(15, TimeUnit.SECONDS);
        assertEquals("hi pat", Bodies.textOf(pat1.next()));
        assertEquals("hi pat", Bodies.textOf(pat2.next()));

        SendAck fromPat = pat1.client().sendText("quinn", "hi quinn").get(15, TimeUnit.SECONDS);
        assertEquals("hi quinn", Bodies.textOf(quinn.next()));
        Message copy = pat2.next();
        assertEquals("hi quinn", Bodies.textOf(copy), "the sender's other device gets the message too");
        assertEquals(fromPat.getSeq(), copy.getSeq());
        assertTrue(pat1.messages().isEmpty(), "the sending device does not get its own message back");

        ConversationSummary before = summary(quinn.client(), toPat.getConversation());
        assertEquals("pat", before.getTitle());
        assertEquals(fromPat.getSeq(), before.getHead());
        assertEquals("hi quinn", Bodies.textOf(before.getLast()));
        assertTrue(before.getUnread() >= 1);

        quinn.client().markRead(toPat.getConversation(), fromPat.getSeq());
        for (Device d : List.of(pat1, pat2)) {
            ReadUpdate r = d.reads().poll(10, TimeUnit.SECONDS);
            assertNotNull(r, "pat's devices learn that quinn read the conversation");
            assertEquals("quinn", r.getUser());
            assertEquals(fromPat.getSeq(), r.getSeq());
        }
        // the read cursor is applied with the store's next group commit: visible within milliseconds
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long unread;
        do {
            unread = summary(quinn.client(), toPat.getConversation()).getUnread();
        } while (unread != 0 && System.nanoTime() < deadline);
        assertEquals(0, unread);

        quinn.client().typing(toPat.getConversation(), true);
        Typing t = pat1.typing().poll(10, TimeUnit.SECONDS);
        assertNotNull(t, "typing reaches the other member");
        assertEquals("quinn", t.getUser());
        assertTrue(t.getTyping());
    }

    private static ConversationSummary summary(ParleyClient c, String conversation) throws Exception {
        return c.conversations().get(15, TimeUnit.SECONDS).stream()
                .filter(s -> s.getConversation().equals(conversation)).findFirst()
                .orElseThrow(() -> new AssertionError("conversation " + conversation + " not listed"));
    }
}
