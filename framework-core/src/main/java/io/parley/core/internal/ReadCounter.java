package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.ReadCount;
import io.parley.core.proto.ReadCounts;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.LongSupplier;

/**
 * Read counts for groups with more than {@code read.fanout.max} members: instead of relaying every member's
 * {@code ReadUpdate} to every member (O(members²) frames), each group that had a read mark since start keeps an
 * in-memory {@link ReadCursorIndex} of its members' cursors, and every online device of every member gets a
 * {@code ReadCounts} frame at most once per {@code read.counts.interval.millis}, when the counts changed.
 *
 * <p><b>Consistency.</b> A group's index is loaded lazily from the store on its first read mark (the marks that
 * arrive while it loads are merged: cursors only move forward, so merging is taking the maximum). After a restart the
 * store's cursors are the truth; the index never holds a cursor the store has not been asked to keep, because the
 * engine advances the stored cursor before it tells this class. Removed or departed members' cursors are dropped; a
 * read mark racing with a removal is dropped too (see {@link #markRead}). Joining members' stored cursors (from an
 * earlier membership) are loaded when they join.
 *
 * <p><b>Coalescing.</b> The first change after a quiet period is flushed at once; later changes wait until
 * {@code interval} has passed since the previous flush and go out together. One flush per group is in flight at a
 * time, so a group's frames leave in order.
 *
 * <p><b>Memory.</b> Only groups with a read mark in the last {@code idle} period are indexed; {@link #evictIdle}
 * (run periodically by the engine) drops the others. Each index is O(members) ≤ {@code group.max.members}.
 *
 * <p><b>Threading.</b> All methods are thread-safe and never block on I/O themselves except where noted: store
 * reads ({@link Host#storedCursors}, {@link Host#head}) run on {@code workers}; {@code delay} only triggers them.
 * Each group's index is guarded by its entry's monitor, which is never held while calling the host.
 */
final class ReadCounter {
    private static final Logger LOG = LoggerFactory.getLogger(ReadCounter.class);

    /** What the counter needs from the engine. */
    interface Host {
        /** @return the group's current record (cached), or null if it is unknown or the store is gone */
        Group group(String groupId);

        /** @return user → stored read cursor in {@code conversation}, for those users that have one; store I/O */
        Map<String, Long> storedCursors(String conversation, Collection<String> users);

        /** @return the conversation's head; store I/O */
        long head(String conversation);

        /** Sends {@code frame} to every online session of {@code users}; must not block. */
        void send(List<String> users, Frame frame);
    }

    /** Runs a task after a delay; may throw {@link RejectedExecutionException} when stopping. */
    @FunctionalInterface
    interface Delay {
        void after(long nanos, Runnable task);
    }

    private final Host host;
    private final Executor workers;
    private final Delay delay;
    private final LongSupplier nanoClock;
    private final int fanoutMax;
    private final long intervalNanos;
    private final int window;
    private final long idleNanos;
    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

    /**
     * @param fanoutMax groups with at most this many members get no counts (their members get {@code ReadUpdate}s)
     * @param window    counts cover the seqs {@code head - window + 1 .. head}
     */
    ReadCounter(Host host, Executor workers, Delay delay, LongSupplier nanoClock, int fanoutMax,
                long intervalNanos, int window, long idleNanos) {
        this.host = host;
        this.workers = workers;
        this.delay = delay;
        this.nanoClock = nanoClock;
        this.fanoutMax = fanoutMax;
        this.intervalNanos = Math.max(0, intervalNanos);
        this.window = Math.max(1, window);
        this.idleNanos = Math.max(1, idleNanos);
    }

    /** One indexed group. Fields other than the finals are guarded by the entry's monitor. */
    private static final class Entry {
        final String groupId;
        final String conversation;
        final ReadCursorIndex index = new ReadCursorIndex();
        boolean loading;
        boolean loaded;
        /** removed from {@link #entries}: a caller holding it must not use it any more */
        boolean evicted;
        /** changed since the last flush took its snapshot */
        boolean dirty;
        /** a flush is scheduled or running */
        boolean scheduled;
        boolean flushedOnce;
        long lastFlushNanos;
        long lastActivityNanos;
        List<ReadCount> lastSent;

        Entry(String groupId) {
            this.groupId = groupId;
            this.conversation = Ids.group(groupId);
        }
    }

    /**
     * Records that {@code user} read the group up to {@code seq}; the caller has already advanced the stored cursor
     * and checked that {@code user} is a member of {@code authorized} (the group's record it checked against).
     * Starts loading the group's index if it is new, and schedules a flush. May call {@link Host#group} (cached).
     */
    void markRead(String groupId, Group authorized, String user, long seq) {
        while (true) {
            Entry e = entries.computeIfAbsent(Ids.group(groupId), k -> new Entry(groupId));
            boolean changed;
            boolean load;
            synchronized (e) {
                if (e.evicted) {
                    continue; // lost a race with eviction or clear(): use the fresh entry
                }
                e.lastActivityNanos = nanoClock.getAsLong();
                changed = e.index.advance(user, seq);
                load = !e.loaded && !e.loading;
                if (load) {
                    e.loading = true;
                }
            }
            if (changed) {
                // A removal that happened after the caller's check either ran before our advance (then the record
                // we read now no longer lists the user) or runs after it (and removes the cursor itself).
                Group now = host.group(groupId);
                if (now != authorized && (now == null || GroupService.member(now, user).isEmpty())) {
                    synchronized (e) {
                        changed = e.index.remove(user);
                    }
                }
            }
            if (load) {
                execute(() -> load(e));
            } else if (changed) {
                changed(e);
            }
            return;
        }
    }

    /**
     * A membership change of the group has been stored and {@code after} is its new record: departed members' cursors
     * are dropped, joined members' stored cursors are loaded (on a worker). Does nothing for groups not indexed.
     */
    void membersChanged(String groupId, Group after, Collection<String> joined, Collection<String> left) {
        Entry e = entries.get(Ids.group(groupId));
        if (e == null) {
            return;
        }
        boolean changed = false;
        synchronized (e) {
            if (e.evicted) {
                return;
            }
            for (String u : left) {
                changed |= e.index.remove(u);
            }
        }
        if (changed) {
            changed(e);
        }
        if (!joined.isEmpty()) {
            List<String> users = List.copyOf(joined);
            execute(() -> {
                try {
                    merge(e, after, users, false);
                } catch (RuntimeException ex) {
                    LOG.warn("Could not load the read cursors of {} new members of {}", users.size(), e.conversation, ex);
                }
            });
        }
    }

    /**
     * Forgets the group's index (another node changed its membership); it is loaded again from the store on the next
     * read mark.
     */
    void forget(String groupId) {
        Entry e = entries.get(Ids.group(groupId));
        if (e != null) {
            drop(e);
        }
    }

    /** @return true if the group's cursors are indexed here (it had a read mark lately) */
    boolean indexes(String groupId) {
        return entries.containsKey(Ids.group(groupId));
    }

    /** Forgets every index (the store was replaced); they are loaded again from the new store on the next mark. */
    void clear() {
        for (Entry e : entries.values()) {
            drop(e);
        }
    }

    /** Drops the indexes of groups without a read mark for {@code idle}; runs on the engine's timer (no I/O). */
    void evictIdle() {
        long now = nanoClock.getAsLong();
        for (Entry e : entries.values()) {
            synchronized (e) {
                if (e.scheduled || e.loading || now - e.lastActivityNanos < idleNanos) {
                    continue;
                }
                e.evicted = true;
            }
            entries.remove(e.conversation, e);
        }
    }

    /** @return how many groups are indexed (for tests and diagnostics) */
    int indexedGroups() {
        return entries.size();
    }

    /** @return the group's indexed readers at {@code seq}, -1 if the group is not indexed (for tests) */
    int readersAt(String groupId, long seq) {
        Entry e = entries.get(Ids.group(groupId));
        if (e == null) {
            return -1;
        }
        synchronized (e) {
            return e.loaded ? e.index.readersAt(seq) : -1;
        }
    }

    // ---------------------------------------------------------------- loading

    private void load(Entry e) {
        try {
            Group g = host.group(e.groupId);
            if (g == null) {
                drop(e);
                return;
            }
            merge(e, g, GroupService.memberIds(g), true);
        } catch (RuntimeException ex) {
            LOG.warn("Could not load the read cursors of {}; retrying on the next read mark", e.conversation, ex);
            drop(e);
        }
    }

    /**
     * Merges the stored cursors of {@code users} (members of {@code snapshot}) into the index, then drops users
     * that are no longer members if the record changed meanwhile.
     */
    private void merge(Entry e, Group snapshot, Collection<String> users, boolean initial) {
        Map<String, Long> stored = users.isEmpty() ? Map.of() : host.storedCursors(e.conversation, users);
        boolean changed = false;
        synchronized (e) {
            if (e.evicted) {
                return;
            }
            for (Map.Entry<String, Long> c : stored.entrySet()) {
                changed |= e.index.advance(c.getKey(), c.getValue());
            }
            if (initial) {
                e.loading = false;
                e.loaded = true;
                changed = true; // the members have no counts yet
            }
        }
        Group now = host.group(e.groupId);
        if (now != snapshot) {
            if (now == null) {
                drop(e);
                return;
            }
            changed |= prune(e, now);
        }
        if (changed) {
            changed(e);
        }
    }

    /** @return true if cursors of users who are not members of {@code g} were dropped */
    private boolean prune(Entry e, Group g) {
        Set<String> members = new HashSet<>(GroupService.memberIds(g));
        synchronized (e) {
            List<String> gone = new ArrayList<>();
            for (String u : e.index.users()) {
                if (!members.contains(u)) {
                    gone.add(u);
                }
            }
            gone.forEach(e.index::remove);
            return !gone.isEmpty();
        }
    }

    private void drop(Entry e) {
        synchronized (e) {
            e.evicted = true;
        }
        entries.remove(e.conversation, e);
    }

    // ---------------------------------------------------------------- flushing

    /** Marks the group changed and schedules a flush unless one is scheduled or running (it re-checks when done). */
    private void changed(Entry e) {
        long wait;
        synchronized (e) {
            e.dirty = true;
            if (!e.loaded || e.scheduled || e.evicted) {
                return;
            }
            e.scheduled = true;
            wait = waitNanos(e);
        }
        schedule(e, wait);
    }

    /** Guarded by e. */
    private long waitNanos(Entry e) {
        return e.flushedOnce ? Math.max(0, e.lastFlushNanos + intervalNanos - nanoClock.getAsLong()) : 0;
    }

    private void schedule(Entry e, long wait) {
        try {
            if (wait == 0) {
                workers.execute(() -> flush(e));
            } else {
                delay.after(wait, () -> execute(() -> flush(e)));
            }
        } catch (RejectedExecutionException stopping) {
            synchronized (e) {
                e.scheduled = false;
            }
        }
    }

    /** Runs on a worker: snapshots the counts, sends them if they differ from the last ones, then re-checks. */
    private void flush(Entry e) {
        ReadCounts counts = null;
        List<String> audience = null;
        boolean failed = false;
        try {
            Group g = host.group(e.groupId);
            if (g == null || g.getMembersCount() <= fanoutMax) {
                drop(e); // gone, or small again: its members get ReadUpdates now
                return;
            }
            long head = host.head(e.conversation);
            synchronized (e) {
                if (e.evicted) {
                    return;
                }
                e.dirty = false;
                e.flushedOnce = true;
                e.lastFlushNanos = nanoClock.getAsLong();
                long from = Math.max(1, head - window + 1);
                List<ReadCount> steps = e.index.counts(from, head);
                if (!steps.equals(e.lastSent)) {
                    e.lastSent = steps;
                    counts = ReadCounts.newBuilder().setConversation(e.conversation).setHead(head).setFromSeq(from)
                            .addAllCounts(steps).build();
                    audience = GroupService.memberIds(g);
                }
            }
            if (counts != null) {
                host.send(audience, Frame.newBuilder().setReadCounts(counts).build());
            }
        } catch (RuntimeException ex) {
            failed = true; // e.g. the store left; not retried at once, or a lasting failure would spin
            LOG.warn("Could not send the read counts of {}; retrying on the next read mark", e.conversation, ex);
        } finally {
            long wait = -1;
            synchronized (e) {
                e.scheduled = false;
                if (!failed && e.dirty && !e.evicted && e.loaded) {
                    e.scheduled = true;
                    wait = waitNanos(e);
                }
            }
            if (wait >= 0) {
                schedule(e, wait);
            }
        }
    }

    private void execute(Runnable task) {
        try {
            workers.execute(task);
        } catch (RejectedExecutionException stopping) {
            LOG.debug("Engine stopping: read-count task dropped");
        }
    }
}
