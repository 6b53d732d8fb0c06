package io.parley.client;

import com.google.protobuf.Any;
import io.parley.core.api.Ids;
import io.parley.core.proto.ConversationList;
import io.parley.core.proto.ConversationState;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Pong;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;
import io.parley.core.proto.Typing;

import io.parley.core.api.Principal;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TlsSettings;
import io.parley.transport.websocket.internal.OriginPolicy;
import io.parley.transport.websocket.internal.WebSocketServer;
import io.parley.transport.websocket.internal.WebSocketSettings;

import javax.net.ssl.SSLContext;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A small protocol-v1 server on a real socket for client tests: one thread per connection, an in-memory
 * conversation store, and the semantics the real server promises (hello, resume sync with watermark list,
 * streamed missed messages and a done response, send with dedupe by client_msg_id and delivery to the other
 * connections of both members, range sync, cumulative delivery acks, ping), and groups: every operation
 * deduplicated by client_request_id, permission-checked, and appended as a "group.event" message (sender = the
 * actor and its device) delivered to every member connection including the actor's; group sends checked for
 * membership and mutes; the conversation list; read cursors with ReadUpdate to the reader's other connections and
 * the other members'; typing relayed to the other members. The token is the user id; tokens starting with "bad"
 * are refused with UNAUTHENTICATED. Tests script deviations with {@link #interceptor}.
 *
 * <p>Transports: TCP on a JDK (TLS) server socket, or ({@link #webSocket}) the real WebSocket transport server of
 * {@code plugins-transport/websocket} in front of the same logic, each connection's frames handled in order on its
 * own thread as with TCP.
 */
final class FakeServer implements AutoCloseable {
    /** Handles a frame instead of the default behaviour when it returns true. Runs on the connection's thread. */
    interface Interceptor {
        boolean handle(Conn conn, Frame frame) throws IOException;
    }

    record Received(Conn conn, Frame frame) {
    }

    private static final class GroupState {
        final String id;
        final String name;
        final long createdAt = System.currentTimeMillis();
        final Map<String, GroupMember> members = new LinkedHashMap<>();
        boolean mutedAll;
        boolean dissolved;

        GroupState(String id, String name) {
            this.id = id;
            this.name = name;
        }

        GroupRole role(String user) {
            GroupMember m = members.get(user);
            return m == null ? GroupRole.GROUP_ROLE_UNSPECIFIED : m.getRole();
        }

        boolean manages(String user) {
            GroupRole r = role(user);
            return r == GroupRole.GROUP_ROLE_OWNER || r == GroupRole.GROUP_ROLE_ADMIN;
        }

        Group toProto() {
            return Group.newBuilder().setId(id).setConversation("g:" + id).setName(name)
                    .addAllMembers(members.values()).setMutedAll(mutedAll).setDissolved(dissolved)
                    .setCreatedAt(createdAt).build();
        }
    }

    private static final class Refusal extends Exception {
        final ErrorCode code;

        Refusal(ErrorCode code, String text) {
            super(text, null, false, false);
            this.code = code;
        }
    }

    /** One client connection: a TCP socket, or a connection of the real WebSocket transport. */
    final class Conn {
        /** Null for WebSocket. */
        final Socket socket;
        private final DataOutputStream out;
        /** Null for TCP. */
        private final Connection transport;
        volatile String user;
        volatile String device;

        Conn(Socket socket) throws IOException {
            this.socket = socket;
            this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            this.transport = null;
        }

        Conn(Connection transport) {
            this.socket = null;
            this.out = null;
            this.transport = transport;
        }

        void send(Frame frame) {
            if (transport != null) {
                transport.send(frame);
                return;
            }
            byte[] bytes = frame.toByteArray();
            synchronized (out) {
                try {
                    out.writeInt(bytes.length);
                    out.write(bytes);
                    out.flush();
                } catch (IOException e) {
                    close();
                }
            }
        }

        /** Drops the connection without a notice (WebSocket: a close frame without an error or notice first). */
        void close() {
            if (transport != null) {
                transport.close(null);
                return;
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** TCP only. */
    private final ServerSocket server;
    private final Thread acceptor;
    /** WebSocket only: the transport server, and one thread per connection running the protocol logic. */
    private final WebSocketServer webSocketServer;
    private final List<ExecutorService> webSocketWorkers = new CopyOnWriteArrayList<>();
    final List<Conn> conns = new CopyOnWriteArrayList<>();
    final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    final AtomicInteger hellos = new AtomicInteger();
    private final Map<String, List<Message>> store = new HashMap<>();
    private final Map<String, Long> watermarks = new HashMap<>();
    private final Map<String, SendAck> acks = new HashMap<>();
    private final Map<String, GroupState> groups = new HashMap<>();
    private final Map<String, GroupResponse> groupResults = new HashMap<>();
    private final Map<String, Long> readCursors = new HashMap<>();
    /** Conversation id to the global order of its latest message (for the most-recent-first list). */
    private final Map<String, Long> recency = new HashMap<>();
    private long appendCounter;
    private int groupCounter;
    volatile Interceptor interceptor;
    volatile boolean ignoreDeliverAcks;
    /** When true, sends and group operations are stored and answered but not delivered to anyone. */
    volatile boolean suppressLiveDeliveries;
    volatile int heartbeatSeconds = 30;
    private volatile boolean closed;

    FakeServer() throws IOException {
        this(null);
    }

    /** A server speaking TLS with {@code tls} (its key and certificate), or plaintext when null. */
    FakeServer(SSLContext tls) throws IOException {
        server = tls == null ? new ServerSocket(0, 50, InetAddress.getLoopbackAddress())
                : tls.getServerSocketFactory().createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "fake-server-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        webSocketServer = null;
    }

    private FakeServer(TlsSettings tls, int maxFrameBytes) throws IOException {
        server = null;
        acceptor = null;
        ServerSettings.Builder settings = ServerSettings.builder()
                .host("127.0.0.1").port(0).ioThreads(1).epoll(EpollMode.OFF)
                .closeTimeout(Duration.ofMillis(500));
        if (tls != null) {
            settings.tls(tls);
        }
        webSocketServer = new WebSocketServer(new WebSocketSettings(settings.build(), WEBSOCKET_PATH,
                OriginPolicy.parse("https://app.example.com"), 8192), new WebSocketReceiver(maxFrameBytes));
        try {
            webSocketServer.start();
        } catch (IOException | RuntimeException e) {
            webSocketServer.stop();
            throw e;
        }
    }

    /** The request path of {@link #webSocket} servers. */
    static final String WEBSOCKET_PATH = "/parley";

    /**
     * This server's protocol behind the real WebSocket transport ({@code plugins-transport/websocket}) on
     * {@code ws://127.0.0.1:port/parley} ({@code wss://} with {@code tls}), accepting messages of up to
     * {@code maxFrameBytes}. Browser origin allowed: {@code https://app.example.com} only.
     */
    static FakeServer webSocket(TlsSettings tls, int maxFrameBytes) throws IOException {
        return new FakeServer(tls, maxFrameBytes);
    }

    int port() {
        return webSocketServer != null ? webSocketServer.localAddress().getPort() : server.getLocalPort();
    }

    /** The core side of the WebSocket transport: feeds each connection's frames to its own worker thread. */
    private final class WebSocketReceiver implements Receiver {
        private final int maxFrameBytes;

        WebSocketReceiver(int maxFrameBytes) {
            this.maxFrameBytes = maxFrameBytes;
        }

        @Override
        public InboundSession open(Connection connection) {
            Conn c = new Conn(connection);
            ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "fake-server-ws-conn");
                t.setDaemon(true);
                return t;
            });
            webSocketWorkers.add(worker);
            conns.add(c);
            return new InboundSession() {
                @Override
                public void onFrame(Frame frame) {
                    worker.execute(() -> {
                        try {
                            process(c, frame);
                        } catch (IOException e) {
                            c.close();
                        }
                    });
                }

                @Override
                public void onClosed() {
                    worker.execute(() -> conns.remove(c));
                    worker.shutdown();
                }

                @Override
                public boolean isAuthenticated() {
                    return c.user != null;
                }
            };
        }

        @Override
        public InboundSession openAuthenticated(Connection connection, Principal principal) {
            throw new UnsupportedOperationException("no trusted sessions here");
        }

        @Override
        public int maxFrameBytes() {
            return maxFrameBytes;
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true);
                Conn c = new Conn(s);
                conns.add(c);
                Thread t = new Thread(() -> readLoop(c), "fake-server-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void readLoop(Conn c) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(c.socket.getInputStream()))) {
            while (true) {
                int len = in.readInt();
                byte[] bytes = new byte[len];
                in.readFully(bytes);
                process(c, Frame.parseFrom(bytes));
            }
        } catch (EOFException e) {
            // client closed
        } catch (IOException e) {
            // socket closed
        } finally {
            conns.remove(c);
            c.close();
        }
    }

    /** Records {@code f}, then lets the interceptor or the default behaviour handle it. */
    private void process(Conn c, Frame f) throws IOException {
        received.add(new Received(c, f));
        Interceptor i = interceptor;
        if (i != null && i.handle(c, f)) {
            return;
        }
        handle(c, f);
    }

    /** The default, protocol-following behaviour. */
    void handle(Conn c, Frame f) {
        long id = f.getRequestId();
        switch (f.getOpCase()) {
            case HELLO -> {
                hellos.incrementAndGet();
                String token = f.getHello().getToken();
                if (token.startsWith("bad")) {
                    c.send(error(id, ErrorCode.ERROR_CODE_UNAUTHENTICATED, "bad token", false, 0));
                    c.close();
                    return;
                }
                c.user = token;
                c.device = f.getHello().getDeviceId();
                c.send(Frame.newBuilder().setRequestId(id).setHelloOk(HelloOk.newBuilder().setUserId(c.user)
                        .setDeviceId(c.device).setSessionId("s" + hellos.get()).setServerTime(System.currentTimeMillis())
                        .setHeartbeatSeconds(heartbeatSeconds).setMaxFrameBytes(1 << 20)).build());
            }
            case SYNC -> {
                if (f.getSync().hasResume()) {
                    resume(c, id);
                } else {
                    range(c, id, f.getSync().getRange());
                }
            }
            case SEND -> send(c, id, f.getSend());
            case DELIVER_ACK -> {
                if (!ignoreDeliverAcks) {
                    synchronized (this) {
                        watermarks.merge(key(c.user, c.device, f.getDeliverAck().getConversation()),
                                f.getDeliverAck().getSeq(), Math::max);
                    }
                }
            }
            case GROUP -> group(c, id, f.getGroup());
            case CONVERSATION_LIST -> c.send(Frame.newBuilder().setRequestId(id).setConversationListResponse(
                    conversationList(c.user, f.getConversationList().getLimit())).build());
            case MARK_READ -> markRead(c, f.getMarkRead().getConversation(), f.getMarkRead().getSeq());
            case TYPING -> typing(c, f.getTyping());
            case PING -> c.send(Frame.newBuilder().setRequestId(id).setPong(Pong.newBuilder()
                    .setClientTime(f.getPing().getClientTime()).setServerTime(System.currentTimeMillis())).build());
            default -> c.send(error(id, ErrorCode.ERROR_CODE_INVALID_REQUEST, "unexpected " + f.getOpCase(), false, 0));
        }
    }

    void resume(Conn c, long id) {
        List<ConversationState> states = new ArrayList<>();
        List<List<Message>> missed = new ArrayList<>();
        synchronized (this) {
            for (Map.Entry<String, List<Message>> e : store.entrySet()) {
                if (!membersLocked(e.getKey()).contains(c.user)) {
                    continue;
                }
                long wm = watermarks.getOrDefault(key(c.user, c.device, e.getKey()), 0L);
                List<Message> msgs = e.getValue();
                states.add(ConversationState.newBuilder().setConversation(e.getKey()).setWatermark(wm)
                        .setHead(msgs.size()).build());
                missed.add(new ArrayList<>(msgs.subList((int) Math.min(wm, msgs.size()), msgs.size())));
            }
        }
        c.send(Frame.newBuilder().setRequestId(id).setSyncResponse(SyncResponse.newBuilder()
                .addAllConversations(states)).build());
        for (List<Message> msgs : missed) {
            for (Message m : msgs) {
                boolean own = m.getSenderDevice().equals(c.device) && m.getSender().equals(c.user);
                if (!own || Groups.isEvent(m)) {   // group events go to every device, the actor's included
                    c.send(deliver(m));
                }
            }
        }
        c.send(Frame.newBuilder().setRequestId(id).setSyncResponse(SyncResponse.newBuilder().setDone(true)).build());
    }

    void range(Conn c, long id, SyncRequest.Range r) {
        List<Message> out = new ArrayList<>();
        boolean more;
        synchronized (this) {
            List<Message> msgs = store.getOrDefault(r.getConversation(), List.of());
            long to = r.getToSeq() == 0 ? msgs.size() : Math.min(r.getToSeq(), msgs.size());
            int limit = r.getLimit() == 0 ? 100 : r.getLimit();
            long seq = Math.max(1, r.getFromSeq());
            for (; seq <= to && out.size() < limit; seq++) {
                out.add(msgs.get((int) seq - 1));
            }
            more = seq <= msgs.size();
        }
        c.send(Frame.newBuilder().setRequestId(id).setSyncResponse(SyncResponse.newBuilder().addAllMessages(out)
                .setHasMore(more)).build());
    }

    void send(Conn c, long id, Send s) {
        if (!"text".equals(s.getType())) {
            c.send(error(id, ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, "no processor for " + s.getType(), false, 0));
            return;
        }
        if (s.hasConversation() && s.getConversation().startsWith("g:")) {
            synchronized (this) {
                GroupState g = groups.get(s.getConversation().substring(2));
                GroupMember m = g == null ? null : g.members.get(c.user);
                String refusal = g == null ? "no such group" : m == null ? "not a member"
                        : g.dissolved ? "dissolved" : m.getMutedUntil() > System.currentTimeMillis() ? "muted"
                        : g.mutedAll && !g.manages(c.user) ? "group muted" : null;
                if (refusal != null) {
                    c.send(error(id, g == null ? ErrorCode.ERROR_CODE_NOT_FOUND : ErrorCode.ERROR_CODE_FORBIDDEN,
                            refusal, false, 0));
                    return;
                }
            }
        }
        c.send(Frame.newBuilder().setRequestId(id).setSendAck(accept(c, s)).build());
    }

    /** Stores a send (deduplicated by client_msg_id) and delivers it to the members' other connections. */
    SendAck accept(Conn c, Send s) {
        String conversation = s.hasConversation() ? s.getConversation() : Ids.direct(c.user, s.getPeer());
        SendAck ack;
        Message stored = null;
        synchronized (this) {
            String dedupeKey = c.user + '/' + s.getClientMsgId();
            SendAck earlier = acks.get(dedupeKey);
            if (earlier != null) {
                ack = earlier.toBuilder().setDuplicate(true).build();
            } else {
                stored = appendLocked(conversation, c.user, c.device, s.getClientMsgId(), s.getType(), s.getBody());
                ack = SendAck.newBuilder().setMessageId(stored.getId()).setConversation(conversation)
                        .setSeq(stored.getSeq()).setServerTime(stored.getServerTime()).build();
                acks.put(dedupeKey, ack);
            }
        }
        if (stored != null && !suppressLiveDeliveries) {
            Set<String> members;
            synchronized (this) {
                members = membersLocked(conversation);
            }
            for (Conn other : conns) {
                if (other != c && other.user != null && members.contains(other.user)) {
                    other.send(deliver(stored));
                }
            }
        }
        return ack;
    }

    /** Stores a message without delivering it; returns it with its seq. */
    synchronized Message append(String conversation, String sender, String text) {
        return appendLocked(conversation, sender, "other-device", "", "text", Bodies.text(text));
    }

    private Message appendLocked(String conversation, String sender, String senderDevice, String clientMsgId,
            String type, Any body) {
        List<Message> msgs = store.computeIfAbsent(conversation, k -> new ArrayList<>());
        Message m = Message.newBuilder().setId("m" + conversation + "/" + (msgs.size() + 1))
                .setClientMsgId(clientMsgId).setSender(sender).setSenderDevice(senderDevice)
                .setConversation(conversation).setSeq(msgs.size() + 1).setServerTime(System.currentTimeMillis())
                .setType(type).setBody(body).build();
        msgs.add(m);
        recency.put(conversation, ++appendCounter);
        return m;
    }

    /** The current members of a direct or group conversation. */
    private Set<String> membersLocked(String conversation) {
        if (conversation.startsWith("g:")) {
            GroupState g = groups.get(conversation.substring(2));
            return g == null ? Set.of() : new LinkedHashSet<>(g.members.keySet());
        }
        return new LinkedHashSet<>(Ids.directMembers(conversation));
    }

    // ------------------------------------------------------------------------------------------------ groups

    void group(Conn c, long id, GroupRequest r) {
        String key = c.user + '/' + r.getClientRequestId();
        Frame reply;
        Message event = null;
        Set<String> recipients = Set.of();
        synchronized (this) {
            GroupResponse earlier = r.getClientRequestId().isEmpty() ? null : groupResults.get(key);
            if (earlier != null) {
                reply = Frame.newBuilder().setRequestId(id).setGroupResponse(earlier).build();
            } else {
                try {
                    Set<String> before = new LinkedHashSet<>();
                    GroupState g = applyLocked(c.user, r, before);
                    GroupEvent e = eventOf(c.user, r, g);
                    if (e != null) {
                        event = appendLocked("g:" + g.id, c.user, c.device, r.getClientRequestId(), "group.event",
                                Any.pack(e));
                        recipients = before;
                        recipients.addAll(g.members.keySet());
                    }
                    GroupResponse resp = GroupResponse.newBuilder().setGroup(g.toProto())
                            .setEventSeq(event == null ? 0 : event.getSeq()).build();
                    if (event != null && !r.getClientRequestId().isEmpty()) {
                        groupResults.put(key, resp);
                    }
                    reply = Frame.newBuilder().setRequestId(id).setGroupResponse(resp).build();
                } catch (Refusal e) {
                    reply = error(id, e.code, e.getMessage(), false, 0);
                }
            }
        }
        c.send(reply);
        if (event != null && !suppressLiveDeliveries) {
            for (Conn other : conns) {
                if (other.user != null && recipients.contains(other.user)) {
                    other.send(deliver(event));
                }
            }
        }
    }

    /** Applies a group operation; {@code before} receives the members before it. */
    private GroupState applyLocked(String actor, GroupRequest r, Set<String> before) throws Refusal {
        if (r.hasCreate()) {
            if (r.getCreate().getName().isEmpty()) {
                throw new Refusal(ErrorCode.ERROR_CODE_INVALID_REQUEST, "a name is required");
            }
            GroupState g = new GroupState("grp" + (++groupCounter), r.getCreate().getName());
            g.members.put(actor, member(actor, GroupRole.GROUP_ROLE_OWNER));
            for (String u : r.getCreate().getMembersList()) {
                checkUser(u);
                g.members.putIfAbsent(u, member(u, GroupRole.GROUP_ROLE_MEMBER));
            }
            groups.put(g.id, g);
            return g;
        }
        String groupId = switch (r.getOpCase()) {
            case ADD_MEMBERS -> r.getAddMembers().getGroupId();
            case REMOVE_MEMBERS -> r.getRemoveMembers().getGroupId();
            case LEAVE -> r.getLeave().getGroupId();
            case DISSOLVE -> r.getDissolve().getGroupId();
            case SET_ROLE -> r.getSetRole().getGroupId();
            case MUTE -> r.getMute().getGroupId();
            case MUTE_ALL -> r.getMuteAll().getGroupId();
            case TRANSFER -> r.getTransfer().getGroupId();
            case GET -> r.getGet().getGroupId();
            default -> throw new Refusal(ErrorCode.ERROR_CODE_INVALID_REQUEST, "no operation");
        };
        GroupState g = groups.get(groupId);
        if (g == null) {
            throw new Refusal(ErrorCode.ERROR_CODE_NOT_FOUND, "no group " + groupId);
        }
        if (!g.members.containsKey(actor)) {
            throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "not a member");
        }
        before.addAll(g.members.keySet());
        if (r.hasGet()) {
            return g;
        }
        if (g.dissolved) {
            throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "dissolved");
        }
        boolean owner = g.role(actor) == GroupRole.GROUP_ROLE_OWNER;
        switch (r.getOpCase()) {
            case ADD_MEMBERS -> {
                requireManager(g, actor);
                for (String u : r.getAddMembers().getUsersList()) {
                    checkUser(u);
                    g.members.putIfAbsent(u, member(u, GroupRole.GROUP_ROLE_MEMBER));
                }
            }
            case REMOVE_MEMBERS -> {
                requireManager(g, actor);
                for (String u : r.getRemoveMembers().getUsersList()) {
                    if (g.role(u) == GroupRole.GROUP_ROLE_OWNER || (!owner && g.manages(u))) {
                        throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "cannot remove " + u);
                    }
                }
                r.getRemoveMembers().getUsersList().forEach(g.members::remove);
            }
            case LEAVE -> {
                if (owner) {
                    throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "the owner must transfer first");
                }
                g.members.remove(actor);
            }
            case DISSOLVE -> {
                requireOwner(owner);
                g.dissolved = true;
            }
            case SET_ROLE -> {
                requireOwner(owner);
                GroupRole role = r.getSetRole().getRole();
                String u = r.getSetRole().getUser();
                if (role != GroupRole.GROUP_ROLE_MEMBER && role != GroupRole.GROUP_ROLE_ADMIN) {
                    throw new Refusal(ErrorCode.ERROR_CODE_INVALID_REQUEST, "role must be MEMBER or ADMIN");
                }
                requireMember(g, u);
                g.members.put(u, g.members.get(u).toBuilder().setRole(role).build());
            }
            case MUTE -> {
                requireManager(g, actor);
                String u = r.getMute().getUser();
                requireMember(g, u);
                if (g.role(u) == GroupRole.GROUP_ROLE_OWNER) {
                    throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "cannot mute the owner");
                }
                g.members.put(u, g.members.get(u).toBuilder().setMutedUntil(r.getMute().getUntil()).build());
            }
            case MUTE_ALL -> {
                requireManager(g, actor);
                g.mutedAll = r.getMuteAll().getMuted();
            }
            case TRANSFER -> {
                requireOwner(owner);
                String u = r.getTransfer().getNewOwner();
                requireMember(g, u);
                g.members.put(u, g.members.get(u).toBuilder().setRole(GroupRole.GROUP_ROLE_OWNER).build());
                g.members.put(actor, g.members.get(actor).toBuilder().setRole(GroupRole.GROUP_ROLE_ADMIN).build());
            }
            default -> throw new Refusal(ErrorCode.ERROR_CODE_INVALID_REQUEST, "no operation");
        }
        return g;
    }

    /** The event an applied operation appends; null for get. */
    private static GroupEvent eventOf(String actor, GroupRequest r, GroupState g) {
        GroupEvent.Builder e = GroupEvent.newBuilder().setActor(actor);
        switch (r.getOpCase()) {
            case CREATE -> e.setKind(GroupEvent.Kind.KIND_CREATED).setName(g.name)
                    .addAllUsers(r.getCreate().getMembersList());
            case ADD_MEMBERS -> e.setKind(GroupEvent.Kind.KIND_MEMBERS_ADDED).addAllUsers(r.getAddMembers().getUsersList());
            case REMOVE_MEMBERS -> e.setKind(GroupEvent.Kind.KIND_MEMBERS_REMOVED)
                    .addAllUsers(r.getRemoveMembers().getUsersList());
            case LEAVE -> e.setKind(GroupEvent.Kind.KIND_MEMBER_LEFT).addUsers(actor);
            case DISSOLVE -> e.setKind(GroupEvent.Kind.KIND_DISSOLVED);
            case SET_ROLE -> e.setKind(GroupEvent.Kind.KIND_ROLE_CHANGED).addUsers(r.getSetRole().getUser())
                    .setRole(r.getSetRole().getRole());
            case MUTE -> e.setKind(GroupEvent.Kind.KIND_MEMBER_MUTED).addUsers(r.getMute().getUser())
                    .setMutedUntil(r.getMute().getUntil());
            case MUTE_ALL -> e.setKind(GroupEvent.Kind.KIND_GROUP_MUTED).setMuted(r.getMuteAll().getMuted());
            case TRANSFER -> e.setKind(GroupEvent.Kind.KIND_OWNER_CHANGED).addUsers(r.getTransfer().getNewOwner());
            default -> {
                return null;
            }
        }
        return e.build();
    }

    private static GroupMember member(String user, GroupRole role) {
        return GroupMember.newBuilder().setUser(user).setRole(role).build();
    }

    private static void checkUser(String user) throws Refusal {
        if (!Ids.isValidId(user)) {
            throw new Refusal(ErrorCode.ERROR_CODE_INVALID_REQUEST, "bad user id " + user);
        }
    }

    private static void requireManager(GroupState g, String actor) throws Refusal {
        if (!g.manages(actor)) {
            throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "owner or admin only");
        }
    }

    private static void requireOwner(boolean owner) throws Refusal {
        if (!owner) {
            throw new Refusal(ErrorCode.ERROR_CODE_FORBIDDEN, "owner only");
        }
    }

    private static void requireMember(GroupState g, String user) throws Refusal {
        if (!g.members.containsKey(user)) {
            throw new Refusal(ErrorCode.ERROR_CODE_NOT_FOUND, user + " is not a member");
        }
    }

    // ------------------------------------------------------------------------------------------------ read, typing

    synchronized ConversationList conversationList(String user, int limit) {
        List<ConversationSummary> out = new ArrayList<>();
        for (Map.Entry<String, List<Message>> e : store.entrySet()) {
            String conv = e.getKey();
            if (!membersLocked(conv).contains(user)) {
                continue;
            }
            List<Message> msgs = e.getValue();
            long read = Math.min(readCursors.getOrDefault(user + '/' + conv, 0L), msgs.size());
            String title = conv.startsWith("g:") ? groups.get(conv.substring(2)).name
                    : Ids.directMembers(conv).stream().filter(u -> !u.equals(user)).findFirst().orElse(user);
            ConversationSummary.Builder b = ConversationSummary.newBuilder().setConversation(conv)
                    .setHead(msgs.size()).setReadSeq(read).setUnread(msgs.size() - read).setTitle(title);
            if (!msgs.isEmpty()) {
                b.setLast(msgs.get(msgs.size() - 1));
            }
            out.add(b.build());
        }
        out.sort(Comparator.comparing((ConversationSummary cs) -> recency.getOrDefault(cs.getConversation(), 0L))
                .reversed());
        if (limit > 0 && out.size() > limit) {
            out = out.subList(0, limit);
        }
        return ConversationList.newBuilder().addAllConversations(out).build();
    }

    void markRead(Conn c, String conversation, long seq) {
        Set<String> members;
        synchronized (this) {
            members = membersLocked(conversation);
            if (!members.contains(c.user) || seq <= readCursors.getOrDefault(c.user + '/' + conversation, 0L)) {
                return;
            }
            readCursors.put(c.user + '/' + conversation, seq);
        }
        Frame update = Frame.newBuilder().setReadUpdate(ReadUpdate.newBuilder().setConversation(conversation)
                .setUser(c.user).setSeq(seq)).build();
        for (Conn other : conns) {
            if (other != c && other.user != null && members.contains(other.user)) {
                other.send(update);
            }
        }
    }

    void typing(Conn c, Typing t) {
        Set<String> members;
        synchronized (this) {
            members = membersLocked(t.getConversation());
        }
        if (!members.contains(c.user)) {
            return;
        }
        Frame relay = Frame.newBuilder().setTyping(t.toBuilder().setUser(c.user)).build();
        for (Conn other : conns) {
            if (other.user != null && !other.user.equals(c.user) && members.contains(other.user)) {
                other.send(relay);
            }
        }
    }

    synchronized long readCursor(String user, String conversation) {
        return readCursors.getOrDefault(user + '/' + conversation, 0L);
    }

    synchronized void setReadCursor(String user, String conversation, long seq) {
        readCursors.put(user + '/' + conversation, seq);
    }

    synchronized Group groupOf(String groupId) {
        GroupState g = groups.get(groupId);
        return g == null ? null : g.toProto();
    }

    synchronized void setWatermark(String user, String device, String conversation, long seq) {
        watermarks.put(key(user, device, conversation), seq);
    }

    synchronized long watermark(String user, String device, String conversation) {
        return watermarks.getOrDefault(key(user, device, conversation), 0L);
    }

    synchronized List<Message> messages(String conversation) {
        return new ArrayList<>(store.getOrDefault(conversation, List.of()));
    }

    synchronized int stored(String conversation) {
        return store.getOrDefault(conversation, List.of()).size();
    }

    /** The connections of {@code user} that completed hello. */
    List<Conn> connsOf(String user) {
        List<Conn> out = new ArrayList<>();
        for (Conn c : conns) {
            if (user.equals(c.user)) {
                out.add(c);
            }
        }
        return out;
    }

    /** Waits for the next received frame matching {@code p}, skipping others; fails after {@code timeout}. */
    Received await(Predicate<Frame> p, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            Received r = received.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (r == null) {
                throw new AssertionError("no matching frame within " + timeout);
            }
            if (p.test(r.frame())) {
                return r;
            }
        }
    }

    static Frame deliver(Message... messages) {
        return Frame.newBuilder().setDeliver(Deliver.newBuilder().addAllMessages(List.of(messages))).build();
    }

    static Frame error(long id, ErrorCode code, String text, boolean retryable, int retryAfterMs) {
        return Frame.newBuilder().setRequestId(id).setError(Error.newBuilder().setCode(code).setMessage(text)
                .setRetryable(retryable).setRetryAfterMs(retryAfterMs)).build();
    }

    static Frame notice(Notice.Kind kind, int reconnectAfterMs) {
        return Frame.newBuilder().setNotice(Notice.newBuilder().setKind(kind).setText("test")
                .setReconnectAfterMs(reconnectAfterMs)).build();
    }

    private static String key(String user, String device, String conversation) {
        return user + '/' + device + '/' + conversation;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        if (webSocketServer != null) {
            // tells connected clients to reconnect, closes, and waits for the transport's threads
            webSocketServer.stop();
            for (ExecutorService worker : webSocketWorkers) {
                worker.shutdownNow();
            }
            return;
        }
        server.close();
        for (Conn c : conns) {
            c.close();
        }
    }
}
