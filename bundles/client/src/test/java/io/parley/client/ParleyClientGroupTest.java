package io.parley.client;

import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Message;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;
import io.parley.core.proto.Typing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Groups, the conversation list, history pages, read cursors and typing against {@link CoreServer} (the real engine). */
class ParleyClientGroupTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String DIRECT = "d:alice:bob";

    private CoreServer server;
    private final List<ParleyClient> clients = new ArrayList<>();
    private final BlockingQueue<String> events = new LinkedBlockingQueue<>();

    /** One user's device: its client and everything its listeners received. */
    private record Device(ParleyClient client, BlockingQueue<Message> inbox, BlockingQueue<ReadUpdate> reads,
            BlockingQueue<Typing> typing) {
        Message next() throws InterruptedException {
            Message m = inbox.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(m, "no message");
            return m;
        }

        /** The next message in {@code conversation}, skipping others. */
        Message next(String conversation) throws InterruptedException {
            while (true) {
                Message m = next();
                if (m.getConversation().equals(conversation)) {
                    return m;
                }
            }
        }
    }

    @BeforeEach
    void start() throws Exception {
        server = new CoreServer();
    }

    @AfterEach
    void stop() throws Exception {
        for (ParleyClient c : clients) {
            c.close();
        }
        server.close();
    }

    private ParleyClient.Builder builder(String user, String device) {
        return ParleyClient.builder().port(server.port()).deviceId(device).token(user)
                .requestTimeout(Duration.ofSeconds(2))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .ackDelay(Duration.ofMillis(5))
                .connectionListener(new ConnectionListener() {
                    @Override
                    public void onConnected(HelloOk session) {
                        events.add(user + ":connected");
                    }

                    @Override
                    public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                        events.add(user + ":disconnected:" + reason + ":" + willRetry);
                    }
                });
    }

    private Device device(String user, String device) throws Exception {
        return device(builder(user, device));
    }

    private Device device(ParleyClient.Builder b) throws Exception {
        BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        BlockingQueue<ReadUpdate> reads = new LinkedBlockingQueue<>();
        BlockingQueue<Typing> typing = new LinkedBlockingQueue<>();
        ParleyClient c = b.messageListener(inbox::add).readListener(reads::add).typingListener(typing::add).build();
        clients.add(c);
        await(c.connect());
        return new Device(c, inbox, reads, typing);
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static Throwable failure(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class, () -> f.orTimeout(5, TimeUnit.SECONDS).join());
        return e.getCause();
    }

    private static ErrorCode refusal(CompletableFuture<?> f) {
        return assertInstanceOf(ParleyClientException.class, failure(f)).code();
    }

    private void awaitEvent(String event) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        List<String> seen = new ArrayList<>();
        while (System.nanoTime() < deadline) {
            String e = events.poll(100, TimeUnit.MILLISECONDS);
            if (event.equals(e)) {
                return;
            }
            if (e != null) {
                seen.add(e);
            }
        }
        throw new AssertionError("no event " + event + "; saw " + seen);
    }

    private static Map<String, GroupRole> roles(Group g) {
        return g.getMembersList().stream().collect(Collectors.toMap(GroupMember::getUser, GroupMember::getRole));
    }

    private static GroupEvent.Kind kindOf(Message m) {
        assertEquals(Groups.EVENT_TYPE, m.getType());
        return Groups.eventOf(m).getKind();
    }

    /** Drops every connection of {@code user} and holds its next hello until the returned latch is released. */
    private CountDownLatch dropAndHoldReconnect(String user) throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        server.interceptor = (conn, f) -> {
            if (f.hasHello()) {
                try {
                    release.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return false;
        };
        for (CoreServer.Conn c : server.connsOf(user)) {
            c.close();
        }
        awaitEvent(user + ":disconnected:CONNECTION_LOST:true");
        return release;
    }

    // ------------------------------------------------------------------------------------------------ groups

    @Test
    void createdGroupReachesEveryMemberAndCarriesMessagesInOrder() throws Exception {
        Device alice = device("alice", "a1");
        Device bob = device("bob", "b1");
        Device carol = device("carol", "c1");

        Group g = await(alice.client().createGroup("team", List.of("bob", "carol")));
        assertEquals("g:" + g.getId(), g.getConversation());
        assertEquals("team", g.getName());
        assertEquals(Map.of("alice", GroupRole.GROUP_ROLE_OWNER, "bob", GroupRole.GROUP_ROLE_MEMBER,
                "carol", GroupRole.GROUP_ROLE_MEMBER), roles(g));
        Frame request = server.await(Frame::hasGroup, WAIT).frame();
        assertFalse(request.getGroup().getClientRequestId().isEmpty(), "a client request id is generated");

        assertEquals(2, await(alice.client().sendTextToGroup(g.getId(), "hello team")).getSeq());
        for (Device d : List.of(bob, carol)) {
            Message created = d.next();
            assertEquals(1, created.getSeq());
            assertEquals(GroupEvent.Kind.KIND_CREATED, kindOf(created));
            assertEquals("team", Groups.eventOf(created).getName());
            Message text = d.next();
            assertEquals(2, text.getSeq());
            assertEquals("hello team", Bodies.textOf(text));
        }
        // the group event reaches the actor's own device too (its sender device is a1); her own text does not
        Message own = alice.next();
        assertEquals(GroupEvent.Kind.KIND_CREATED, kindOf(own));
        assertEquals(3, await(bob.client().sendToGroup(g.getId(), Bodies.TEXT_TYPE, Bodies.text("hi"))).getSeq());
        Message reply = alice.next();
        assertEquals(3, reply.getSeq());
        assertTrue(alice.inbox().isEmpty(), "alice's own text was not handed to her listener");
    }

    @Test
    void managementOperationsReturnTheChangedGroupAndEventsArriveInOrder() throws Exception {
        Device alice = device("alice", "a1");
        Device bob = device("bob", "b1");
        String id = await(alice.client().createGroup("ops", List.of("bob", "carol"))).getId();

        GroupResponse added = await(alice.client().groupRequest(GroupRequest.newBuilder()
                .setAddMembers(GroupRequest.Members.newBuilder().setGroupId(id).addUsers("dave")).build()));
        assertEquals(2, added.getEventSeq());
        assertTrue(roles(added.getGroup()).containsKey("dave"));
        assertEquals(GroupRole.GROUP_ROLE_ADMIN,
                roles(await(alice.client().setRole(id, "bob", GroupRole.GROUP_ROLE_ADMIN))).get("bob"));
        Instant until = Instant.now().plusSeconds(3600);
        Group muted = await(alice.client().mute(id, "carol", until));
        assertEquals(until.toEpochMilli(), muted.getMembersList().stream()
                .filter(m -> m.getUser().equals("carol")).findFirst().orElseThrow().getMutedUntil());
        assertTrue(await(alice.client().muteAll(id, true)).getMutedAll());
        assertFalse(roles(await(alice.client().removeMembers(id, List.of("dave")))).containsKey("dave"));
        Group transferred = await(alice.client().transferOwnership(id, "bob"));
        assertEquals(GroupRole.GROUP_ROLE_OWNER, roles(transferred).get("bob"));
        assertEquals(GroupRole.GROUP_ROLE_ADMIN, roles(transferred).get("alice"));
        assertFalse(roles(await(alice.client().leaveGroup(id))).containsKey("alice"));
        assertEquals(transferred.getName(), await(bob.client().getGroup(id)).getName());
        assertTrue(await(bob.client().dissolveGroup(id)).getDissolved());

        List<GroupEvent.Kind> kinds = new ArrayList<>();
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            Message m = bob.next();
            kinds.add(kindOf(m));
            seqs.add(m.getSeq());
        }
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L), seqs);
        assertEquals(List.of(GroupEvent.Kind.KIND_CREATED, GroupEvent.Kind.KIND_MEMBERS_ADDED,
                GroupEvent.Kind.KIND_ROLE_CHANGED, GroupEvent.Kind.KIND_MEMBER_MUTED,
                GroupEvent.Kind.KIND_GROUP_MUTED, GroupEvent.Kind.KIND_MEMBERS_REMOVED,
                GroupEvent.Kind.KIND_OWNER_CHANGED, GroupEvent.Kind.KIND_MEMBER_LEFT,
                GroupEvent.Kind.KIND_DISSOLVED), kinds);
    }

    @Test
    void concurrentGroupRequestsAreMatchedByRequestId() throws Exception {
        int n = 3;
        List<CoreServer.Received> held = Collections.synchronizedList(new ArrayList<>());
        server.interceptor = (conn, f) -> {
            if (!f.hasGroup()) {
                return false;
            }
            held.add(new CoreServer.Received(conn, f));
            if (held.size() == n) {
                for (int i = n - 1; i >= 0; i--) {   // handed to the core, so applied and answered, in reverse order
                    conn.toCore(held.get(i).frame());
                }
            }
            return true;
        };
        List<Long> answered = Collections.synchronizedList(new ArrayList<>());
        server.outbound = (conn, f) -> {
            if (f.hasGroupResponse()) {
                answered.add(f.getRequestId());
            }
            return false;
        };
        Device alice = device("alice", "a1");
        List<CompletableFuture<Group>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(alice.client().createGroup("g" + i, List.of("bob")));
        }
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Group g = await(futures.get(i));
            assertEquals("g" + i, g.getName());
            assertEquals("g" + i, server.group(g.getId()).orElseThrow().getName());
            ids.add(g.getId());
        }
        assertEquals(n, Set.copyOf(ids).size(), "three groups: " + ids);
        List<Long> requests = new ArrayList<>(held.stream().map(r -> r.frame().getRequestId()).toList());
        Collections.reverse(requests);
        assertEquals(requests, answered, "the answers came in reverse order");
    }

    @Test
    void refusedGroupOperationsFailWithTheServersCode() throws Exception {
        Device alice = device("alice", "a1");
        Device bob = device("bob", "b1");
        String id = await(alice.client().createGroup("strict", List.of("bob", "carol"))).getId();

        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(bob.client().dissolveGroup(id)));
        // the owner must transfer ownership before leaving (protocol.md §6a)
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(alice.client().leaveGroup(id)));
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(alice.client().getGroup("nope")));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(alice.client().setRole(id, "bob", GroupRole.GROUP_ROLE_OWNER)));
        await(alice.client().mute(id, "bob", Instant.now().plusSeconds(60)));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(bob.client().sendTextToGroup(id, "muted")));
        assertThrows(IllegalArgumentException.class, () -> alice.client().getGroup(""));
        assertThrows(IllegalArgumentException.class,
                () -> alice.client().groupRequest(GroupRequest.getDefaultInstance()));
        // the connection stays usable
        await(alice.client().mute(id, "bob", null));
        assertEquals(4, await(bob.client().sendTextToGroup(id, "free again")).getSeq());
    }

    @Test
    void groupOperationIsRetriedAfterADroppedConnectionWithTheSameClientRequestId() throws Exception {
        Device alice = device("alice", "a1");
        CoreServer.Conn lost = server.connsOf("alice").get(0);
        server.outbound = (conn, f) -> {
            if (conn != lost || !(f.hasGroupResponse() || f.hasDeliver())) {
                return false;
            }
            // the core applied it (as a server that crashed after storing would) but the answer, and the event's
            // live delivery, are lost with the connection
            if (f.hasGroupResponse()) {
                conn.close();
            }
            return true;
        };
        Group g = await(alice.client().createGroup("once", List.of("bob")));
        assertEquals(List.of(g.getId()), server.groupIds("alice"), "the re-sent request was deduplicated");
        assertEquals(1, server.stored(g.getConversation()));
        Frame first = server.await(Frame::hasGroup, WAIT).frame();
        Frame second = server.await(Frame::hasGroup, WAIT).frame();
        assertEquals(first.getGroup().getClientRequestId(), second.getGroup().getClientRequestId());
        assertEquals(2, server.hellos.get());
        // the created event stored before the drop reaches the device through the resume sync
        assertEquals(GroupEvent.Kind.KIND_CREATED, kindOf(alice.next(g.getConversation())));
    }

    @Test
    void groupOperationIssuedWhileDisconnectedGoesOutAfterReconnect() throws Exception {
        Device alice = device("alice", "a1");
        String id = await(alice.client().createGroup("later", List.of("bob"))).getId();
        CountDownLatch release = dropAndHoldReconnect("alice");
        CompletableFuture<Group> queued = alice.client().addMembers(id, List.of("carol"));
        release.countDown();
        assertTrue(roles(await(queued)).containsKey("carol"));
    }

    @Test
    void unansweredGroupOperationTimesOut() throws Exception {
        server.interceptor = (conn, f) -> f.hasGroup();
        Device alice = device(builder("alice", "a1").requestTimeout(Duration.ofMillis(300)));
        assertInstanceOf(TimeoutException.class, failure(alice.client().createGroup("void", List.of())));
    }

    @Test
    void outOfOrderAndMissingGroupEventsAreDeliveredInSeqOrder() throws Exception {
        Device alice = device("alice", "a1");
        Device bob = device("bob", "b1");
        String id = await(alice.client().createGroup("order", List.of("bob"))).getId();
        String conv = Groups.conversationOf(id);
        assertEquals(1, bob.next().getSeq());

        server.suppressLiveDeliveries = true;
        await(alice.client().addMembers(id, List.of("carol")));                  // 2
        await(alice.client().setRole(id, "bob", GroupRole.GROUP_ROLE_ADMIN));    // 3
        await(alice.client().muteAll(id, true));                                 // 4
        await(alice.client().sendTextToGroup(id, "quiet please"));               // 5
        List<Message> stored = server.messages(conv);
        CoreServer.Conn bobConn = server.connsOf("bob").get(0);
        bobConn.send(CoreServer.deliver(stored.get(2)));                         // 3 before 2
        bobConn.send(CoreServer.deliver(stored.get(1)));
        bobConn.send(CoreServer.deliver(stored.get(1)));                         // a duplicate
        bobConn.send(CoreServer.deliver(stored.get(4)));                         // 5 without 4: fetched

        assertEquals(GroupEvent.Kind.KIND_MEMBERS_ADDED, kindOf(bob.next()));
        assertEquals(GroupEvent.Kind.KIND_ROLE_CHANGED, kindOf(bob.next()));
        assertEquals(GroupEvent.Kind.KIND_GROUP_MUTED, kindOf(bob.next()));
        Message text = bob.next();
        assertEquals(5, text.getSeq());
        assertEquals("quiet please", Bodies.textOf(text));
        CoreServer.Received fetch;
        do {   // alice fetches the events withheld from her too
            fetch = server.await(f -> f.hasSync() && f.getSync().hasRange(), WAIT);
        } while (!"bob".equals(fetch.conn().user));
        SyncRequest.Range range = fetch.frame().getSync().getRange();
        assertEquals(conv, range.getConversation());
        assertEquals(4, range.getFromSeq());
        assertTrue(bob.inbox().isEmpty());
    }

    @Test
    void theEventAddingThisUserStartsItsViewOfTheGroup() throws Exception {
        Device alice = device("alice", "a1");
        Device carol = device("carol", "c1");
        String id = await(alice.client().createGroup("before carol", List.of("bob"))).getId();
        await(alice.client().sendTextToGroup(id, "one"));
        await(alice.client().sendTextToGroup(id, "two"));
        await(alice.client().addMembers(id, List.of("carol")));
        await(alice.client().sendTextToGroup(id, "welcome"));

        Message joined = carol.next();
        assertEquals(4, joined.getSeq(), "nothing from before carol joined is fetched");
        assertEquals(GroupEvent.Kind.KIND_MEMBERS_ADDED, kindOf(joined));
        Message welcome = carol.next();
        assertEquals(5, welcome.getSeq());
        assertEquals("welcome", Bodies.textOf(welcome));
    }

    // ------------------------------------------------------------------------------------------------ conversations

    @Test
    void conversationListCarriesUnreadCountsMostRecentFirst() throws Exception {
        server.append(DIRECT, "bob", "one");
        server.append(DIRECT, "bob", "two");
        server.append(DIRECT, "bob", "three");
        server.setReadCursor("alice", DIRECT, 1);
        Device alice = device("alice", "a1");
        Thread.sleep(5);   // the list is ordered by the latest message's server time, in milliseconds
        Group g = await(alice.client().createGroup("latest", List.of("bob")));

        List<ConversationSummary> list = await(alice.client().conversations());
        assertEquals(List.of(g.getConversation(), DIRECT), list.stream().map(ConversationSummary::getConversation)
                .toList());
        ConversationSummary direct = list.get(1);
        assertEquals("bob", direct.getTitle());
        assertEquals(3, direct.getHead());
        assertEquals(1, direct.getReadSeq());
        assertEquals(2, direct.getUnread());
        assertEquals("three", Bodies.textOf(direct.getLast()));
        assertEquals("latest", list.get(0).getTitle());

        assertEquals(1, await(alice.client().conversations(1)).size());
        assertEquals(1, server.await(f -> f.hasConversationList() && f.getConversationList().getLimit() == 1, WAIT)
                .frame().getConversationList().getLimit());
    }

    @Test
    void conversationListFailsWhenNotConnectedOrRefused() throws Exception {
        ParleyClient idle = builder("alice", "a1").build();
        clients.add(idle);
        ParleyClientException e = assertInstanceOf(ParleyClientException.class, failure(idle.conversations()));
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, e.code());
        assertTrue(e.retryable());

        server.interceptor = (conn, f) -> {
            if (f.hasConversationList()) {
                conn.send(CoreServer.error(f.getRequestId(), ErrorCode.ERROR_CODE_INTERNAL, "boom", false, 0));
                return true;
            }
            return false;
        };
        Device alice = device("alice", "a2");
        assertEquals(ErrorCode.ERROR_CODE_INTERNAL, refusal(alice.client().conversations()));
    }

    @Test
    void historyPagesBackwards() throws Exception {
        for (int i = 1; i <= 10; i++) {
            server.append(DIRECT, "bob", "m" + i);
        }
        Device alice = device("alice", "a1");
        Function<SyncResponse, List<Long>> seqs = r -> r.getMessagesList().stream().map(Message::getSeq).toList();
        assertEquals(List.of(7L, 8L, 9L, 10L), seqs.apply(await(alice.client().history(DIRECT, 11, 4))));
        SyncRequest.Range r = server.await(f -> f.hasSync() && f.getSync().hasRange(), WAIT).frame()
                .getSync().getRange();
        assertEquals(7, r.getFromSeq());
        assertEquals(10, r.getToSeq());
        assertEquals(4, r.getLimit());
        assertEquals(List.of(1L, 2L), seqs.apply(await(alice.client().history(DIRECT, 3, 5))));
        assertEquals(List.of(), seqs.apply(await(alice.client().history(DIRECT, 1, 5))));
        assertThrows(IllegalArgumentException.class, () -> alice.client().history(DIRECT, 0, 5));
    }

    // ------------------------------------------------------------------------------------------------ read cursors

    @Test
    void markReadIsCoalescedPerConversationAndOnlyMovesForward() throws Exception {
        Device alice = device(builder("alice", "a1").ackDelay(Duration.ofMillis(300)));
        alice.client().markRead(DIRECT, 1);
        alice.client().markRead(DIRECT, 3);
        alice.client().markRead(DIRECT, 2);
        alice.client().markRead("d:alice:carol", 7);
        List<MarkRead> marks = new ArrayList<>();
        marks.add(server.await(Frame::hasMarkRead, WAIT).frame().getMarkRead());
        marks.add(server.await(Frame::hasMarkRead, WAIT).frame().getMarkRead());
        marks.sort((a, b) -> a.getConversation().compareTo(b.getConversation()));
        assertEquals(DIRECT, marks.get(0).getConversation());
        assertEquals(3, marks.get(0).getSeq());
        assertEquals("d:alice:carol", marks.get(1).getConversation());
        assertEquals(7, marks.get(1).getSeq());

        alice.client().markRead(DIRECT, 3);   // not above the written mark: dropped
        alice.client().markRead(DIRECT, 4);
        MarkRead next = server.await(Frame::hasMarkRead, WAIT).frame().getMarkRead();
        assertEquals(DIRECT, next.getConversation());
        assertEquals(4, next.getSeq());
        assertThrows(IllegalArgumentException.class, () -> alice.client().markRead(DIRECT, 0));
    }

    @Test
    void markReadWhileDisconnectedIsSentAfterReconnect() throws Exception {
        server.append(DIRECT, "bob", "one");
        server.append(DIRECT, "bob", "two");
        Device alice = device("alice", "a1");
        CountDownLatch release = dropAndHoldReconnect("alice");
        alice.client().markRead(DIRECT, 2);
        release.countDown();
        MarkRead mark = server.await(Frame::hasMarkRead, WAIT).frame().getMarkRead();
        assertEquals(2, mark.getSeq());
        assertEquals(2, await(alice.client().conversations()).get(0).getReadSeq());
    }

    @Test
    void readUpdatesReachOtherMembersAndTheReadersOtherDevices() throws Exception {
        server.append(DIRECT, "bob", "one");
        server.append(DIRECT, "alice", "two");
        Device alice1 = device("alice", "a1");
        Device alice2 = device("alice", "a2");
        Device bob = device("bob", "b1");

        bob.client().markRead(DIRECT, 2);
        for (Device d : List.of(alice1, alice2)) {
            ReadUpdate u = d.reads().poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(u);
            assertEquals(ReadUpdate.newBuilder().setConversation(DIRECT).setUser("bob").setSeq(2).build(), u);
        }
        alice1.client().markRead(DIRECT, 1);
        ReadUpdate own = alice2.reads().poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertNotNull(own);
        assertEquals("alice", own.getUser());
        assertEquals(1, own.getSeq());
        ReadUpdate atBob = bob.reads().poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertNotNull(atBob);
        assertEquals("alice", atBob.getUser());
    }

    // ------------------------------------------------------------------------------------------------ typing

    @Test
    void typingReachesTheOtherMembersAndIsDroppedWhileDisconnected() throws Exception {
        Device alice = device("alice", "a1");
        Device bob = device("bob", "b1");
        String conv = await(alice.client().createGroup("chatty", List.of("bob"))).getConversation();

        alice.client().typing(conv, true);
        Typing t = bob.typing().poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(Typing.newBuilder().setConversation(conv).setUser("alice").setTyping(true).build(), t);

        CountDownLatch release = dropAndHoldReconnect("alice");
        alice.client().typing(conv, true);    // dropped
        release.countDown();
        awaitEvent("alice:connected");
        alice.client().typing(conv, false);
        assertTrue(server.await(Frame::hasTyping, WAIT).frame().getTyping().getTyping(), "sent before the drop");
        assertFalse(server.await(Frame::hasTyping, WAIT).frame().getTyping().getTyping(),
                "the next one is the one after the reconnect");
        Typing stopped = bob.typing().poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertNotNull(stopped);
        assertFalse(stopped.getTyping(), "the typing sent while disconnected was dropped");
        assertTrue(alice.typing().isEmpty(), "a user's own typing is not echoed");
    }
}
