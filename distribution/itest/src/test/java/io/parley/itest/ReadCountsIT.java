package io.parley.itest;

import io.parley.client.ParleyClient;
import io.parley.client.ReadListener;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.Hello;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.ReadCount;
import io.parley.core.proto.ReadCounts;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.Typing;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Read receipts in groups above {@code read.fanout.max} on the assembled server: members get coalesced
 * {@code ReadCounts} with the right numbers instead of one {@code ReadUpdate} per reader, the reader's own devices
 * still get {@code ReadUpdate}, removed members stop counting, typing is dropped, and small groups keep their
 * {@code ReadUpdate} lists. The server runs with {@code read.fanout.max = 2}, so a group of three or more is large.
 */
class ReadCountsIT {
    private static final long INTERVAL_MILLIS = 2_000;

    @TempDir
    static Path work;
    static ServerProcess server;
    static final List<AutoCloseable> open = new ArrayList<>();

    /** An SDK device recording everything its ReadListener and TypingListener get, in arrival order. */
    record Device(ParleyClient client, LinkedBlockingQueue<Object> events) {
        /** @return the next ReadCounts of {@code conversation} that satisfies {@code done}; also counts the ones skipped */
        ReadCounts awaitCounts(String conversation, Predicate<ReadCounts> done, List<Object> seen) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (System.nanoTime() < deadline) {
                Object e = events.poll(100, TimeUnit.MILLISECONDS);
                if (e == null) {
                    continue;
                }
                seen.add(e);
                if (e instanceof ReadCounts c && c.getConversation().equals(conversation) && done.test(c)) {
                    return c;
                }
            }
            throw new AssertionError("no matching ReadCounts for " + conversation + "; got " + seen);
        }
    }

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        ServerProcess.setKey(server.home.resolve("conf/parley.core.cfg"), "read.fanout.max", "2");
        ServerProcess.setKey(server.home.resolve("conf/parley.core.cfg"), "read.counts.interval.millis",
                Long.toString(INTERVAL_MILLIS));
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        server.close();
    }

    static Device device(String user, String deviceId) throws Exception {
        LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
        ParleyClient c = server.clientBuilder(user, deviceId, server.port).maxSendRetries(0)
                .readListener(new ReadListener() {
                    @Override
                    public void onRead(ReadUpdate update) {
                        events.add(update);
                    }

                    @Override
                    public void onReadCounts(ReadCounts counts) {
                        events.add(counts);
                    }
                })
                .typingListener(events::add)
                .build();
        open.add(c);
        c.connect().get(15, TimeUnit.SECONDS);
        return new Device(c, events);
    }

    /** A bare connection, so each MarkRead is exactly one frame (the SDK coalesces read marks). */
    static RawConnection raw(String user, String deviceId) throws Exception {
        RawConnection c = new RawConnection("127.0.0.1", server.port);
        open.add(c);
        c.send(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                .setToken(server.tokens().mint(user, null, Duration.ofMinutes(30))).setDeviceId(deviceId)).build());
        Frame ok = c.read();
        assertTrue(ok.hasHelloOk(), "hello: " + ok);
        return c;
    }

    static void markRead(RawConnection c, String conversation, long seq) throws Exception {
        c.send(Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation(conversation).setSeq(seq)).build());
    }

    static ReadCount step(long seq, int readers) {
        return ReadCount.newBuilder().setSeq(seq).setReaders(readers).build();
    }

    @Test
    void largeGroupsGetCoalescedCountsAndTheReadersOwnDevicesGetUpdates() throws Exception {
        Device olive = device("olive", "o1");
        Device adamPhone = device("adam", "a2");
        // four members: still above the limit of two after mia's removal below
        Group big = olive.client().createGroup("big", List.of("adam", "mia", "zed")).get(15, TimeUnit.SECONDS);
        String conversation = big.getConversation();
        SendAck last = null;
        for (int i = 1; i <= 3; i++) {
            last = olive.client().sendTextToGroup(big.getId(), "message " + i).get(15, TimeUnit.SECONDS);
        }
        assertEquals(4, last.getSeq(), "seq 1 is the group's creation, 2..4 the messages");

        RawConnection adam = raw("adam", "a1");
        RawConnection mia = raw("mia", "m1");
        // typing in a large group is dropped; were it relayed, it would reach olive before the counts that follow
        adam.send(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation(conversation).setTyping(true)).build());
        // four read marks in quick succession
        markRead(adam, conversation, 2);
        markRead(adam, conversation, 3);
        markRead(mia, conversation, 3);
        markRead(adam, conversation, 4);

        List<Object> seen = new ArrayList<>();
        ReadCounts counts = olive.awaitCounts(conversation, c -> c.getCountsList().equals(List.of(step(3, 2), step(4, 1))), seen);
        assertEquals(4, counts.getHead());
        assertEquals(1, counts.getFromSeq());
        assertEquals(2, ReadListener.readers(counts, 2), "adam and mia read message 1");
        assertEquals(2, ReadListener.readers(counts, 3));
        assertEquals(1, ReadListener.readers(counts, 4), "only adam read message 3");
        assertEquals(-1, ReadListener.readers(counts, 5));
        long frames = seen.stream().filter(e -> e instanceof ReadCounts).count();
        assertTrue(frames <= 2, "four read marks within one interval give at most two frames (the first at once, "
                + "the rest together), got " + seen);
        assertTrue(seen.stream().allMatch(e -> e instanceof ReadCounts),
                "olive gets neither the readers' ReadUpdates nor adam's typing in a large group: " + seen);

        // adam's other device syncs his own read state from plain ReadUpdates, and sees the counts too
        List<Object> adamSeen = new ArrayList<>();
        adamPhone.awaitCounts(conversation, c -> c.getCountsList().equals(List.of(step(3, 2), step(4, 1))), adamSeen);
        List<Long> ownUpdates = adamSeen.stream().filter(e -> e instanceof ReadUpdate).map(e -> (ReadUpdate) e)
                .filter(u -> u.getUser().equals("adam")).map(ReadUpdate::getSeq).toList();
        assertEquals(List.of(2L, 3L, 4L), ownUpdates, "every mark of adam reaches his other device: " + adamSeen);
        assertTrue(adamSeen.stream().noneMatch(e -> e instanceof ReadUpdate u && !u.getUser().equals("adam")),
                "but not mia's: " + adamSeen);

        // removing mia (the removal event is seq 5) drops her cursor: adam alone has read seqs 2..4
        olive.client().removeMembers(big.getId(), List.of("mia")).get(15, TimeUnit.SECONDS);
        ReadCounts after = olive.awaitCounts(conversation, c -> c.getCountsList().equals(List.of(step(4, 1))), seen);
        assertEquals(5, after.getHead());
        assertEquals(1, ReadListener.readers(after, 2));
        assertEquals(0, ReadListener.readers(after, 5));
    }

    @Test
    void smallGroupsKeepReadUpdateLists() throws Exception {
        Device sara = device("sara", "s1");
        Group small = sara.client().createGroup("small", List.of("bob")).get(15, TimeUnit.SECONDS);
        String conversation = small.getConversation();
        SendAck hi = sara.client().sendTextToGroup(small.getId(), "hi bob").get(15, TimeUnit.SECONDS);

        RawConnection bob = raw("bob", "b1");
        markRead(bob, conversation, hi.getSeq());
        Object first = sara.events().poll(15, TimeUnit.SECONDS);
        assertNotNull(first, "sara learns that bob read the group");
        ReadUpdate update = (ReadUpdate) first;
        assertEquals("bob", update.getUser());
        assertEquals(conversation, update.getConversation());
        assertEquals(hi.getSeq(), update.getSeq());

        // typing still reaches the other member of a small group
        bob.send(Frame.newBuilder().setTyping(Typing.newBuilder().setConversation(conversation).setTyping(true)).build());
        Object typing = sara.events().poll(15, TimeUnit.SECONDS);
        assertTrue(typing instanceof Typing t && t.getUser().equals("bob"), "got " + typing);
    }
}
