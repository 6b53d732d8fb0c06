package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupRole;
import io.parley.core.spi.store.MessageStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GroupServiceTest {
    private final GroupService groups = new GroupService();
    private final GroupRules rules = new GroupRules(4);

    private Group created() {
        return rules.create("g1", "olive", GroupRequest.Create.newBuilder().setName(" Team ")
                .addMembers("adam").addMembers("mia").build(), 1).after();
    }

    private Group apply(Group g, String actor, GroupRequest.Builder r) {
        return rules.apply(g, actor, r.build(), 1000).after();
    }

    private static void refused(ErrorCode code, Executable e) {
        assertEquals(code, assertThrows(ParleyException.class, e).code());
    }

    private static GroupRequest.Builder req() {
        return GroupRequest.newBuilder();
    }

    @Test
    void creatorOwnsTheGroup() {
        GroupRules.Change c = rules.create("g1", "olive", GroupRequest.Create.newBuilder().setName("Team")
                .addMembers("adam").addMembers("olive").build(), 1);
        assertEquals("g:g1", c.after().getConversation());
        assertEquals(List.of("olive", "adam"), GroupService.memberIds(c.after()));
        assertEquals(GroupRole.GROUP_ROLE_OWNER, GroupService.member(c.after(), "olive").orElseThrow().getRole());
        assertEquals(GroupEvent.Kind.KIND_CREATED, c.event().getKind());
        assertEquals(List.of("olive", "adam"), new ArrayList<>(c.joined()));
    }

    @Test
    void sizeLimitAndNameAreEnforced() {
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> rules.create("g2", "o", GroupRequest.Create.newBuilder()
                .setName("x").addMembers("a").addMembers("b").addMembers("c").addMembers("d").build(), 1));
        refused(ErrorCode.ERROR_CODE_INVALID_REQUEST, () -> rules.create("g2", "o", GroupRequest.Create.newBuilder()
                .setName("  ").build(), 1));
    }

    @Test
    void onlyManagersAddAndRemove() {
        Group g = created();
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> apply(g, "adam",
                req().setAddMembers(GroupRequest.Members.newBuilder().setGroupId("g1").addUsers("zoe"))));
        Group bigger = apply(g, "olive", req().setAddMembers(GroupRequest.Members.newBuilder().setGroupId("g1").addUsers("zoe")));
        assertTrue(GroupService.member(bigger, "zoe").isPresent());
        Group admin = apply(bigger, "olive", req().setSetRole(GroupRequest.SetRole.newBuilder().setGroupId("g1")
                .setUser("adam").setRole(GroupRole.GROUP_ROLE_ADMIN)));
        Group smaller = apply(admin, "adam", req().setRemoveMembers(GroupRequest.Members.newBuilder().setGroupId("g1").addUsers("zoe")));
        assertTrue(GroupService.member(smaller, "zoe").isEmpty());
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> apply(admin, "adam",
                req().setRemoveMembers(GroupRequest.Members.newBuilder().setGroupId("g1").addUsers("olive"))));
        refused(ErrorCode.ERROR_CODE_NOT_FOUND, () -> apply(g, "stranger",
                req().setLeave(GroupRequest.Leave.newBuilder().setGroupId("g1"))));
    }

    @Test
    void mutesAndTransfer() {
        Group g = created();
        Group muted = apply(g, "olive", req().setMute(GroupRequest.Mute.newBuilder().setGroupId("g1").setUser("mia").setUntil(5000)));
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> GroupService.checkMaySend(muted, "mia", 4000));
        GroupService.checkMaySend(muted, "mia", 6000);
        Group all = apply(g, "olive", req().setMuteAll(GroupRequest.MuteAll.newBuilder().setGroupId("g1").setMuted(true)));
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> GroupService.checkMaySend(all, "adam", 0));
        GroupService.checkMaySend(all, "olive", 0);
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> apply(g, "olive", req().setLeave(GroupRequest.Leave.newBuilder().setGroupId("g1"))));
        Group transferred = apply(g, "olive", req().setTransfer(GroupRequest.Transfer.newBuilder().setGroupId("g1").setNewOwner("mia")));
        assertEquals(GroupRole.GROUP_ROLE_OWNER, GroupService.member(transferred, "mia").orElseThrow().getRole());
        assertEquals(GroupRole.GROUP_ROLE_ADMIN, GroupService.member(transferred, "olive").orElseThrow().getRole());
        Group left = apply(transferred, "olive", req().setLeave(GroupRequest.Leave.newBuilder().setGroupId("g1")));
        assertTrue(GroupService.member(left, "olive").isEmpty());
    }

    @Test
    void dissolvedGroupsAreReadOnly() {
        Group g = created();
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> apply(g, "adam", req().setDissolve(GroupRequest.Dissolve.newBuilder().setGroupId("g1"))));
        Group gone = apply(g, "olive", req().setDissolve(GroupRequest.Dissolve.newBuilder().setGroupId("g1")));
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> GroupService.checkMaySend(gone, "olive", 0));
        refused(ErrorCode.ERROR_CODE_FORBIDDEN, () -> apply(gone, "olive",
                req().setAddMembers(GroupRequest.Members.newBuilder().setGroupId("g1").addUsers("zoe"))));
    }

    @Test
    void operationsOnOneGroupRunOneAfterAnother() throws Exception {
        List<Integer> order = new ArrayList<>();
        CompletableFuture<Void> gate = new CompletableFuture<>();
        CompletableFuture<Integer> first = groups.serialize("g1", () -> gate.thenApply(v -> {
            order.add(1);
            return 1;
        }));
        CompletableFuture<Integer> second = groups.serialize("g1", () -> {
            order.add(2);
            return CompletableFuture.completedFuture(2);
        });
        assertTrue(!second.isDone());
        gate.complete(null);
        assertEquals(2, second.get(1, TimeUnit.SECONDS));
        assertEquals(1, first.get(1, TimeUnit.SECONDS));
        assertEquals(List.of(1, 2), order);
        CompletableFuture<Integer> failed = groups.serialize("g1", () -> { throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "no"); });
        ExecutionException e = assertThrows(ExecutionException.class, () -> failed.get(1, TimeUnit.SECONDS));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, ((ParleyException) e.getCause()).code());
        assertEquals(3, groups.serialize("g1", () -> CompletableFuture.completedFuture(3)).get(1, TimeUnit.SECONDS));
    }

    @Test
    void theRecordCacheStaysWithinItsWeightAndReloadsWhatItDropped() {
        Map<String, byte[]> stored = new HashMap<>();
        AtomicInteger reads = new AtomicInteger();
        MessageStore store = (MessageStore) Proxy.newProxyInstance(MessageStore.class.getClassLoader(),
                new Class<?>[] {MessageStore.class}, (proxy, method, args) -> {
                    if (method.getName().equals("groupRecord")) {
                        reads.incrementAndGet();
                        return Optional.ofNullable(stored.get((String) args[0]));
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
        GroupService small = new GroupService(10); // each group below weighs 1 + 2 members
        for (int i = 0; i < 20; i++) {
            Group g = new GroupRules(100).create("g" + i, "olive", GroupRequest.Create.newBuilder().setName("t" + i)
                    .addMembers("adam").build(), 1).after();
            stored.put(g.getId(), g.toByteArray());
            small.updated(g);
            assertTrue(small.cachedWeight() <= 10, "weight " + small.cachedWeight() + " after " + (i + 1) + " groups");
            assertEquals(3L * small.cachedGroups(), small.cachedWeight());
        }
        for (int i = 0; i < 20; i++) {
            assertEquals("t" + i, small.require(store, "g" + i).getName());
        }
        assertTrue(reads.get() >= 17, "dropped records are read from the store again: " + reads.get() + " reads");
        assertTrue(small.cachedWeight() <= 10);
        int before = reads.get();
        Group hot = small.require(store, "g19");
        assertEquals(hot, small.require(store, "g19"));
        assertEquals(before, reads.get(), "a cached record is not read again");
        small.clear();
        assertEquals(0, small.cachedWeight());
    }
}
