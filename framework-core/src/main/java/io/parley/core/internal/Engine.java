package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Pong;
import io.parley.core.spi.auth.Authenticator;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.transport.CommandTypeInfo;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.MessageTypeInfo;
import io.parley.core.spi.transport.Receiver;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The core as transports see it ({@link Receiver}): opens sessions and routes each of their frames to the part of
 * the engine that owns its verb — {@link Sessions} (hello), {@link SendPipeline}, {@link Sync}, {@link GroupOps},
 * {@link ReadState}, {@link ConversationLists}, {@link Commands}. Also binds what DS hands the core (store,
 * authenticator, notification channels, the cluster link; {@link EngineComponent} is the OSGi boundary), offers this
 * node to the link ({@link ClusterNode}), says what keeps the core from working ({@link #problems}) and stops it. Plain Java, wired by {@link EngineModule}; none of its parts refers back
 * to it.
 *
 * <p>Threading: frames are handled on {@code workers}, one at a time per session (see {@link ServerSession}).
 * Acks and online deliveries are sent from the store's completion, which the store contract orders by seq per
 * conversation; {@link Connection#send} never blocks.
 */
@Singleton
final class Engine implements Receiver, ServerSession.Handler {
    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private final EngineConfig config;
    private final ExecutorService workers;
    private final ScheduledExecutorService timer;
    private final CurrentStore store;
    private final GroupService groups;
    private final ReadCounter readCounts;
    private final Whiteboard<MessageProcessor> processors;
    private final Interceptors interceptors;
    private final Delivery delivery;
    private final Sessions sessions;
    private final SendPipeline sends;
    private final Sync sync;
    private final GroupOps groupOps;
    private final ReadState readState;
    private final ConversationLists conversationLists;
    private final Commands commands;
    private final CurrentLink link;
    private final ClusterNode node;
    private final Events events;
    private final SessionListeners sessionListeners;
    private final Limits limits;
    private final LoginPolicy loginPolicy;
    @Inject
    private EngineMetrics metrics = EngineMetrics.NONE;

    @Inject
    Engine(EngineConfig config, @Named("workers") ExecutorService workers, ScheduledExecutorService timer,
           CurrentStore store, GroupService groups, ReadCounter readCounts, Whiteboard<MessageProcessor> processors,
           Interceptors interceptors, Delivery delivery, Sessions sessions, SendPipeline sends, Sync sync,
           GroupOps groupOps, ReadState readState, ConversationLists conversationLists, Commands commands,
           CurrentLink link, ClusterNode node, Events events, SessionListeners sessionListeners, Limits limits,
           LoginPolicy loginPolicy) {
        this.config = config;
        this.workers = workers;
        this.timer = timer;
        this.store = store;
        this.groups = groups;
        this.readCounts = readCounts;
        this.processors = processors;
        this.interceptors = interceptors;
        this.delivery = delivery;
        this.sessions = sessions;
        this.sends = sends;
        this.sync = sync;
        this.groupOps = groupOps;
        this.readState = readState;
        this.conversationLists = conversationLists;
        this.commands = commands;
        this.link = link;
        this.node = node;
        this.events = events;
        this.sessionListeners = sessionListeners;
        this.limits = limits;
        this.loginPolicy = loginPolicy;
    }

    /** Appends and relays of bundles outside commands (the core's {@code ConversationEvents} service). */
    Events events() {
        return events;
    }

    /** The registered session listeners. */
    SessionListeners sessionListeners() {
        return sessionListeners;
    }

    Interceptors interceptors() {
        return interceptors;
    }

    Whiteboard<CommandHandler> commandHandlers() {
        return commands.handlers();
    }

    Whiteboard<MessageProcessor> processors() {
        return processors;
    }

    /** Binds {@code s} (null: none); the group and read-count caches of the previous store are dropped. */
    void store(MessageStore s) {
        store.set(s);
        groups.clear();
        readCounts.clear();
    }

    MessageStore store() {
        return store.get();
    }

    void authenticator(Authenticator a) {
        sessions.authenticator(a);
    }

    Authenticator authenticator() {
        return sessions.authenticator();
    }

    /** Binds a cluster link: from now on sessions, deliveries and relays reach it; the open sessions are announced. */
    void link(ClusterLink l) {
        link.set(l);
        sessions.announceAll(l);
    }

    /** Unbinds {@code l} if it is the bound link: this node is alone from now on. */
    void unlink(ClusterLink l) {
        if (link.get() == l) {
            link.set(null);
        }
    }

    /** @return the bound cluster link, or null */
    ClusterLink link() {
        return link.get();
    }

    /** This node as a cluster link sees it. */
    LocalNode localNode() {
        return node;
    }

    void addChannel(String name, boolean allRecipients, NotificationDispatcher dispatcher, int concurrency) {
        delivery.addChannel(name, allRecipients, dispatcher, concurrency);
    }

    void removeChannel(Object dispatcher) {
        delivery.removeChannel(dispatcher);
    }

    // ---------------------------------------------------------------- Receiver

    @Override
    public InboundSession open(Connection connection) {
        ServerSession session = sessions.open(connection, this);
        long wait = limits.connection(connection.remoteAddress());
        if (wait > 0) {
            session.refuse(ServerSession.error(0, new RateLimited("too many connections from this address", wait)));
        } else {
            metrics.connectionOpened(connection.transport()); // closed() is called for it, a refused one never
        }
        return session;
    }

    /** Kicks {@code user}'s sessions on this node, on {@code device} or (null) on every device; see {@link LoginPolicy#kick}. */
    @Override
    public int kick(String user, String device, String reason) {
        return loginPolicy.kick(user, device, reason);
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, Principal principal) {
        return sessions.openAuthenticated(connection, this, principal);
    }

    @Override
    public List<String> problems() {
        List<String> problems = new ArrayList<>(2);
        MessageStore s = store.get();
        if (s == null) {
            problems.add("no message store is running");
        } else {
            s.writeFailure().ifPresent(why -> problems.add("the message store cannot write: " + why));
        }
        if (sessions.authenticator() == null) {
            problems.add("no authenticator is running");
        }
        return problems;
    }

    @Override
    public List<MessageTypeInfo> messageTypes() {
        List<MessageTypeInfo> out = new ArrayList<>();
        processors.services().forEach((type, processor) -> {
            Optional<com.google.protobuf.Descriptors.Descriptor> body;
            try {
                body = processor.bodyDescriptor();
            } catch (RuntimeException | LinkageError e) { // a misbehaving or old bundle: the type without a schema
                body = Optional.empty();
            }
            out.add(new MessageTypeInfo(type, body == null ? Optional.empty() : body));
        });
        return out;
    }

    @Override
    public List<CommandTypeInfo> commandTypes() {
        List<CommandTypeInfo> out = new ArrayList<>();
        commands.handlers().services().forEach((type, handler) -> {
            Optional<com.google.protobuf.Descriptors.Descriptor> payload;
            Optional<com.google.protobuf.Descriptors.Descriptor> result;
            try {
                payload = handler.payloadDescriptor();
                result = handler.resultDescriptor();
            } catch (RuntimeException | LinkageError e) { // a bundle built against 1.2 or older: packed only
                payload = Optional.empty();
                result = Optional.empty();
            }
            out.add(new CommandTypeInfo(type, payload == null ? Optional.empty() : payload,
                    result == null ? Optional.empty() : result));
        });
        return out;
    }

    @Override
    public int maxFrameBytes() {
        return config.max_frame_bytes();
    }

    // ---------------------------------------------------------------- frames

    /** @return completed when the frame is admitted (see {@link ServerSession}) */
    @Override
    public CompletionStage<Void> handle(ServerSession session, Frame frame) {
        long rid = frame.getRequestId();
        if (!session.isAuthenticated()) {
            if (frame.getOpCase() == Frame.OpCase.HELLO) {
                return sessions.hello(session, rid, frame.getHello());
            } else {
                LOG.info("Closing {}: {} before hello", session, frame.getOpCase());
                session.close(ServerSession.error(rid, ErrorCode.ERROR_CODE_UNAUTHENTICATED,
                        "the first frame must be hello"), null);
            }
            return DONE;
        }
        Frame.OpCase op = frame.getOpCase();
        long wait = limits.frame(session, op == Frame.OpCase.DELIVER_ACK || op == Frame.OpCase.MARK_READ);
        if (wait > 0) { // over the connection's rate: handled when its token is there, the next frames wait with it
            return DelayedAdmission.after(wait, timer, workers, session, rid, () -> dispatch(session, rid, frame), LOG);
        }
        return dispatch(session, rid, frame);
    }

    /**
     * Event loop: a delivery ack whose checks are all in memory ({@link ReadState#deliverAckNow}), or a send that
     * nothing in makes wait ({@link SendPipeline#sendOnLoop}).
     */
    @Override
    public CompletionStage<Void> handleNow(ServerSession session, Frame frame) {
        if (!session.isAuthenticated()) {
            return null;
        }
        return switch (frame.getOpCase()) {
            case DELIVER_ACK -> readState.deliverAckNow(session, frame.getDeliverAck()) ? DONE : null;
            case SEND -> sends.sendOnLoop(session, frame.getRequestId(), frame.getSend());
            default -> null;
        };
    }

    private CompletionStage<Void> dispatch(ServerSession session, long rid, Frame frame) {
        switch (frame.getOpCase()) {
            case SEND:
                return sends.send(session, rid, frame.getSend());
            case DELIVER_ACK:
                readState.deliverAck(session, frame.getDeliverAck());
                return DONE;
            case SYNC:
                sync.sync(session, rid, frame.getSync());
                return DONE;
            case PING:
                session.send(Frame.newBuilder().setRequestId(rid).setPong(Pong.newBuilder()
                        .setClientTime(frame.getPing().getClientTime()).setServerTime(System.currentTimeMillis())).build());
                return DONE;
            case GROUP:
                return groupOps.group(session, rid, frame.getGroup());
            case CONVERSATION_LIST:
                conversationLists.list(session, rid, frame.getConversationList());
                return DONE;
            case MARK_READ:
                readState.markRead(session, frame.getMarkRead());
                return DONE;
            case TYPING:
                readState.typing(session, frame.getTyping());
                return DONE;
            case COMMAND:
                return commands.run(session, rid, frame.getCommand());
            case HELLO:
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "already authenticated");
            case OP_NOT_SET: // no operation, or only one newer than this server's schema
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "the frame carries no operation this server knows");
            default:
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "a client may not send " + frame.getOpCase().name().toLowerCase(Locale.ROOT));
        }
    }

    @Override
    public void closed(ServerSession session) {
        if (!session.isTrusted()) {
            metrics.connectionClosed(session.connection().transport());
        }
        sessions.closed(session);
    }

    @Override
    public void rejected(ErrorCode code) {
        metrics.rejected(code);
    }

    /** The engine's meters; a {@code MeterRegistry} service is bound to them ({@link EngineMetrics#bind}). */
    EngineMetrics metrics() {
        return metrics;
    }

    /** @return completed once a worker ran a no-op; failed if the workers no longer take tasks (see Liveness) */
    CompletableFuture<Void> probe() {
        try {
            return CompletableFuture.runAsync(() -> { }, workers);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Tells every client to reconnect, fails held sends, and stops the engine's threads (bounded wait). */
    void shutdown() {
        metrics.close();
        sessions.stopping();
        processors.close();
        commands.handlers().close();
        sessions.closeAll();
        workers.shutdown();
        timer.shutdownNow();
        try {
            if (!workers.awaitTermination(5, TimeUnit.SECONDS)) {
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            workers.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
