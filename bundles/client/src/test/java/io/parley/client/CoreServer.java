package io.parley.client;

import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;
import io.parley.core.testing.ComponentConfigs;
import io.parley.core.testing.RecordingConnection;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TlsSettings;
import io.parley.transport.tcp.internal.TcpServer;
import io.parley.transport.websocket.internal.OriginPolicy;
import io.parley.transport.websocket.internal.WebSocketServer;
import io.parley.transport.websocket.internal.WebSocketSettings;
import io.parley.type.text.TextComponent;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * The server of the SDK's tests: the real engine ({@link InProcessCore}, the core as its bundle wires it, without
 * OSGi) on the memory store with the real {@code text} type (its bundle's component, default configuration), behind
 * the real TCP transport (plain or TLS) or, with {@link #webSocket}, the real WebSocket transport, on loopback. Every
 * protocol rule is the engine's; nothing here re-implements one. The token is the user id (sessions last an hour);
 * tokens starting with "bad" are refused as {@code UNAUTHENTICATED}.
 *
 * <p>Tests script deviations in a thin layer between the transport and the core. Each connection's inbound frames
 * pass it in order on the connection's own thread (so an {@link #interceptor} may block): every frame is recorded
 * ({@link #received}, {@link #await}) and first offered to the interceptor; a frame it handles never reaches the core.
 * Every frame the core sends passes {@link #suppressLiveDeliveries} and the {@link #outbound} filter on its way to
 * the transport. {@link Conn#send} injects frames through the real transport connection, past the layer.
 *
 * <p>{@link #withFiles} servers also run the real file and image types and the HTTP transport's blob endpoints
 * ({@link CoreFiles}).
 *
 * <p>The state helpers act through the engine as a user would, on a trusted session
 * ({@link Receiver#openAuthenticated}): {@link #append} is a real send from the sender's device
 * {@value #HELPER_DEVICE} (so online members get it live, as from any other device), {@link #setReadCursor} a
 * {@code MarkRead}, {@link #setWatermark} a {@code DeliverAck}. The reading helpers read the memory store.
 */
final class CoreServer implements AutoCloseable {
    /** The request path of {@link #webSocket} servers. */
    static final String WEBSOCKET_PATH = "/parley";
    /** The device {@link #append} and {@link #setReadCursor} act from. */
    static final String HELPER_DEVICE = "other-device";
    private static final Duration TOKEN_LIFETIME = Duration.ofHours(1);

    /**
     * Handles an inbound frame instead of the core when it returns true. Runs on the connection's thread; when it
     * throws, the connection is closed.
     */
    interface Interceptor {
        boolean handle(Conn conn, Frame frame) throws Exception;
    }

    /** Drops a frame the core sends when it returns true. Runs on the core's threads: must not block. */
    interface OutboundFilter {
        boolean drop(Conn conn, Frame frame);
    }

    record Received(Conn conn, Frame frame) {
    }

    /** One client connection of the real transport, and its core session. */
    final class Conn {
        private final Connection transport;
        private final ExecutorService inbound = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "core-server-conn");
            t.setDaemon(true);
            return t;
        });
        private volatile InboundSession session;
        /** Set from the core's HelloOk. */
        volatile String user;
        volatile String device;

        private Conn(Connection transport) {
            this.transport = transport;
        }

        /** Writes {@code frame} to the client through the transport, past the core and the outbound filters. */
        void send(Frame frame) {
            transport.send(frame);
        }

        /** Drops the connection without a notice (WebSocket: a close frame without an error or notice first). */
        void close() {
            transport.close(null);
        }

        /** Hands {@code frame} to the core now, past the interceptor: for frames an interceptor held back. */
        void toCore(Frame frame) {
            session.onFrame(frame);
        }
    }

    private final MemoryMessageStore store = new MemoryMessageStore();
    private final InProcessCore core;
    private final TcpServer tcp;
    private final WebSocketServer webSocketServer;
    /** The file types and the HTTP blob endpoints; null unless {@link #withFiles}. */
    private final CoreFiles files;
    final List<Conn> conns = new CopyOnWriteArrayList<>();
    final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    /** Hellos handed to the core. */
    final AtomicInteger hellos = new AtomicInteger();
    volatile Interceptor interceptor;
    volatile OutboundFilter outbound;
    /** When true, inbound DeliverAcks are recorded but not handed to the core. */
    volatile boolean ignoreDeliverAcks;
    /** When true, every Deliver the core sends is dropped: messages are stored and answered but reach no device. */
    volatile boolean suppressLiveDeliveries;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Plain TCP, the core's default configuration. */
    CoreServer() throws IOException {
        this(false, null, Map.of());
    }

    /** TCP speaking TLS with {@code tls}, or plaintext when null. */
    CoreServer(TlsSettings tls) throws IOException {
        this(false, tls, Map.of());
    }

    /** Plain TCP; {@code coreConfig} overrides {@code parley.core} keys, e.g. {@code heartbeat.seconds}. */
    static CoreServer tcp(Map<String, Object> coreConfig) throws IOException {
        return new CoreServer(false, null, coreConfig);
    }

    /**
     * Plain TCP with the file and image types and the HTTP transport's blob endpoints on loopback ({@link CoreFiles}:
     * blob store, staged uploads and HTTP under {@code dir}). {@code blobConfig} overrides {@code parley.blob} keys
     * (long keys as {@link Long}, int keys as {@link Integer}); {@code public.url} defaults to the blob endpoints'
     * own address ({@link CoreFiles#baseUrl()}).
     */
    static CoreServer withFiles(Path dir, Map<String, Object> blobConfig) throws IOException {
        return new CoreServer(false, null, Map.of(), dir, blobConfig);
    }

    /**
     * The real WebSocket transport on {@code ws://127.0.0.1:port/parley} ({@code wss://} with {@code tls}), the core
     * accepting frames of up to {@code maxFrameBytes}. Browser origin allowed: {@code https://app.example.com} only.
     */
    static CoreServer webSocket(TlsSettings tls, int maxFrameBytes) throws IOException {
        return new CoreServer(true, tls, Map.of("max.frame.bytes", maxFrameBytes));
    }

    private CoreServer(boolean webSocket, TlsSettings tls, Map<String, Object> coreConfig) throws IOException {
        this(webSocket, tls, coreConfig, null, null);
    }

    private CoreServer(boolean webSocket, TlsSettings tls, Map<String, Object> coreConfig, Path filesDir,
                       Map<String, Object> blobConfig) throws IOException {
        core = InProcessCore.start(store, coreConfig).authenticator(CoreServer::authenticate)
                .processor(Bodies.TEXT_TYPE, new TextComponent(ComponentConfigs.of(TextComponent.Config.class, Map.of())));
        try {
            files = filesDir == null ? null : new CoreFiles(core, filesDir, blobConfig);
        } catch (IOException | RuntimeException e) {
            core.close();
            throw e;
        }
        ServerSettings settings = ServerSettings.builder().host("127.0.0.1").port(0).ioThreads(1)
                .epoll(EpollMode.OFF).closeTimeout(Duration.ofMillis(500))
                .tls(tls == null ? TlsSettings.disabled() : tls).build();
        tcp = webSocket ? null : new TcpServer(settings, new Layer());
        webSocketServer = !webSocket ? null : new WebSocketServer(new WebSocketSettings(settings, WEBSOCKET_PATH,
                OriginPolicy.parse("https://app.example.com"), 8192), new Layer());
        try {
            if (tcp != null) {
                tcp.start();
            } else {
                webSocketServer.start();
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private static Principal authenticate(String token, String deviceId) {
        if (token.startsWith("bad")) {
            throw new ParleyException(ErrorCode.ERROR_CODE_UNAUTHENTICATED, "bad token");
        }
        return new Principal(token, deviceId, Instant.now().plus(TOKEN_LIFETIME));
    }

    int port() {
        return (tcp != null ? tcp.localAddress() : webSocketServer.localAddress()).getPort();
    }

    /** The file side of a {@link #withFiles} server. */
    CoreFiles files() {
        if (files == null) {
            throw new IllegalStateException("not a withFiles server");
        }
        return files;
    }

    // ------------------------------------------------------------------------------------------ the layer

    /** What the transport sees as the core: wraps each session so frames pass the layer both ways. */
    private final class Layer implements Receiver {
        @Override
        public InboundSession open(Connection connection) {
            Conn conn = new Conn(connection);
            conns.add(conn);
            conn.session = core.receiver().open(new Outbound(conn));
            return new InboundSession() {
                @Override
                public void onFrame(Frame frame) {
                    try {
                        conn.inbound.execute(() -> inbound(conn, frame));
                    } catch (RejectedExecutionException e) {
                        // closing
                    }
                }

                @Override
                public void onClosed() {
                    try {
                        conn.inbound.execute(() -> {
                            conns.remove(conn);
                            conn.session.onClosed();
                        });
                        conn.inbound.shutdown();
                    } catch (RejectedExecutionException e) {
                        conns.remove(conn);
                        conn.session.onClosed();
                    }
                }

                @Override
                public boolean isAuthenticated() {
                    return conn.session.isAuthenticated();
                }
            };
        }

        @Override
        public InboundSession openAuthenticated(Connection connection, Principal principal) {
            throw new UnsupportedOperationException("transports open client sessions only");
        }

        @Override
        public int maxFrameBytes() {
            return core.receiver().maxFrameBytes();
        }
    }

    private void inbound(Conn conn, Frame frame) {
        received.add(new Received(conn, frame));
        Interceptor i = interceptor;
        try {
            if (i != null && i.handle(conn, frame)) {
                return;
            }
        } catch (Exception e) {
            conn.close();
            throw new IllegalStateException("interceptor failed", e);
        }
        if (frame.hasDeliverAck() && ignoreDeliverAcks) {
            return;
        }
        if (frame.hasHello()) {
            hellos.incrementAndGet();
        }
        conn.session.onFrame(frame);
    }

    /** The connection the core writes to. */
    private final class Outbound implements Connection {
        private final Conn conn;

        Outbound(Conn conn) {
            this.conn = conn;
        }

        private boolean passes(Frame frame) {
            if (frame.hasHelloOk()) {
                conn.user = frame.getHelloOk().getUserId();
                conn.device = frame.getHelloOk().getDeviceId();
            }
            if (frame.hasDeliver() && suppressLiveDeliveries) {
                return false;
            }
            OutboundFilter filter = outbound;
            return filter == null || !filter.drop(conn, frame);
        }

        @Override
        public void send(Frame frame) {
            if (passes(frame)) {
                conn.transport.send(frame);
            }
        }

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            return passes(frame) ? conn.transport.sendFlushed(frame) : CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
            conn.transport.close(notice);
        }

        @Override
        public String transport() {
            return conn.transport.transport();
        }

        @Override
        public String remoteAddress() {
            return conn.transport.remoteAddress();
        }
    }

    // ------------------------------------------------------------------------------------------ state, through the engine

    /** Sends {@code sender}'s text to {@code conversation} from device {@value #HELPER_DEVICE}; returns it as stored. */
    Message append(String conversation, String sender, String text) {
        long seq = request(sender, HELPER_DEVICE, Frame.newBuilder().setSend(Send.newBuilder()
                .setClientMsgId("append-" + UUID.randomUUID()).setConversation(conversation)
                .setType(Bodies.TEXT_TYPE).setBody(Bodies.text(text))).build()).getSendAck().getSeq();
        return request(sender, HELPER_DEVICE, Frame.newBuilder().setSync(SyncRequest.newBuilder().setRange(
                SyncRequest.Range.newBuilder().setConversation(conversation).setFromSeq(seq).setToSeq(seq))).build())
                .getSyncResponse().getMessages(0);
    }

    /** {@code user} marks {@code conversation} read up to {@code seq} (a MarkRead). */
    void setReadCursor(String user, String conversation, long seq) {
        tell(user, HELPER_DEVICE, Frame.newBuilder().setMarkRead(MarkRead.newBuilder().setConversation(conversation)
                .setSeq(seq)).build());
    }

    /** {@code user}'s {@code device} acknowledges {@code conversation} up to {@code seq} (a DeliverAck). */
    void setWatermark(String user, String device, String conversation, long seq) {
        tell(user, device, Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder().setConversation(conversation)
                .setSeq(seq)).build());
    }

    /** @return the core's answer to {@code request}, sent as {@code user} on {@code device}; fails on an error */
    private Frame request(String user, String device, Frame request) {
        return trusted(user, device, request, false);
    }

    /** Sends {@code frame}, which has no answer, and waits until the core handled it; fails on an error. */
    private void tell(String user, String device, Frame frame) {
        trusted(user, device, frame, true);
    }

    private Frame trusted(String user, String device, Frame frame, boolean noAnswer) {
        RecordingConnection connection = new RecordingConnection();
        InboundSession session = core.receiver().openAuthenticated(connection,
                new Principal(user, device, Instant.now().plus(TOKEN_LIFETIME)));
        try {
            session.onFrame(frame.toBuilder().setRequestId(1).build());
            if (noAnswer) {   // frames are handled in order: the pong comes after the frame was
                session.onFrame(Frame.newBuilder().setRequestId(2).setPing(Ping.getDefaultInstance()).build());
            }
            while (true) {
                Frame answer = connection.next();
                if (answer.hasError()) {
                    throw new AssertionError(frame.getOpCase() + " as " + user + " refused: " + answer.getError());
                }
                if (answer.getRequestId() == (noAnswer ? 2 : 1)) {
                    return answer;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } finally {
            session.onClosed();
        }
    }

    // ------------------------------------------------------------------------------------------ reading the store

    /** @return the messages stored in {@code conversation}, in seq order */
    List<Message> messages(String conversation) {
        return store.range(conversation, 1, Long.MAX_VALUE, Integer.MAX_VALUE);
    }

    /** @return how many messages {@code conversation} holds (its head) */
    long stored(String conversation) {
        return store.head(conversation);
    }

    /** @return the stored record of group {@code groupId}, empty if there is none */
    Optional<Group> group(String groupId) {
        return store.groupRecord(groupId).map(bytes -> {
            try {
                return Group.parseFrom(bytes);
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** @return the ids of the groups {@code user} is a member of */
    List<String> groupIds(String user) {
        List<String> ids = new ArrayList<>();
        for (var head : store.conversations(user)) {
            if (head.conversation().startsWith("g:")) {
                ids.add(head.conversation().substring(2));
            }
        }
        return ids;
    }

    // ------------------------------------------------------------------------------------------ observing

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
            Received r = received.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
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

    /** Stops the transport (clients are told to reconnect), then the engine. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (tcp != null) {
            tcp.stop();
        }
        if (webSocketServer != null) {
            webSocketServer.stop();
        }
        if (files != null) {
            files.close();
        }
        core.close();
        for (Conn c : conns) {
            c.inbound.shutdownNow();
        }
    }
}
