package io.parley.cluster.redis.internal;

import io.parley.core.testing.RedisServer;

import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Hello;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Send;
import io.parley.core.proto.Typing;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.testing.RecordingConnection;
import io.parley.store.memory.MemoryMessageStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two real engines (in-process, as the core bundle wires them) on one shared store, each with this link on a real
 * Redis: users on different nodes chat 1:1 and in a group, with delivery and read receipts and typing crossing.
 */
class TwoEnginesOnRedisTest {

    @TempDir
    Path dir;
    private RedisServer redis;
    private final MemoryMessageStore store = new MemoryMessageStore();
    private InProcessCore coreA;
    private InProcessCore coreB;
    private RedisClusterLink linkA;
    private RedisClusterLink linkB;

    @BeforeEach
    void start() throws Exception {
        redis = RedisServer.start(dir.resolve("redis"));
        coreA = core("a");
        coreB = core("b");
        linkA = join(coreA, "a");
        linkB = join(coreB, "b");
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[]{linkA, linkB, coreA, coreB, redis}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private InProcessCore core(String node) {
        return InProcessCore.start(store, Map.of("node.id", node))
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(600)))
                .processor("text", (context, draft) -> CompletableFuture.completedFuture(ProcessResult.store(draft, "p")));
    }

    private RedisClusterLink join(InProcessCore core, String node) throws InterruptedException {
        CountDownLatch joined = new CountDownLatch(1);
        ClusterOptions options = new ClusterOptions(node, List.of(redis.uri()), false, "parley:cluster:",
                Duration.ofSeconds(15), Duration.ofSeconds(5), 100_000, 256, Duration.ofSeconds(5),
                Duration.ofSeconds(5));
        RedisClusterLink link = RedisClusterLink.start(options, core.localNode(), l -> {
            core.link(l); // what registering the service does
            joined.countDown();
        });
        assertTrue(joined.await(10, TimeUnit.SECONDS));
        return link;
    }

    /** A device: a connection to one core, past its hello. */
    private static final class Device {
        final RecordingConnection connection = new RecordingConnection();
        final InboundSession session;
        long rid = 10;

        Device(InProcessCore core, String user, String device) throws InterruptedException {
            session = core.receiver().open(connection);
            session.onFrame(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                    .setToken(user).setDeviceId(device)).build());
            assertTrue(connection.answerTo(1).hasHelloOk());
        }

        long request(Frame.Builder f) {
            long id = rid++;
            session.onFrame(f.setRequestId(id).build());
            return id;
        }

        Frame await(Predicate<Frame> which) throws InterruptedException {
            while (true) {
                Frame f = connection.next();
                if (which.test(f)) {
                    return f;
                }
            }
        }
    }

    @Test
    void usersOnTwoNodesChatOneToOneAndInAGroup() throws Exception {
        Device alice = new Device(coreA, "alice", "phone");
        Device bob = new Device(coreB, "bob", "phone");
        Device carol = new Device(coreB, "carol", "laptop");

        alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m1").setPeer("bob").setType("text")));
        assertEquals(1, alice.await(Frame::hasSendAck).getSendAck().getSeq());
        assertEquals("m1", bob.await(Frame::hasDeliver).getDeliver().getMessages(0).getClientMsgId());
        bob.session.onFrame(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                .setConversation("d:alice:bob").setSeq(1)).build());
        assertEquals("bob", alice.await(Frame::hasDeliveryUpdate).getDeliveryUpdate().getUser(), "delivered, across");
        bob.session.onFrame(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation("d:alice:bob")
                .setTyping(true)).build());
        assertEquals("bob", alice.await(Frame::hasTyping).getTyping().getUser());
        bob.session.onFrame(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation("d:alice:bob")
                .setSeq(1)).build());
        assertEquals(1, alice.await(Frame::hasReadUpdate).getReadUpdate().getSeq(), "read, across");

        long create = alice.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder().setClientRequestId("g1")
                .setCreate(GroupRequest.Create.newBuilder().setName("team").addMembers("bob").addMembers("carol"))));
        String group = "g:" + alice.await(f -> f.getRequestId() == create).getGroupResponse().getGroup().getId();
        assertEquals("group.event", carol.await(Frame::hasDeliver).getDeliver().getMessages(0).getType());
        long send = carol.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("c1")
                .setConversation(group).setType("text")));
        assertTrue(carol.await(f -> f.getRequestId() == send).hasSendAck());
        assertEquals("c1", alice.await(f -> f.hasDeliver()
                && f.getDeliver().getMessages(0).getType().equals("text")).getDeliver().getMessages(0).getClientMsgId());
        assertEquals("c1", bob.await(f -> f.hasDeliver()
                && f.getDeliver().getMessages(0).getType().equals("text")).getDeliver().getMessages(0).getClientMsgId(),
                "bob on carol's node gets it there");
    }
}
