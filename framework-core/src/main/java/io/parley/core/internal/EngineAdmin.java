package io.parley.core.internal;

import io.parley.core.spi.admin.ServerAdmin;
import io.parley.core.spi.admin.SessionInfo;
import io.parley.core.spi.admin.Stats;
import io.parley.core.spi.admin.StoreInfo;
import io.parley.core.spi.admin.TypeInfo;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.store.MessageStore;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The core's {@link ServerAdmin}: read-only views of the {@link SessionRegistry}, the type whiteboards and the store
 * services, and the engine's kick. Registered by {@link EngineComponent} while it is active.
 *
 * <p>Threading: thread-safe and non-blocking; every answer is a snapshot built from concurrent structures. Gets no
 * service object (stores are looked at through their references and the engine's bound store).
 */
final class EngineAdmin implements ServerAdmin {

    /** The engine's kick ({@link LoginPolicy#kick}): closes sessions with KIND_KICKED, returns how many. */
    interface Kick {
        int kick(String user, String device, String reason);
    }

    private final BundleContext context;
    private final SessionRegistry registry;
    private final CurrentStore store;
    private final Whiteboard<io.parley.core.spi.message.MessageProcessor> processors;
    private final Whiteboard<io.parley.core.spi.command.CommandHandler> commands;
    private final Kick kick;
    private final java.util.function.Supplier<List<String>> problems;
    private final long startedMillis = System.currentTimeMillis();

    EngineAdmin(BundleContext context, SessionRegistry registry, CurrentStore store,
                Whiteboard<io.parley.core.spi.message.MessageProcessor> processors,
                Whiteboard<io.parley.core.spi.command.CommandHandler> commands, Kick kick,
                java.util.function.Supplier<List<String>> problems) {
        this.context = context;
        this.registry = registry;
        this.store = store;
        this.processors = processors;
        this.commands = commands;
        this.kick = kick;
        this.problems = problems;
    }

    @Override
    public List<SessionInfo> sessions(String user) {
        long now = System.currentTimeMillis();
        List<SessionInfo> out = new ArrayList<>();
        for (ServerSession s : user == null ? registry.all() : List.of(registry.sessions(user))) {
            if (s.isTrusted() || s.isClosed() || !s.isAuthenticated()) {
                continue;
            }
            long last = Math.max(s.lastInboundMillis(), s.startedAt());
            out.add(new SessionInfo(s.userId(), s.deviceId(), s.connection().transport(),
                    s.connection().remoteAddress(), s.startedAt(), Math.max(0, now - last), s.sessionId()));
        }
        out.sort(Comparator.comparingLong(SessionInfo::sinceMillis).thenComparing(SessionInfo::sessionId));
        return out;
    }

    @Override
    public int kick(String user, String device, String reason) {
        return kick.kick(user, device, reason);
    }

    @Override
    public List<TypeInfo> types() {
        List<TypeInfo> out = new ArrayList<>();
        new TreeMap<>(processors.services()).forEach((type, p) -> out.add(type(TypeInfo.MESSAGE, type, p)));
        new TreeMap<>(commands.services()).forEach((type, h) -> out.add(type(TypeInfo.COMMAND, type, h)));
        return out;
    }

    private static TypeInfo type(String kind, String type, Object service) {
        Bundle b = FrameworkUtil.getBundle(service.getClass());
        return new TypeInfo(kind, type, b == null ? "?" : b.getSymbolicName(),
                b == null ? "?" : b.getVersion().toString());
    }

    /**
     * Lists the store services by their references only: {@code getService} would activate a delayed component (a
     * store bundle that is deployed but not selected would open its files). A store is in use when a bundle other
     * than its own holds it (the core, for the message store; the HTTP API, for a blob store).
     */
    @Override
    public List<StoreInfo> stores() {
        List<StoreInfo> out = new ArrayList<>();
        MessageStore current = store.get();
        for (ServiceReference<MessageStore> ref : references(MessageStore.class)) {
            boolean inUse = current != null && usedByOthers(ref, true);
            String health = "not in use";
            if (inUse) {
                try {
                    Optional<String> failure = current.writeFailure();
                    health = failure.isPresent() ? failure.get() : StoreInfo.WRITABLE;
                } catch (RuntimeException e) {
                    health = "cannot tell: " + e;
                }
            }
            out.add(store(StoreInfo.MESSAGE, ref, MessageStore.NAME, inUse, health));
        }
        for (ServiceReference<BlobStore> ref : references(BlobStore.class)) {
            out.add(store(StoreInfo.BLOB, ref, BlobStore.NAME, usedByOthers(ref, false), "unknown"));
        }
        out.sort(Comparator.comparing(StoreInfo::kind).reversed().thenComparing(StoreInfo::name));
        return out;
    }

    /** @return true if a bundle other than the service's own holds it (only the core's bundle if {@code byCore}) */
    private boolean usedByOthers(ServiceReference<?> ref, boolean byCore) {
        Bundle owner = ref.getBundle();
        Bundle[] users = ref.getUsingBundles();
        if (owner == null || users == null) {
            return false;
        }
        for (Bundle u : users) {
            if (u.getBundleId() != owner.getBundleId()
                    && (!byCore || u.getBundleId() == context.getBundle().getBundleId())) {
                return true;
            }
        }
        return false;
    }

    private static StoreInfo store(String kind, ServiceReference<?> ref, String nameKey, boolean inUse, String health) {
        Bundle b = ref.getBundle();
        Object name = ref.getProperty(nameKey);
        return new StoreInfo(kind, name == null ? "?" : name.toString(), b == null ? "?" : b.getSymbolicName(),
                b == null ? "?" : b.getVersion().toString(), inUse, health);
    }

    private <S> Collection<ServiceReference<S>> references(Class<S> type) {
        try {
            return context.getServiceReferences(type, null);
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e); // a null filter is always valid
        } catch (IllegalStateException e) {
            return List.of(); // the core is stopping
        }
    }

    @Override
    public Stats stats() {
        long now = System.currentTimeMillis();
        Map<String, Integer> byTransport = new TreeMap<>();
        TreeSet<String> users = new TreeSet<>();
        long pending = 0;
        for (ServerSession s : registry.all()) {
            if (s.isTrusted() || s.isClosed()) {
                continue;
            }
            byTransport.merge(s.connection().transport(), 1, Integer::sum);
            users.add(s.userId());
            pending += s.pendingFrames();
        }
        String storeName = null;
        if (store.get() != null) {
            for (ServiceReference<MessageStore> ref : references(MessageStore.class)) {
                if (usedByOthers(ref, true)) {
                    Object n = ref.getProperty(MessageStore.NAME);
                    storeName = n == null ? "?" : n.toString();
                }
            }
        }
        return new Stats(startedMillis, now - startedMillis, byTransport, users.size(), storeName,
                List.copyOf(problems.get()), Map.of("inbound.frames", pending));
    }
}
