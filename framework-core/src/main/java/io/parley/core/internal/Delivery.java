package io.parley.core.internal;

import io.parley.core.proto.Deliver;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.command.DeviceAddress;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.delivery.NotificationDispatcher;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;

/**
 * Getting frames to sessions: stored or relayed messages to every device of their members (held by a session while
 * its resume streams that conversation, see {@link ServerSession#deliver}), then one notification per message to each
 * {@link DispatchChannel} (offline push, webhooks…); and plain relays of receipts, read marks and typing. Owns the
 * registered notification channels.
 *
 * <p>With a {@link ClusterLink} bound, the link also gets every message ({@link ClusterLink#route}) and relay for the
 * sessions on other nodes, and a member counts as offline for notifications only when it has a session on no node
 * (waiting for the link's answer at most {@code cluster.route.timeout.millis}, then counting the unknown as
 * offline). Without one, nothing of that runs: the single-node path is the same code as before the link existed.
 *
 * <p>Threading: called from store completions (a store's writer thread), core workers, the timer and (for
 * {@link #deliverLocal} and {@link #relayLocal}) a cluster link's threads; never blocks and takes no lock: registry
 * lookups are lock-free snapshots, {@link ServerSession#send} only queues, a channel's {@link DispatchChannel#submit}
 * drops rather than waits, and the channel list is copy-on-write.
 */
@Singleton
final class Delivery {
    private final EngineConfig config;
    private final ExecutorService workers;
    private final SessionRegistry sessions;
    private final CurrentLink link;
    private final List<DispatchChannel> channels = new CopyOnWriteArrayList<>();
    private final EngineMetrics metrics;

    @Inject
    Delivery(EngineConfig config, @Named("workers") ExecutorService workers, SessionRegistry sessions,
             CurrentLink link, EngineMetrics metrics) {
        this.metrics = metrics;
        this.config = config;
        this.workers = workers;
        this.sessions = sessions;
        this.link = link;
    }

    void addChannel(String name, boolean allRecipients, NotificationDispatcher dispatcher, int concurrency) {
        DispatchChannel channel = new DispatchChannel(name, allRecipients, dispatcher, concurrency,
                config.dispatch_queue(), workers);
        channels.add(channel);
        metrics.channelAdded(channel);
    }

    void removeChannel(Object dispatcher) {
        for (DispatchChannel c : channels) {
            if (c.dispatcher() == dispatcher && channels.remove(c)) {
                metrics.channelRemoved(c);
            }
        }
    }

    /**
     * Online delivery to every session of every member except the sending one, then, unless {@code preview} is null
     * (system events), one notification per channel with the recipients of its scope (never one per recipient).
     * One registry lookup per member serves all of its devices; the frame is built once.
     *
     * @param origin the sending session (not delivered to), or null to deliver to every session of every member
     */
    void dispatch(ServerSession origin, Message message, List<String> members, String preview) {
        ClusterLink cluster = link.get();
        if (cluster != null) {
            dispatchClustered(cluster, origin, message, members, preview);
            return;
        }
        Frame deliver = Frame.newBuilder().setDeliver(Deliver.newBuilder().addMessages(message)).build();
        String sender = message.getSender();
        boolean notify = preview != null && !channels.isEmpty();
        List<String> offline = notify ? new ArrayList<>() : null;
        List<String> online = notify ? new ArrayList<>() : null;
        for (String member : members) {
            ServerSession[] targets = sessions.sessions(member);
            for (ServerSession target : targets) {
                if (target != origin) {
                    target.deliver(deliver, message.getConversation(), message.getSeq());
                }
            }
            if (notify && !member.equals(sender)) {
                (targets.length == 0 ? offline : online).add(member);
            }
        }
        if (notify) {
            notifyChannels(message, preview, offline, online);
        }
    }

    /**
     * {@link #dispatch} with a link: the same local deliveries, the message handed to the link for the other nodes,
     * and the notifications once the link said which members have sessions elsewhere (or it was too late to say).
     */
    private void dispatchClustered(ClusterLink cluster, ServerSession origin, Message message, List<String> members,
                                   String preview) {
        Frame deliver = Frame.newBuilder().setDeliver(Deliver.newBuilder().addMessages(message)).build();
        boolean notify = preview != null && !channels.isEmpty();
        List<String> everyone = List.copyOf(members);
        boolean[] here = notify ? new boolean[everyone.size()] : null;
        for (int i = 0; i < everyone.size(); i++) {
            ServerSession[] targets = sessions.sessions(everyone.get(i));
            for (ServerSession target : targets) {
                if (target != origin) {
                    target.deliver(deliver, message.getConversation(), message.getSeq());
                }
            }
            if (notify) {
                here[i] = targets.length > 0;
            }
        }
        CompletionStage<Set<String>> elsewhere = link.route(cluster, message, everyone);
        if (!notify) {
            return;
        }
        link.within(elsewhere, Set.of(), "route").thenAccept(remote -> {
            String sender = message.getSender();
            List<String> offline = new ArrayList<>();
            List<String> online = new ArrayList<>();
            for (int i = 0; i < everyone.size(); i++) {
                String member = everyone.get(i);
                if (!member.equals(sender)) {
                    (here[i] || remote.contains(member) ? online : offline).add(member);
                }
            }
            notifyChannels(message, preview, offline, online);
        });
    }

    /**
     * A relayed message (seq 0) to exactly {@code devices}: their sessions on this node and, with a link, on the
     * others — routed to the devices' users with the {@value #DEVICES_EXT} device filter in its ext, which the
     * receiving node applies and removes ({@link #deliverLocal}). Never stored, held or notified.
     */
    void relayToDevices(Message message, Collection<DeviceAddress> devices) {
        Map<String, Set<String>> byUser = new LinkedHashMap<>();
        for (DeviceAddress d : devices) {
            byUser.computeIfAbsent(d.user(), u -> new HashSet<>()).add(d.device());
        }
        if (byUser.isEmpty()) {
            return;
        }
        deliverToDevices(message, byUser);
        ClusterLink cluster = link.get();
        if (cluster != null) {
            StringBuilder filter = new StringBuilder();
            for (DeviceAddress d : devices) {
                filter.append(filter.length() == 0 ? "" : ",").append(d.user()).append('/').append(d.device());
            }
            link.route(cluster, message.toBuilder().putExt(DEVICES_EXT, filter.toString()).build(),
                    List.copyOf(byUser.keySet()));
        }
    }

    /** The ext key of a routed relay's device filter: {@code user/device} entries separated by commas. */
    static final String DEVICES_EXT = "parley.relay.devices";

    private void deliverToDevices(Message message, Map<String, Set<String>> byUser) {
        Frame deliver = null;
        for (Map.Entry<String, Set<String>> e : byUser.entrySet()) {
            for (ServerSession target : sessions.sessions(e.getKey())) {
                if (e.getValue().contains(target.deviceId())) {
                    if (deliver == null) {
                        deliver = Frame.newBuilder().setDeliver(Deliver.newBuilder().addMessages(message)).build();
                    }
                    target.deliver(deliver, message.getConversation(), message.getSeq());
                }
            }
        }
    }

    /**
     * A message another node stored (or relayed) for {@code users}: to every session of theirs on this node, held by
     * a resume like any live delivery; not notified (the other node did). A relay with a device filter
     * ({@link #relayToDevices}) goes to the named devices only, without the filter.
     */
    void deliverLocal(Message message, List<String> users) {
        if (message.getSeq() == 0 && message.containsExt(DEVICES_EXT)) {
            Map<String, Set<String>> byUser = new HashMap<>();
            for (String entry : message.getExtOrThrow(DEVICES_EXT).split(",")) {
                int slash = entry.indexOf('/');
                if (slash > 0 && users.contains(entry.substring(0, slash))) {
                    byUser.computeIfAbsent(entry.substring(0, slash), u -> new HashSet<>()).add(entry.substring(slash + 1));
                }
            }
            deliverToDevices(message.toBuilder().removeExt(DEVICES_EXT).build(), byUser);
            return;
        }
        Frame deliver = null;
        for (String user : users) {
            ServerSession[] targets = sessions.sessions(user);
            if (targets.length == 0) {
                continue;
            }
            if (deliver == null) {
                deliver = Frame.newBuilder().setDeliver(Deliver.newBuilder().addMessages(message)).build();
            }
            for (ServerSession target : targets) {
                target.deliver(deliver, message.getConversation(), message.getSeq());
            }
        }
    }

    /** Builds each scope's notification at most once and hands it to every channel of that scope. */
    private void notifyChannels(Message message, String preview, List<String> offline, List<String> online) {
        Notification offlineScope = null;
        Notification allScope = null;
        for (DispatchChannel channel : channels) {
            if (channel.allRecipients) {
                if (allScope == null) {
                    List<String> everyone = new ArrayList<>(offline.size() + online.size());
                    everyone.addAll(offline);
                    everyone.addAll(online);
                    allScope = new Notification(message, preview, everyone, new HashSet<>(online));
                }
                channel.submit(allScope);
            } else if (!offline.isEmpty()) {
                if (offlineScope == null) {
                    offlineScope = new Notification(message, preview, offline, Set.of());
                }
                channel.submit(offlineScope);
            }
        }
    }

    /**
     * Sends {@code frame} as it is to every session of {@code users} except {@code origin} (null: to all of them),
     * on this node and, with a link, on the others; never held by a resume, never notified.
     */
    void relay(ServerSession origin, Frame frame, List<String> users) {
        relayLocal(origin, frame, users);
        ClusterLink cluster = link.get();
        if (cluster != null) {
            link.relay(cluster, frame, List.copyOf(users));
        }
    }

    /** {@link #relay} to the sessions on this node only. */
    void relayLocal(ServerSession origin, Frame frame, List<String> users) {
        for (String user : users) {
            for (ServerSession target : sessions.sessions(user)) {
                if (target != origin) {
                    target.send(frame);
                }
            }
        }
    }
}
