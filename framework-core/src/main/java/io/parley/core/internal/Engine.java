package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ConversationList;
import io.parley.core.proto.ConversationListRequest;
import io.parley.core.proto.ConversationState;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.Typing;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.DeliveryUpdate;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Pong;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;
import io.parley.core.spi.auth.Authenticator;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.spi.transport.MessageTypeInfo;
import io.parley.core.spi.transport.Receiver;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The send pipeline and session handling: hello → authentication → authorization → idempotency check →
 * processor → store (seq) → ack → dispatch. Plain Java; {@link EngineComponent} is its OSGi boundary.
 *
 * <p>Threading: frames are handled on {@code workers}, one at a time per session (see {@link ServerSession}).
 * Acks and online deliveries are sent from the store's completion, which the store contract orders by seq per
 * conversation; {@link Connection#send} never blocks.
 */
@Singleton
final class Engine implements Receiver {
    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    private static final int MAX_CLIENT_MSG_ID = 64;
    private static final int MAX_TYPE_LENGTH = 64;
    /** Prefix of a group operation's idempotency key in the store's (sender, client_msg_id) index. */
    static final String GROUP_KEY_PREFIX = "group:";
    /** Limits of a message's {@code ext} map: entries, characters of a key, characters of all keys and values. */
    static final int MAX_EXT_ENTRIES = 32;
    static final int MAX_EXT_KEY = 64;
    static final int MAX_EXT_CHARS = 4096;
    /** Unread counts are exact up to this many messages after the read cursor (see {@link #unread}). */
    static final int UNREAD_EXACT_MAX = 1000;
    private static final long AVAILABLE_POLL_MILLIS = 20;

    private final EngineConfig config;
    private final ExecutorService workers;
    private final ScheduledExecutorService timer;
    private final Whiteboard<MessageProcessor> processors;
    private final Commands commands;
    private final Interceptors interceptors;
    private final SessionRegistry sessions = new SessionRegistry();
    private final MessageIds ids;
    private final GroupService groups;
    private final ReadCounter readCounts;
    private final AtomicLong sessionCounter = new AtomicLong();
    private final List<DispatchChannel> channels = new CopyOnWriteArrayList<>();
    private volatile MessageStore store;
    private volatile Authenticator authenticator;
    private volatile boolean stopping;

    @Inject
    Engine(EngineConfig config, @Named("workers") ExecutorService workers, ScheduledExecutorService timer) {
        this.config = config;
        this.workers = workers;
        this.timer = timer;
        this.processors = new Whiteboard<>("message type", "processor", ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, timer,
                config.hold_millis(), config.hold_max_sends());
        this.ids = new MessageIds(config.node_id());
        this.interceptors = new Interceptors(timer);
        this.commands = new Commands(this, new Whiteboard<>("command", "handler",
                ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, timer, config.hold_millis(), config.hold_max_sends()), ids);
        this.groups = new GroupService(config.group_max_members(), config.group_cache_members());
        this.readCounts = new ReadCounter(new ReadCountHost(), workers,
                (nanos, task) -> timer.schedule(task, nanos, TimeUnit.NANOSECONDS), System::nanoTime,
                config.read_fanout_max(), TimeUnit.MILLISECONDS.toNanos(config.read_counts_interval_millis()),
                config.read_counts_window(), TimeUnit.SECONDS.toNanos(config.read_counts_idle_seconds()));
        long sweep = Math.max(1, Math.min(60, config.read_counts_idle_seconds()));
        timer.scheduleWithFixedDelay(readCounts::evictIdle, sweep, sweep, TimeUnit.SECONDS);
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

    void store(MessageStore s) {
        this.store = s;
        groups.clear();
        readCounts.clear();
    }

    MessageStore store() {
        return store;
    }

    void authenticator(Authenticator a) {
        this.authenticator = a;
    }

    Authenticator authenticator() {
        return authenticator;
    }

    void addChannel(String name, boolean allRecipients, NotificationDispatcher dispatcher, int concurrency) {
        channels.add(new DispatchChannel(name, allRecipients, dispatcher, concurrency, config.dispatch_queue(), workers));
    }

    void removeChannel(Object dispatcher) {
        channels.removeIf(c -> c.dispatcher() == dispatcher);
    }

    // ---------------------------------------------------------------- Receiver

    @Override
    public InboundSession open(Connection connection) {
        ServerSession session = new ServerSession(this, connection, workers, config.session_max_pending(),
                config.node_id() + "-s" + Long.toString(sessionCounter.incrementAndGet(), 36));
        if (stopping) {
            session.close(null, reconnectNotice("server is stopping"));
        }
        return session;
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, Principal principal) {
        ServerSession session = (ServerSession) open(connection);
        session.authenticated(principal); // not registered: a trusted caller gets responses, not deliveries
        return session;
    }

    @Override
    public List<String> problems() {
        List<String> problems = new ArrayList<>(2);
        MessageStore s = store;
        if (s == null) {
            problems.add("no message store is running");
        } else {
            s.writeFailure().ifPresent(why -> problems.add("the message store cannot write: " + why));
        }
        if (authenticator == null) {
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
    public int maxFrameBytes() {
        return config.max_frame_bytes();
    }

    // ---------------------------------------------------------------- frames

    /** @return completed when the frame is admitted (see {@link ServerSession}) */
    CompletionStage<Void> handle(ServerSession session, Frame frame) {
        long rid = frame.getRequestId();
        if (!session.isAuthenticated()) {
            if (frame.getOpCase() == Frame.OpCase.HELLO) {
                return whenAvailable(() -> authenticator != null && store != null, () -> hello(session, rid, frame.getHello()));
            } else {
                LOG.info("Closing {}: {} before hello", session, frame.getOpCase());
                session.close(ServerSession.error(rid, ErrorCode.ERROR_CODE_UNAUTHENTICATED,
                        "the first frame must be hello"), null);
            }
            return DONE;
        }
        switch (frame.getOpCase()) {
            case SEND:
                return send(session, rid, frame.getSend());
            case DELIVER_ACK:
                deliverAck(session, frame.getDeliverAck());
                return DONE;
            case SYNC:
                sync(session, rid, frame.getSync());
                return DONE;
            case PING:
                session.send(Frame.newBuilder().setRequestId(rid).setPong(Pong.newBuilder()
                        .setClientTime(frame.getPing().getClientTime()).setServerTime(System.currentTimeMillis())).build());
                return DONE;
            case GROUP:
                return group(session, rid, frame.getGroup());
            case CONVERSATION_LIST:
                workers.execute(() -> conversationList(session, rid, frame.getConversationList()));
                return DONE;
            case MARK_READ:
                markRead(session, frame.getMarkRead());
                return DONE;
            case TYPING:
                typing(session, frame.getTyping());
                return DONE;
            case COMMAND:
                return commands.run(session, rid, frame.getCommand());
            case HELLO:
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "already authenticated");
            default:
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "a client may not send " + frame.getOpCase());
        }
    }

    /**
     * Runs {@code action} once {@code available} holds, waiting (without blocking a thread) at most
     * {@code wait.available.millis} — so a hello that arrives while the authenticator or the store is starting or being
     * swapped is answered when it is back instead of being refused; after the wait the action runs anyway and reports
     * what is missing.
     *
     * @return completed when the action has run
     */
    private CompletionStage<Void> whenAvailable(BooleanSupplier available, Runnable action) {
        if (available.getAsBoolean() || stopping) {
            action.run();
            return DONE;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.wait_available_millis());
        Runnable[] poll = new Runnable[1];
        poll[0] = () -> {
            if (available.getAsBoolean() || stopping || System.nanoTime() >= deadline) {
                workers.execute(() -> {
                    try {
                        action.run();
                    } finally {
                        done.complete(null);
                    }
                });
            } else {
                timer.schedule(poll[0], AVAILABLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
            }
        };
        try {
            timer.schedule(poll[0], AVAILABLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) { // stopping
            action.run();
            return DONE;
        }
        return done;
    }

    void reject(ServerSession session, long requestId, ParleyException e) {
        LOG.debug("{}: request {} refused: {}", session, requestId, e);
        session.send(ServerSession.error(requestId, e));
    }

    void internalError(ServerSession session, Frame frame, Throwable e) {
        LOG.error("{}: internal error on {}", session, frame.getOpCase(), e);
        session.send(ServerSession.error(frame.getRequestId(), ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
    }

    void sessionClosed(ServerSession session) {
        if (session.isAuthenticated()) {
            sessions.remove(session);
            LOG.debug("{} closed", session);
        }
    }

    private void hello(ServerSession session, long rid, Hello hello) {
        ParleyException refusal = null;
        Principal principal = null;
        if (hello.getProtocolVersion() != 1) {
            refusal = new ParleyException(ErrorCode.ERROR_CODE_PROTOCOL_VERSION,
                    "protocol version " + hello.getProtocolVersion() + " is not supported; this server speaks 1");
        } else if (!Ids.isValidId(hello.getDeviceId())) {
            refusal = new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "hello needs a valid device_id");
        } else {
            Authenticator auth = authenticator;
            if (auth == null) {
                refusal = new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "no authenticator is running", true);
            } else {
                try {
                    principal = auth.authenticate(hello.getToken(), hello.getDeviceId());
                } catch (ParleyException e) {
                    refusal = e;
                } catch (RuntimeException e) {
                    LOG.error("Authenticator failed", e);
                    refusal = new ParleyException(ErrorCode.ERROR_CODE_INTERNAL, "authentication failed");
                }
            }
        }
        if (refusal != null) {
            LOG.info("Refusing hello from {}: {}", session.connection().remoteAddress(), refusal.toString());
            session.close(ServerSession.error(rid, refusal), null);
            return;
        }
        session.authenticated(principal);
        sessions.add(session);
        if (session.isClosed()) { // closed while authenticating
            sessions.remove(session);
            return;
        }
        LOG.debug("{} authenticated", session);
        scheduleExpiry(session, principal);
        session.send(Frame.newBuilder().setRequestId(rid).setHelloOk(HelloOk.newBuilder()
                .setUserId(principal.userId()).setDeviceId(principal.deviceId()).setSessionId(session.sessionId())
                .setServerTime(System.currentTimeMillis()).setHeartbeatSeconds(config.heartbeat_seconds())
                .setMaxFrameBytes(config.max_frame_bytes())).build());
    }

    /**
     * Ends the session when the token it logged in with expires: a {@code KIND_TOKEN_EXPIRED} notice, then the
     * connection closes, so the client reconnects with a fresh token (the SDK asks its token provider). Without this a
     * session would outlive its credential for as long as the connection lasts.
     */
    private void scheduleExpiry(ServerSession session, Principal principal) {
        long delayMillis = Math.max(0, principal.expiresAt().toEpochMilli() - System.currentTimeMillis());
        try {
            session.expiresWith(timer.schedule(() -> {
                LOG.info("Closing {}: its token expired at {}", session, principal.expiresAt());
                session.close(null, Notice.newBuilder().setKind(Notice.Kind.KIND_TOKEN_EXPIRED)
                        .setText("token expired at " + principal.expiresAt() + "; reconnect with a fresh token")
                        .build());
            }, delayMillis, TimeUnit.MILLISECONDS));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping: every session is being closed anyway
        }
    }

    // ---------------------------------------------------------------- send

    private CompletionStage<Void> send(ServerSession session, long rid, Send send) {
        String sender = session.userId();
        String clientMsgId = send.getClientMsgId();
        if (clientMsgId.isEmpty() || clientMsgId.length() > MAX_CLIENT_MSG_ID) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_msg_id must have 1-64 characters");
        }
        if (clientMsgId.startsWith(GROUP_KEY_PREFIX) || clientMsgId.startsWith(Commands.KEY_PREFIX)) {
            // group operations and commands keep their idempotency keys in the same index, under these prefixes
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_msg_id may not start with \""
                    + GROUP_KEY_PREFIX + "\" or \"" + Commands.KEY_PREFIX + "\" (reserved)");
        }
        if (send.getType().isEmpty() || send.getType().length() > MAX_TYPE_LENGTH) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "type must have 1-64 characters");
        }
        checkExt(send.getExtMap());
        String conversation;
        List<String> members;
        List<String> indexFor;
        switch (send.getToCase()) {
            case PEER -> {
                if (!Ids.isValidId(send.getPeer())) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "invalid peer user id");
                }
                conversation = Ids.direct(sender, send.getPeer());
                members = Ids.directMembers(conversation);
                indexFor = members;
            }
            case CONVERSATION -> {
                conversation = send.getConversation();
                String groupId = Ids.groupIdOf(conversation);
                if (groupId != null) {
                    Group g = groups.require(requireStore(), groupId);
                    GroupService.checkMaySend(g, sender, System.currentTimeMillis());
                    members = groups.members(g);
                    indexFor = List.of(); // group members were listed when they joined
                } else {
                    members = authorize(sender, conversation);
                    indexFor = members;
                }
            }
            default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "send needs a peer or a conversation");
        }
        if (send.getBody().getSerializedSize() > config.max_body_bytes()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                    "body is larger than " + config.max_body_bytes() + " bytes");
        }
        MessageStore s = requireStore();
        Optional<Message> original = s.findByClientId(sender, clientMsgId);
        if (original.isPresent()) {
            session.send(ack(rid, original.get(), true));
            return DONE;
        }
        Message draft = Message.newBuilder()
                .setId(ids.next())
                .setClientMsgId(clientMsgId)
                .setSender(sender)
                .setSenderDevice(session.deviceId())
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType(send.getType())
                .setBody(send.getBody())
                .putAllExt(send.getExtMap())
                .build();
        Context context = new Context(session, conversation, members, Instant.now());
        CompletableFuture<Void> admitted = new CompletableFuture<>();
        processors.lookup(send.getType())
                .thenCompose(p -> p.process(context, draft))
                .whenComplete((result, error) -> {
                    try {
                        if (error != null) {
                            fail(session, rid, error, draft);
                        } else if (result == null) {
                            fail(session, rid, new IllegalStateException("processor returned null"), draft);
                        } else if (result.isRejected()) {
                            reject(session, rid, new ParleyException(result.code(), result.reason()));
                        } else if (result.isRelay()) {
                            Message relayed = restoreCoreFields(result.message(), draft);
                            session.send(ack(rid, relayed, false));
                            dispatch(session, relayed, members, null);
                        } else {
                            Message toStore = restoreCoreFields(result.message(), draft);
                            if (interceptors.isEmpty()) {
                                append(session, rid, toStore, members, indexFor, result.preview());
                            } else {
                                // the next frame waits for the chain too (it is part of admitting this send)
                                intercepted(session, rid, draft, toStore, members, indexFor, result.preview(), admitted);
                                return;
                            }
                        }
                    } catch (RuntimeException e) {
                        fail(session, rid, e, draft);
                    }
                    admitted.complete(null);
                });
        return admitted;
    }

    private void intercepted(ServerSession session, long rid, Message draft, Message toStore, List<String> members,
                             List<String> indexFor, String preview, CompletableFuture<Void> admitted) {
        interceptors.apply(toStore, rewritten -> {
            Message restored = restoreCoreFields(rewritten, draft);
            checkExt(restored.getExtMap());
            return restored;
        }).whenComplete((message, error) -> {
            try {
                if (error != null) {
                    fail(session, rid, error, draft);
                } else {
                    append(session, rid, message, members, indexFor, preview);
                }
            } finally {
                admitted.complete(null);
            }
        });
    }

    private void append(ServerSession origin, long rid, Message message, List<String> members, List<String> indexFor,
                        String preview) {
        MessageStore s = store;
        if (s == null) {
            reject(origin, rid, storeUnavailable());
            return;
        }
        s.append(message, indexFor).whenComplete((appended, error) -> {
            if (error != null) {
                fail(origin, rid, error, message);
                return;
            }
            origin.send(ack(rid, appended.message(), appended.duplicate()));
            if (!appended.duplicate()) {
                dispatch(origin, appended.message(), members, preview);
            }
        });
    }

    /**
     * Online delivery to every session of every member except the sending one, then, unless {@code preview} is null
     * (system events), one notification per channel with the recipients of its scope (never one per recipient).
     * One registry lookup per member serves all of its devices; the frame is built once.
     */
    void dispatch(ServerSession origin, Message message, List<String> members, String preview) {
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

    private static Message restoreCoreFields(Message processed, Message draft) {
        if (processed == draft) {
            return draft;
        }
        return processed.toBuilder()
                .setId(draft.getId()).setClientMsgId(draft.getClientMsgId())
                .setSender(draft.getSender()).setSenderDevice(draft.getSenderDevice())
                .setConversation(draft.getConversation()).setSeq(0)
                .setServerTime(draft.getServerTime()).setType(draft.getType())
                .build();
    }

    private static Frame ack(long rid, Message m, boolean duplicate) {
        return Frame.newBuilder().setRequestId(rid).setSendAck(SendAck.newBuilder()
                .setMessageId(m.getId()).setConversation(m.getConversation()).setSeq(m.getSeq())
                .setServerTime(m.getServerTime()).setDuplicate(duplicate)).build();
    }

    private void fail(ServerSession session, long rid, Throwable error, Message draft) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof ParleyException pe) {
            reject(session, rid, pe);
        } else {
            LOG.error("{}: send of {} message {} failed", session, draft.getType(), draft.getClientMsgId(), cause);
            session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
        }
    }

    // ---------------------------------------------------------------- acks and sync

    /**
     * Raises the device's watermark; in a 1:1 conversation the peer's online devices hear of it (DeliveryUpdate). Every
     * delivered message is acknowledged, so the receipt frame is built only when the peer has a session to send it to.
     */
    private void deliverAck(ServerSession session, DeliverAck ack) {
        String user = session.userId();
        List<String> members = authorize(user, ack.getConversation());
        if (ack.getSeq() <= 0) {
            return;
        }
        requireWithinHead(ack.getConversation(), ack.getSeq());
        requireStore().advanceWatermark(user, session.deviceId(), ack.getConversation(), ack.getSeq());
        if (Ids.groupIdOf(ack.getConversation()) != null) {
            return;
        }
        String peer = members.get(0).equals(user) ? members.get(members.size() - 1) : members.get(0);
        if (peer.equals(user)) {
            return; // a conversation with oneself: the user's other devices got the message itself
        }
        ServerSession[] targets = sessions.sessions(peer);
        if (targets.length > 0) {
            Frame receipt = Frame.newBuilder().setDeliveryUpdate(DeliveryUpdate.newBuilder()
                    .setConversation(ack.getConversation()).setUser(user).setSeq(ack.getSeq())).build();
            for (ServerSession target : targets) {
                target.send(receipt);
            }
        }
    }

    private void sync(ServerSession session, long rid, SyncRequest request) {
        MessageStore s = requireStore();
        switch (request.getKindCase()) {
            case RANGE -> range(session, rid, s, request.getRange());
            case RESUME -> workers.execute(() -> resume(session, rid, s, request.getResume().getPageSize()));
            default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "sync needs resume or range");
        }
    }

    private void range(ServerSession session, long rid, MessageStore s, SyncRequest.Range range) {
        authorize(session.userId(), range.getConversation());
        int limit = pageLimit(range.getLimit());
        // uint64 on the wire: 2^63 and more arrive negative here, and no seq is that large
        long from = range.getFromSeq() < 0 ? Long.MAX_VALUE : Math.max(1, range.getFromSeq());
        long to = range.getToSeq() <= 0 ? Long.MAX_VALUE : range.getToSeq();
        SyncResponse.Builder response = SyncResponse.newBuilder();
        if (from <= to) {
            List<Message> messages = s.range(range.getConversation(), from, to, limit + 1);
            List<Message> page = capBytes(messages.size() > limit ? messages.subList(0, limit) : messages);
            response.setHasMore(messages.size() > page.size());
            response.addAllMessages(page);
        }
        session.send(Frame.newBuilder().setRequestId(rid).setSyncResponse(response).build());
    }

    /**
     * Lists the user's conversations with this device's watermarks, then streams what the device missed one page
     * at a time, each page sent only after the previous one reached the socket, so memory stays bounded whatever
     * the backlog. Runs beside the session's frame queue: the client may send while it catches up.
     */
    private void resume(ServerSession session, long rid, MessageStore s, int requestedPage) {
        if (!session.beginResume()) {
            reject(session, rid, new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "a resume is already running on this connection"));
            return;
        }
        try {
            int page = pageLimit(requestedPage);
            List<MessageStore.ConversationHead> heads = s.conversations(session.userId());
            Map<String, Long> watermarks = s.watermarks(session.userId(), session.deviceId());
            Map<String, Long> targets = new LinkedHashMap<>(); // conversation -> last seq to stream
            Map<String, Long> headOf = new LinkedHashMap<>();
            for (MessageStore.ConversationHead h : heads) {
                headOf.put(h.conversation(), h.head());
                if (h.head() > watermarks.getOrDefault(h.conversation(), 0L)) {
                    targets.put(h.conversation(), h.head());
                }
            }
            // from here on live deliveries of the targets wait for the pages; any that came meanwhile join them
            session.resumeTargets(targets);
            targets.forEach((conversation, last) -> headOf.merge(conversation, last, Math::max));
            SyncResponse.Builder states = SyncResponse.newBuilder();
            headOf.forEach((conversation, head) -> states.addConversations(ConversationState.newBuilder()
                    .setConversation(conversation).setWatermark(watermarks.getOrDefault(conversation, 0L))
                    .setHead(head)));
            session.send(Frame.newBuilder().setRequestId(rid).setSyncResponse(states).build());
            streamPages(session, s, new ArrayList<>(targets.keySet()).iterator(), watermarks, targets, null, 0, 0, page)
                    .whenComplete((v, e) -> {
                        if (e == null) {
                            session.send(Frame.newBuilder().setRequestId(rid)
                                    .setSyncResponse(SyncResponse.newBuilder().setDone(true)).build());
                        } else {
                            session.resumeAbandoned();
                            if (!session.isClosed()) {
                                LOG.warn("{}: resume failed", session, e);
                                session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "resume failed"));
                            }
                        }
                    });
        } catch (ParleyException e) {
            session.resumeAbandoned();
            reject(session, rid, e);
        } catch (RuntimeException e) {
            session.resumeAbandoned();
            LOG.error("{}: resume failed", session, e);
            session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "resume failed"));
        }
    }

    /**
     * Streams one page of {@code conversation} from {@code from} to {@code to}, then (once it reached the socket)
     * the next. When a conversation is done up to {@code to}, the session says whether live deliveries brought more
     * meanwhile ({@link ServerSession#resumeReached}): then the stream goes on to that seq, else to the next
     * conversation, and that conversation's live deliveries go out directly from then on.
     */
    private CompletionStage<Void> streamPages(ServerSession session, MessageStore s, Iterator<String> ids,
                                              Map<String, Long> watermarks, Map<String, Long> targets,
                                              String conversation, long from, long to, int page) {
        while (conversation == null || from > to) {
            if (conversation != null) {
                long more = session.resumeReached(conversation, to);
                if (more > to) {
                    to = more;
                    continue;
                }
            }
            if (!ids.hasNext()) {
                return DONE;
            }
            conversation = ids.next();
            from = watermarks.getOrDefault(conversation, 0L) + 1;
            to = targets.get(conversation);
        }
        if (session.isClosed()) {
            return DONE;
        }
        List<Message> messages = capBytes(s.range(conversation, from, to, page));
        if (messages.isEmpty()) {
            return streamPages(session, s, ids, watermarks, targets, conversation, to + 1, to, page);
        }
        long next = messages.get(messages.size() - 1).getSeq() + 1;
        String conv = conversation;
        long end = to;
        return session.sendFlushed(Frame.newBuilder().setDeliver(Deliver.newBuilder().addAllMessages(messages)).build())
                .thenComposeAsync(v -> streamPages(session, s, ids, watermarks, targets, conv, next, end, page), workers);
    }

    // ---------------------------------------------------------------- groups

    /**
     * Runs a group operation in the group's chain: compute the change from the current record, append its event with
     * the new record, then answer and deliver the event to every member, including those who just left. Admitted
     * when done, so a client's next frame sees the change.
     */
    private CompletionStage<Void> group(ServerSession session, long rid, GroupRequest request) {
        MessageStore s = requireStore();
        String actor = session.userId();
        String clientRequestId = request.getClientRequestId().isEmpty() ? ids.next() : request.getClientRequestId();
        if (clientRequestId.length() > MAX_CLIENT_MSG_ID) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_request_id has at most 64 characters");
        }
        String eventKey = GROUP_KEY_PREFIX + clientRequestId;
        if (request.getOpCase() == GroupRequest.OpCase.GET) {
            Group g = groups.require(s, request.getGet().getGroupId());
            GroupService.requireMember(g, actor);
            session.send(Frame.newBuilder().setRequestId(rid).setGroupResponse(GroupResponse.newBuilder().setGroup(g)).build());
            return DONE;
        }
        Optional<Message> repeat = s.findByClientId(actor, eventKey);
        if (repeat.isPresent()) {
            String groupId = Ids.groupIdOf(repeat.get().getConversation());
            if (groupId == null || !repeat.get().getType().equals(GroupService.EVENT_TYPE)) {
                // stored before group keys got their own namespace (sends now refuse the prefix): not a group op
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "client_request_id " + clientRequestId + " was already used for a message");
            }
            session.send(Frame.newBuilder().setRequestId(rid).setGroupResponse(GroupResponse.newBuilder()
                    .setGroup(groups.require(s, groupId)).setEventSeq(repeat.get().getSeq())).build());
            return DONE;
        }
        String groupId = request.getOpCase() == GroupRequest.OpCase.CREATE ? newGroupId() : targetGroup(request);
        Ids.group(groupId); // validates the id
        CompletableFuture<Void> admitted = groups.serialize(groupId, () -> {
            long now = System.currentTimeMillis();
            GroupService.Change change = request.getOpCase() == GroupRequest.OpCase.CREATE
                    ? groups.create(groupId, actor, request.getCreate(), now)
                    : groups.apply(groups.require(s, groupId), actor, request, now);
            Message event = GroupService.eventMessage(ids.next(), eventKey, actor, session.deviceId(), groupId, change.event(), now);
            return s.appendGroupEvent(event, groupId, change.after().toByteArray(), change.joined(), change.left())
                    .thenApply(appended -> {
                        Group current = change.after();
                        if (!appended.duplicate()) {
                            groups.updated(current);
                            readCounts.membersChanged(groupId, current, change.joined(), change.left());
                            List<String> audience = new ArrayList<>(GroupService.memberIds(current));
                            audience.addAll(change.left());
                            // every device of every member, the actor's included: group changes are part of
                            // each device's timeline (a device's own sends are not delivered back, events are)
                            dispatch(null, appended.message(), audience, null);
                        } else {
                            current = groups.require(s, groupId);
                        }
                        session.send(Frame.newBuilder().setRequestId(rid).setGroupResponse(GroupResponse.newBuilder()
                                .setGroup(current).setEventSeq(appended.message().getSeq())).build());
                        return (Void) null;
                    }).toCompletableFuture();
        });
        return admitted.handle((v, e) -> {
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (cause instanceof ParleyException pe) {
                    reject(session, rid, pe);
                } else {
                    LOG.error("{}: group operation {} failed", session, request.getOpCase(), cause);
                    session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
                }
            }
            return null;
        });
    }

    private String newGroupId() {
        return ids.next().replace('-', '.');
    }

    private static String targetGroup(GroupRequest r) {
        return switch (r.getOpCase()) {
            case ADD_MEMBERS -> r.getAddMembers().getGroupId();
            case REMOVE_MEMBERS -> r.getRemoveMembers().getGroupId();
            case LEAVE -> r.getLeave().getGroupId();
            case DISSOLVE -> r.getDissolve().getGroupId();
            case SET_ROLE -> r.getSetRole().getGroupId();
            case MUTE -> r.getMute().getGroupId();
            case MUTE_ALL -> r.getMuteAll().getGroupId();
            case TRANSFER -> r.getTransfer().getGroupId();
            default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "group request needs an operation");
        };
    }

    // ---------------------------------------------------------------- conversation list, read cursors, typing

    private void conversationList(ServerSession session, long rid, ConversationListRequest request) {
        try {
            MessageStore s = requireStore();
            String user = session.userId();
            Map<String, Long> read = s.readCursors(user);
            List<ConversationSummary> out = new ArrayList<>();
            for (MessageStore.ConversationHead h : s.conversations(user)) {
                long readSeq = Math.min(read.getOrDefault(h.conversation(), 0L), h.head());
                ConversationSummary.Builder b = ConversationSummary.newBuilder().setConversation(h.conversation())
                        .setHead(h.head()).setReadSeq(readSeq).setUnread(unread(s, h.conversation(), readSeq, h.head(), user));
                if (h.head() > 0) {
                    List<Message> last = s.range(h.conversation(), h.head(), h.head(), 1);
                    if (!last.isEmpty()) {
                        b.setLast(last.get(0));
                    }
                }
                String groupId = Ids.groupIdOf(h.conversation());
                if (groupId != null) {
                    groups.find(s, groupId).ifPresent(g -> b.setTitle(g.getName()));
                } else {
                    String peer = Ids.directMembers(h.conversation()).stream().filter(u -> !u.equals(user))
                            .findFirst().orElse(user);
                    b.setTitle(peer);
                    b.setPeerReadSeq(Math.min(h.head(),
                            s.readCursorsIn(h.conversation(), List.of(peer)).getOrDefault(peer, 0L)));
                }
                out.add(b.build());
            }
            out.sort(Comparator.comparingLong((ConversationSummary c) -> c.getLast().getServerTime()).reversed()
                    .thenComparing(ConversationSummary::getConversation));
            long limit = Integer.toUnsignedLong(request.getLimit());
            if (limit > 0 && out.size() > limit) {
                out = out.subList(0, (int) limit);
            }
            session.send(Frame.newBuilder().setRequestId(rid)
                    .setConversationListResponse(ConversationList.newBuilder().addAllConversations(out)).build());
        } catch (ParleyException e) {
            reject(session, rid, e);
        } catch (RuntimeException e) {
            LOG.error("{}: conversation list failed", session, e);
            session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
        }
    }

    /** @throws ParleyException INVALID_REQUEST if {@code ext} is over the limits above */
    static void checkExt(Map<String, String> ext) {
        if (ext.isEmpty()) {
            return;
        }
        if (ext.size() > MAX_EXT_ENTRIES) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "ext has " + ext.size() + " entries; at most " + MAX_EXT_ENTRIES);
        }
        long chars = 0;
        for (Map.Entry<String, String> e : ext.entrySet()) {
            if (e.getKey().isEmpty() || e.getKey().length() > MAX_EXT_KEY) {
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "ext keys must have 1-" + MAX_EXT_KEY + " characters");
            }
            chars += e.getKey().length() + e.getValue().length();
        }
        if (chars > MAX_EXT_CHARS) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "ext has " + chars + " characters in its keys and values; at most " + MAX_EXT_CHARS);
        }
    }

    /**
     * Messages after the read cursor that others sent: the user's own messages (from any device) are never unread.
     * Counted exactly up to {@link #UNREAD_EXACT_MAX} messages after the cursor; beyond that {@code head - readSeq}.
     */
    private static long unread(MessageStore s, String conversation, long readSeq, long head, String user) {
        long after = head - readSeq;
        if (after <= 0 || after > UNREAD_EXACT_MAX) {
            return Math.max(0, after);
        }
        long unread = 0;
        for (Message m : s.range(conversation, readSeq + 1, head, (int) after)) {
            if (!m.getSender().equals(user)) {
                unread++;
            }
        }
        return unread;
    }

    /**
     * Moves the user's read cursor and tells the user's other sessions and, in conversations with at most
     * {@code read.fanout.max} members, the other members. In bigger groups the other members get coalesced
     * {@code ReadCounts} from {@link ReadCounter} instead.
     */
    private void markRead(ServerSession session, MarkRead read) {
        String user = session.userId();
        String conversation = read.getConversation();
        String groupId = Ids.groupIdOf(conversation);
        Group group = null;
        List<String> members = null;
        int size;
        if (groupId != null) { // no member list is built for a large group: a read mark there is O(1) apart from the check
            group = groups.require(requireStore(), groupId);
            groups.requireMemberOf(group, user);
            size = group.getMembersCount();
        } else {
            members = authorize(user, conversation);
            size = members.size();
        }
        if (read.getSeq() <= 0) {
            return;
        }
        requireWithinHead(conversation, read.getSeq());
        requireStore().advanceReadCursor(user, conversation, read.getSeq());
        Frame update = Frame.newBuilder().setReadUpdate(ReadUpdate.newBuilder().setConversation(conversation)
                .setUser(user).setSeq(read.getSeq())).build();
        if (size <= config.read_fanout_max()) {
            relay(session, update, members != null ? members : GroupService.memberIds(group));
        } else {
            relay(session, update, List.of(user));
            if (group != null) {
                readCounts.markRead(groupId, group, user, read.getSeq());
            }
        }
    }

    /** Relays a typing notice to the other members' sessions; never stored. Dropped above {@code read.fanout.max}. */
    private void typing(ServerSession session, Typing typing) {
        List<String> members = authorize(session.userId(), typing.getConversation());
        if (members.size() > config.read_fanout_max()) {
            return;
        }
        Frame notice = Frame.newBuilder().setTyping(typing.toBuilder().setUser(session.userId())).build();
        List<String> others = new ArrayList<>(members);
        others.remove(session.userId());
        relay(session, notice, others);
    }

    private void relay(ServerSession origin, Frame frame, List<String> users) {
        for (String user : users) {
            for (ServerSession target : sessions.sessions(user)) {
                if (target != origin) {
                    target.send(frame);
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /**
     * @return the longest prefix of {@code messages} whose serialized size stays within {@code page.max.bytes}, and at
     *         least one message: a page must fit a connection's outbound bound, or the device could never catch up
     */
    private List<Message> capBytes(List<Message> messages) {
        long budget = config.page_max_bytes();
        long used = 0;
        for (int i = 0; i < messages.size(); i++) {
            used += messages.get(i).getSerializedSize() + 8;
            if (used > budget && i > 0) {
                return messages.subList(0, i);
            }
        }
        return messages;
    }

    /**
     * @return the members of {@code conversation}
     * @throws ParleyException NOT_FOUND unless {@code user} is one of them (also when it does not exist)
     */
    List<String> authorize(String user, String conversation) {
        String groupId = Ids.groupIdOf(conversation);
        if (groupId != null) {
            Group g = groups.require(requireStore(), groupId);
            groups.requireMemberOf(g, user);
            return groups.members(g);
        }
        List<String> members = Ids.directMembers(conversation);
        if (!members.contains(user)) {
            // one answer for malformed ids and other pairs' conversations, existing or not: nothing leaks
            throw new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such conversation");
        }
        return members;
    }

    /**
     * @param requested a client's page size or limit: a protobuf uint32, so values of 2^31 and more arrive negative
     * @return it, bounded by {@code page.size}; {@code page.size} for 0
     */
    private int pageLimit(int requested) {
        long unsigned = Integer.toUnsignedLong(requested);
        return unsigned == 0 ? config.page_size() : (int) Math.min(unsigned, config.page_size());
    }

    /**
     * @throws ParleyException INVALID_REQUEST if {@code seq} lies beyond the conversation's head: an ack or read mark
     *                         there would let a watermark or cursor pass messages not yet sent, and tell the other
     *                         side of receipts for them
     */
    private void requireWithinHead(String conversation, long seq) {
        long head = requireStore().head(conversation);
        if (seq > head) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "seq " + seq
                    + " is beyond the head of " + conversation + " (" + head + ")");
        }
    }

    MessageStore requireStore() {
        MessageStore s = store;
        if (s == null) {
            throw storeUnavailable();
        }
        return s;
    }

    private static ParleyException storeUnavailable() {
        return new ParleyException(ErrorCode.ERROR_CODE_UNAVAILABLE, "the message store is not available", true);
    }

    private static Notice reconnectNotice(String text) {
        return Notice.newBuilder().setKind(Notice.Kind.KIND_RECONNECT).setText(text).setReconnectAfterMs(1000).build();
    }

    /** Tells every client to reconnect, fails held sends, and stops the engine's threads (bounded wait). */
    void shutdown() {
        stopping = true;
        processors.close();
        commands.handlers().close();
        for (ServerSession s : sessions.all()) {
            s.close(null, reconnectNotice("server is stopping"));
        }
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

    /** The engine as {@link ReadCounter} sees it. */
    private final class ReadCountHost implements ReadCounter.Host {
        @Override
        public Group group(String groupId) {
            MessageStore s = store;
            return s == null ? null : groups.find(s, groupId).orElse(null);
        }

        @Override
        public Map<String, Long> storedCursors(String conversation, Collection<String> users) {
            return requireStore().readCursorsIn(conversation, users);
        }

        @Override
        public long head(String conversation) {
            return requireStore().head(conversation);
        }

        @Override
        public void send(List<String> users, Frame frame) {
            relay(null, frame, users);
        }
    }

    private record Context(ServerSession session, String conversation, List<String> members, Instant receivedAt)
            implements MessageContext {
        @Override
        public String senderUserId() {
            return session.userId();
        }

        @Override
        public String senderDeviceId() {
            return session.deviceId();
        }

        @Override
        public List<String> recipients() {
            List<String> r = new ArrayList<>(members);
            r.remove(session.userId());
            return r;
        }
    }
}
