package io.parley.core.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Authenticated sessions on this node by user id. Thread-safe; lookups are lock-free and return an immutable
 * snapshot array, so one lookup serves every recipient device of a user.
 */
final class SessionRegistry {
    private static final ServerSession[] NONE = new ServerSession[0];
    private final ConcurrentHashMap<String, ServerSession[]> byUser = new ConcurrentHashMap<>();
    /** Sessions registered now (metrics). */
    private final java.util.concurrent.atomic.AtomicInteger size = new java.util.concurrent.atomic.AtomicInteger();

    void add(ServerSession session) {
        size.incrementAndGet();
        byUser.compute(session.userId(), (u, current) -> {
            if (current == null) {
                return new ServerSession[]{session};
            }
            ServerSession[] next = Arrays.copyOf(current, current.length + 1);
            next[current.length] = session;
            return next;
        });
    }

    void remove(ServerSession session) {
        byUser.computeIfPresent(session.userId(), (u, current) -> {
            int n = 0;
            ServerSession[] next = new ServerSession[current.length];
            for (ServerSession s : current) {
                if (s != session) {
                    next[n++] = s;
                }
            }
            if (n < current.length) {
                size.decrementAndGet();
            }
            return n == 0 ? null : Arrays.copyOf(next, n);
        });
    }

    /** @return true if one of {@code user}'s sessions on this node is on {@code device} */
    boolean hasDevice(String user, String device) {
        for (ServerSession s : sessions(user)) {
            if (s.deviceId().equals(device)) {
                return true;
            }
        }
        return false;
    }

    /** @return the user's sessions on this node; never null; do not modify */
    ServerSession[] sessions(String userId) {
        ServerSession[] s = byUser.get(userId);
        return s == null ? NONE : s;
    }

    List<ServerSession> all() {
        List<ServerSession> out = new ArrayList<>();
        byUser.values().forEach(a -> out.addAll(Arrays.asList(a)));
        return out;
    }

    /** @return the sessions registered now, all users together */
    int size() {
        return size.get();
    }

    int users() {
        return byUser.size();
    }
}
