package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.ReadCount;
import io.parley.core.proto.ReadCounts;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The coalescing, loading and membership logic of {@link ReadCounter}, on a fake engine: a virtual clock, a worker
 * queue run by the test and a timer that fires when the test moves the clock.
 */
class ReadCounterTest {
    private static final long INTERVAL = TimeUnit.MILLISECONDS.toNanos(1000);
    private static final long IDLE = TimeUnit.SECONDS.toNanos(600);
    private static final int FANOUT_MAX = 2;

    private long now = 1_000_000_000L;
    private final ArrayDeque<Runnable> workerQueue = new ArrayDeque<>();
    private final List<long[]> timerDue = new ArrayList<>();
    private final List<Runnable> timerTasks = new ArrayList<>();
    private boolean stopping;

    private final Map<String, Group> records = new ConcurrentHashMap<>();
    private final Map<String, Map<String, Long>> stored = new HashMap<>();
    private final Map<String, Long> heads = new HashMap<>();
    private final List<List<String>> audiences = new ArrayList<>();
    private final List<ReadCounts> sent = new ArrayList<>();
    private int storeReads;

    private final ReadCounter counter = new ReadCounter(new ReadCounter.Host() {
        @Override
        public Group group(String groupId) {
            return records.get(groupId);
        }

        @Override
        public Map<String, Long> storedCursors(String conversation, Collection<String> users) {
            storeReads++;
            Map<String, Long> out = new HashMap<>();
            for (String u : users) {
                Long seq = stored.getOrDefault(conversation, Map.of()).get(u);
                if (seq != null) {
                    out.put(u, seq);
                }
            }
            return out;
        }

        @Override
        public long head(String conversation) {
            return heads.getOrDefault(conversation, 0L);
        }

        @Override
        public void send(List<String> users, Frame frame) {
            audiences.add(users);
            sent.add(frame.getReadCounts());
        }
    }, task -> {
        if (stopping) {
            throw new RejectedExecutionException("stopping");
        }
        workerQueue.add(task);
    }, (nanos, task) -> {
        if (stopping) {
            throw new RejectedExecutionException("stopping");
        }
        timerDue.add(new long[]{now + nanos});
        timerTasks.add(task);
    }, () -> now, FANOUT_MAX, INTERVAL, 50, IDLE);

    private Group group(String id, String... members) {
        Group.Builder g = Group.newBuilder().setId(id).setConversation(Ids.group(id)).setName(id);
        for (String m : members) {
            g.addMembers(GroupMember.newBuilder().setUser(m).setRole(GroupRole.GROUP_ROLE_MEMBER));
        }
        Group record = g.build();
        records.put(id, record);
        return record;
    }

    private void runWorkers() {
        Runnable r;
        while ((r = workerQueue.poll()) != null) {
            r.run();
        }
    }

    /** Moves the virtual clock, firing due timer tasks (they hand work to the workers), and runs the workers. */
    private void elapse(long millis) {
        now += TimeUnit.MILLISECONDS.toNanos(millis);
        for (int i = 0; i < timerTasks.size(); i++) {
            if (timerDue.get(i)[0] <= now) {
                Runnable task = timerTasks.remove(i);
                timerDue.remove(i);
                i--;
                task.run();
            }
        }
        runWorkers();
    }

    private static ReadCount step(long seq, int readers) {
        return ReadCount.newBuilder().setSeq(seq).setReaders(readers).build();
    }

    private ReadCounts last() {
        return sent.get(sent.size() - 1);
    }

    @Test
    void theFirstMarkLoadsTheStoredCursorsAndIsSentAtOnceToEveryMember() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        stored.put("g:g1", Map.of("mia", 3L, "outsider", 9L));
        heads.put("g:g1", 5L);

        counter.markRead("g1", g, "adam", 5);
        runWorkers();

        assertEquals(1, sent.size());
        ReadCounts c = last();
        assertEquals("g:g1", c.getConversation());
        assertEquals(5, c.getHead());
        assertEquals(1, c.getFromSeq());
        assertEquals(List.of(step(3, 2), step(5, 1)), c.getCountsList(), "only members' stored cursors are loaded");
        assertEquals(List.of("olive", "adam", "mia", "zed"), audiences.get(0));
        assertEquals(1, storeReads, "one store read loads the whole group");
    }

    @Test
    void marksWithinAnIntervalAreCoalescedIntoOneFrame() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        heads.put("g:g1", 10L);
        counter.markRead("g1", g, "adam", 4);
        runWorkers();
        assertEquals(1, sent.size(), "leading edge: the first change goes out at once");

        elapse(100);
        counter.markRead("g1", g, "mia", 6);
        runWorkers();
        elapse(100);
        counter.markRead("g1", g, "zed", 6);
        counter.markRead("g1", g, "adam", 8);
        runWorkers();
        assertEquals(1, sent.size(), "nothing more before the interval has passed");

        elapse(799);
        assertEquals(1, sent.size());
        elapse(1);
        assertEquals(2, sent.size(), "three marks, one frame, one interval after the first");
        assertEquals(List.of(step(6, 3), step(8, 1)), last().getCountsList());

        elapse(5_000);
        assertEquals(2, sent.size(), "no change, no frame");

        counter.markRead("g1", g, "olive", 10);
        runWorkers();
        assertEquals(3, sent.size(), "after a quiet interval a change goes out at once again");
        assertEquals(List.of(step(6, 4), step(8, 2), step(10, 1)), last().getCountsList());
    }

    @Test
    void marksArrivingWhileTheGroupLoadsAreMerged() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        stored.put("g:g1", Map.of("adam", 2L, "zed", 7L));
        heads.put("g:g1", 9L);
        counter.markRead("g1", g, "adam", 4); // creates the index and queues its load
        counter.markRead("g1", g, "mia", 9);  // before the load ran
        assertEquals(0, sent.size());
        runWorkers();
        assertEquals(1, sent.size());
        assertEquals(List.of(step(4, 3), step(7, 2), step(9, 1)), last().getCountsList(),
                "adam's newer mark wins over his stored cursor; mia's mark during the load is kept");
        assertEquals(1, storeReads);
    }

    @Test
    void countsThatDidNotChangeInTheWindowAreNotSentAgain() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        heads.put("g:g1", 100L);
        counter.markRead("g1", g, "adam", 100);
        runWorkers();
        assertEquals(1, sent.size());
        assertEquals(51, last().getFromSeq(), "window 50 below and including the head");

        counter.markRead("g1", g, "mia", 20); // below the window
        elapse(1_000);
        assertEquals(1, sent.size());
    }

    @Test
    void departedMembersAreDroppedAndJoinedMembersStoredCursorsLoaded() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        heads.put("g:g1", 6L);
        counter.markRead("g1", g, "adam", 6);
        counter.markRead("g1", g, "mia", 5);
        runWorkers();
        assertEquals(List.of(step(5, 2), step(6, 1)), last().getCountsList());

        Group without = group("g1", "olive", "adam", "zed");
        counter.membersChanged("g1", without, List.of(), List.of("mia"));
        heads.put("g:g1", 7L);
        elapse(1_000);
        assertEquals(List.of(step(6, 1)), last().getCountsList(), "mia's cursor no longer counts");
        assertEquals(List.of("olive", "adam", "zed"), audiences.get(audiences.size() - 1), "and she gets no counts");

        stored.put("g:g1", Map.of("mia", 5L, "nina", 6L));
        Group with = group("g1", "olive", "adam", "zed", "nina");
        counter.membersChanged("g1", with, List.of("nina"), List.of());
        elapse(1_000);
        assertEquals(List.of(step(6, 2)), last().getCountsList(), "nina's stored cursor from an earlier membership counts");
    }

    @Test
    void aMarkRacingWithTheMembersRemovalIsDropped() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        heads.put("g:g1", 6L);
        counter.markRead("g1", g, "adam", 6);
        runWorkers();

        // mia was authorized against g, then removed before her mark reached the counter
        Group without = group("g1", "olive", "adam", "zed");
        counter.membersChanged("g1", without, List.of(), List.of("mia"));
        counter.markRead("g1", g, "mia", 6);
        elapse(1_000);
        assertEquals(1, counter.readersAt("g1", 6), "only adam");
        assertEquals(List.of(step(6, 1)), last().getCountsList());
    }

    @Test
    void aLoadThatOverlapsARemovalDoesNotResurrectTheCursor() {
        Group g = group("g1", "olive", "adam", "mia", "zed");
        stored.put("g:g1", Map.of("mia", 6L));
        heads.put("g:g1", 6L);
        counter.markRead("g1", g, "adam", 6); // load queued with g's members, mia included
        // the removal is stored before the load runs; the load then reads mia's stored cursor
        Group without = group("g1", "olive", "adam", "zed");
        counter.membersChanged("g1", without, List.of(), List.of("mia"));
        runWorkers();
        assertEquals(List.of(step(6, 1)), last().getCountsList());
    }

    @Test
    void aGroupThatShrankToTheFanoutLimitIsDroppedAndGetsNoCounts() {
        Group g = group("g1", "olive", "adam", "mia");
        heads.put("g:g1", 3L);
        counter.markRead("g1", g, "adam", 3);
        counter.markRead("g1", g, "mia", 3);
        runWorkers();
        assertEquals(1, sent.size());

        Group small = group("g1", "olive", "adam");
        counter.membersChanged("g1", small, List.of(), List.of("mia"));
        elapse(1_000);
        assertEquals(1, sent.size());
        assertEquals(0, counter.indexedGroups());
    }

    @Test
    void idleGroupsAreEvictedAndLoadedAgainOnTheNextMark() {
        Group g = group("g1", "olive", "adam", "mia");
        Group h = group("g2", "olive", "adam", "mia");
        heads.put("g:g1", 3L);
        heads.put("g:g2", 3L);
        counter.markRead("g1", g, "adam", 3);
        runWorkers();
        elapse(TimeUnit.NANOSECONDS.toMillis(IDLE) - 1_000);
        counter.markRead("g2", h, "adam", 3);
        runWorkers();
        elapse(1_000);
        counter.evictIdle();
        assertEquals(1, counter.indexedGroups(), "g1 was idle for the idle time, g2 was not");
        assertEquals(-1, counter.readersAt("g1", 3));

        stored.put("g:g1", Map.of("adam", 3L));
        counter.markRead("g1", g, "mia", 2);
        runWorkers();
        assertEquals(List.of(step(2, 2), step(3, 1)), last().getCountsList(), "reloaded from the store");
    }

    @Test
    void clearForgetsEveryIndex() {
        Group g = group("g1", "olive", "adam", "mia");
        heads.put("g:g1", 3L);
        counter.markRead("g1", g, "adam", 3);
        runWorkers();
        counter.clear();
        assertEquals(0, counter.indexedGroups());
        counter.markRead("g1", g, "mia", 1);
        runWorkers();
        assertEquals(List.of(step(1, 1)), last().getCountsList(), "the new store knows nothing of adam's cursor");
    }

    @Test
    void nothingEscapesWhenTheEngineIsStopping() {
        Group g = group("g1", "olive", "adam", "mia");
        heads.put("g:g1", 3L);
        counter.markRead("g1", g, "adam", 3);
        runWorkers();
        counter.markRead("g1", g, "mia", 3);
        runWorkers();
        stopping = true;
        elapse(1_000);
        counter.markRead("g1", g, "olive", 3);
        assertTrue(workerQueue.isEmpty());
    }
}
