package io.parley.core.internal;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/** The engine as {@link ReadCounter} sees it: group records, stored cursors and heads, relays. Thread-safe, stateless. */
@Singleton
final class ReadCountHost implements ReadCounter.Host {
    private final CurrentStore store;
    private final GroupService groups;
    private final Delivery delivery;

    @Inject
    ReadCountHost(CurrentStore store, GroupService groups, Delivery delivery) {
        this.store = store;
        this.groups = groups;
        this.delivery = delivery;
    }

    @Override
    public Group group(String groupId) {
        MessageStore s = store.get();
        return s == null ? null : groups.find(s, groupId).orElse(null);
    }

    @Override
    public Map<String, Long> storedCursors(String conversation, Collection<String> users) {
        return store.require().readCursorsIn(conversation, users);
    }

    @Override
    public long head(String conversation) {
        return store.require().head(conversation);
    }

    @Override
    public void send(List<String> users, Frame frame) {
        // each node counts every mark (its own, and the others' through the cluster link) for its own sessions
        delivery.relayLocal(null, frame, users);
    }
}
