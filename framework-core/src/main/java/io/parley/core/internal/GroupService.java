package io.parley.core.internal;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Group state: the cached records, membership queries and the per-group order of operations. The rules of what a
 * request changes are {@link GroupRules}.
 *
 * <p>A group's record lives in the store ({@link MessageStore#groupRecord}) and is cached here, bounded by the total
 * of the cached groups' weights (1 + members, {@code group.cache.members}); every change is a
 * {@value #EVENT_TYPE} message in the group's seq stream, appended atomically with the new record
 * ({@link MessageStore#appendGroupEvent}). Operations on one group run one after another (a per-group chain of
 * futures), so each computes its change from the record the previous one wrote.
 *
 * <p>Thread-safety: all methods are thread-safe.
 */
final class GroupService {
    static final String EVENT_TYPE = "group.event";
    private final long cacheWeightLimit;
    private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();
    /** Sum of {@link #weight} over {@link #cache}'s values; exact, since every change goes through put/remove results. */
    private final AtomicLong cacheWeight = new AtomicLong();
    private final ConcurrentHashMap<String, CompletableFuture<?>> tails = new ConcurrentHashMap<>();

    /**
     * A cached record with its member ids as a list (fan-out) and a set (membership checks), computed once per record
     * version: the hot paths (every delivery ack, read mark and send in a group) neither copy nor scan the members.
     */
    private record Cached(Group group, List<String> ids, Set<String> idSet) {
        static Cached of(Group g) {
            List<String> ids = memberIds(g);
            return new Cached(g, List.copyOf(ids), Set.copyOf(ids));
        }
    }

    /** Caches up to a million members' worth of group records. */
    GroupService() {
        this(1_000_000);
    }

    /** @param cacheWeightLimit the most member entries (plus one per group) the record cache holds */
    GroupService(long cacheWeightLimit) {
        this.cacheWeightLimit = Math.max(1, cacheWeightLimit);
    }

    /** @return the group, from the cache or the store; empty if it never existed */
    Optional<Group> find(MessageStore store, String groupId) {
        Cached c = cache.get(groupId);
        if (c != null) {
            return Optional.of(c.group());
        }
        Optional<byte[]> record = store.groupRecord(groupId);
        if (record.isEmpty()) {
            return Optional.empty();
        }
        try {
            Cached parsed = Cached.of(Group.parseFrom(record.get()));
            Cached raced = cache.putIfAbsent(groupId, parsed);
            if (raced != null) {
                return Optional.of(raced.group());
            }
            cacheWeight.addAndGet(weight(parsed.group()));
            trim();
            return Optional.of(parsed.group());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt record of group " + groupId, e);
        }
    }

    /**
     * Membership from the cache only, never the store; any thread, non-blocking.
     *
     * @return true if the group's record is cached and lists {@code user}; false if it is not cached or does not
     *         list them (then ask {@link #find} and {@link #requireMemberOf})
     */
    boolean cachedMember(String groupId, String user) {
        Cached c = cache.get(groupId);
        return c != null && c.idSet().contains(user);
    }

    /** @return the group's record if it is cached, else null (then ask {@link #find}); any thread, non-blocking */
    Group cached(String groupId) {
        Cached c = cache.get(groupId);
        return c == null ? null : c.group();
    }

    Group require(MessageStore store, String groupId) {
        return find(store, groupId).orElseThrow(GroupService::noSuchGroup);
    }

    /** What a missing group and a group the caller is not a member of both answer, so existence does not leak. */
    static ParleyException noSuchGroup() {
        return new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such group");
    }

    /** Installs the record an event appended (called in the group's chain, after the store completed). */
    void updated(Group group) {
        Cached old = cache.put(group.getId(), Cached.of(group));
        cacheWeight.addAndGet(weight(group) - (old == null ? 0 : weight(old.group())));
        trim();
    }

    /**
     * @return the member ids of {@code g}, immutable; for the cached version of a record (what {@link #find} returned)
     *         without copying
     */
    List<String> members(Group g) {
        Cached c = cache.get(g.getId());
        return c != null && c.group() == g ? c.ids() : List.copyOf(memberIds(g));
    }

    /**
     * @throws ParleyException NOT_FOUND unless {@code user} is a member of {@code g} (the answer for a group that
     *                         does not exist: a non-member cannot tell the two apart); O(1) for a cached record
     */
    void requireMemberOf(Group g, String user) {
        Cached c = cache.get(g.getId());
        if (c != null && c.group() == g) {
            if (!c.idSet().contains(user)) {
                throw noSuchGroup();
            }
        } else {
            requireMember(g, user);
        }
    }

    /** Forgets the group's cached record (another node changed it); the next use reads it from the store. */
    void forget(String groupId) {
        Cached c = cache.remove(groupId);
        if (c != null) {
            cacheWeight.addAndGet(-weight(c.group()));
        }
    }

    /** Forgets cached records (the store changed underneath: another store was bound). */
    void clear() {
        for (Map.Entry<String, Cached> e : cache.entrySet()) {
            if (cache.remove(e.getKey(), e.getValue())) {
                cacheWeight.addAndGet(-weight(e.getValue().group()));
            }
        }
    }

    /** The cached groups' total weight (for tests and diagnostics). */
    long cachedWeight() {
        return cacheWeight.get();
    }

    /** Number of cached group records. */
    int cachedGroups() {
        return cache.size();
    }

    private static long weight(Group g) {
        return 1L + g.getMembersCount();
    }

    /**
     * Over the limit, drops groups in the map's iteration order (unrelated to use: hash order) until 90 % of the limit
     * is left. A dropped group costs one store read on its next use. Any thread; concurrent trims drop a little more.
     */
    private void trim() {
        if (cacheWeight.get() <= cacheWeightLimit) {
            return;
        }
        long target = cacheWeightLimit - cacheWeightLimit / 10;
        Iterator<Map.Entry<String, Cached>> it = cache.entrySet().iterator();
        while (cacheWeight.get() > target && it.hasNext()) {
            Map.Entry<String, Cached> e = it.next();
            if (cache.remove(e.getKey(), e.getValue())) {
                cacheWeight.addAndGet(-weight(e.getValue().group()));
            }
        }
    }

    /**
     * Runs {@code op} after every earlier operation on the group has completed (successfully or not).
     *
     * @return completed with {@code op}'s outcome; an exception thrown by {@code op} fails it
     */
    <T> CompletableFuture<T> serialize(String groupId, Supplier<CompletableFuture<T>> op) {
        CompletableFuture<T> result = new CompletableFuture<>();
        CompletableFuture<?> previous = tails.put(groupId, result);
        (previous == null ? CompletableFuture.completedFuture(null) : previous)
                .handle((v, e) -> null)
                .thenCompose(v -> {
                    try {
                        return op.get();
                    } catch (RuntimeException e) {
                        return CompletableFuture.<T>failedFuture(e);
                    }
                })
                .whenComplete((v, e) -> {
                    if (e != null) {
                        result.completeExceptionally(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
                    } else {
                        result.complete(v);
                    }
                });
        result.whenComplete((v, e) -> tails.remove(groupId, result));
        return result;
    }

    // ---------------------------------------------------------------- rules

    static Optional<GroupMember> member(Group g, String user) {
        for (GroupMember m : g.getMembersList()) {
            if (m.getUser().equals(user)) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    static List<String> memberIds(Group g) {
        List<String> ids = new ArrayList<>(g.getMembersCount());
        g.getMembersList().forEach(m -> ids.add(m.getUser()));
        return ids;
    }

    /** @return the user's membership; @throws ParleyException NOT_FOUND if there is none (see {@link #noSuchGroup}) */
    static GroupMember requireMember(Group g, String user) {
        return member(g, user).orElseThrow(GroupService::noSuchGroup);
    }

    /** @throws ParleyException unless {@code user} may send to the group now */
    static void checkMaySend(Group g, String user, long now) {
        GroupMember m = requireMember(g, user);
        if (g.getDissolved()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "the group is dissolved");
        }
        if (m.getMutedUntil() > now) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "you are muted in this group");
        }
        if (g.getMutedAll() && m.getRole() == GroupRole.GROUP_ROLE_MEMBER) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "only admins may send while the group is muted");
        }
    }

    /** The system message recording a change; the store assigns its seq. */
    static Message eventMessage(String id, String clientMsgId, String actor, String actorDevice, String groupId,
                                GroupEvent event, long now) {
        return Message.newBuilder().setId(id).setClientMsgId(clientMsgId).setSender(actor).setSenderDevice(actorDevice)
                .setConversation(Ids.group(groupId)).setServerTime(now).setType(EVENT_TYPE)
                .setBody(Any.pack(event)).build();
    }
}
