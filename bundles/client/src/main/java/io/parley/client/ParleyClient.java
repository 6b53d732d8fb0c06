package io.parley.client;

import com.google.protobuf.Any;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.parley.client.internal.BlobTransfer;
import io.parley.client.internal.DeliveryOrdering;
import io.parley.client.internal.FrameDecoder;
import io.parley.client.internal.FrameEncoder;
import io.parley.client.internal.TransportEvent;
import io.parley.client.internal.WebSocketFraming;
import io.parley.client.internal.WebSocketUpgradeException;
import io.parley.core.proto.Command;
import io.parley.core.proto.CommandResult;
import io.parley.core.proto.ConversationList;
import io.parley.core.proto.ConversationListRequest;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Hello;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Ping;
import io.parley.core.proto.ReadUpdate;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;
import io.parley.core.proto.Typing;
import io.parley.type.file.proto.DownloadRequest;
import io.parley.type.file.proto.UploadRequest;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A connection to a Parley server speaking protocol v1 over TCP, over WebSocket ({@link Builder#webSocket},
 * {@link Builder#url}), either of them with TLS ({@link Builder#tls}), for one user on one device. Everything below
 * holds for both transports.
 *
 * <pre>{@code
 * ParleyClient client = ParleyClient.builder()
 *         .host("chat.example.com").port(7700)   // or .url("ws://chat.example.com:7701/parley")
 *         .deviceId("laptop-1")
 *         .tokenSupplier(() -> appServer.fetchToken())
 *         .messageListener(m -> System.out.println(m.getSender() + ": " + Bodies.textOf(m)))
 *         .build();
 * client.connect().join();                       // HelloOk received and missed messages delivered
 * SendAck ack = client.sendText("bob", "hi").join();
 * client.close();
 * }</pre>
 *
 * <p><b>Delivery.</b> Received messages reach the {@link MessageListener} once each, in seq order per
 * conversation, with no gaps: duplicates (seq at or below the last delivered seq) are dropped, early messages are
 * buffered and, if the missing seqs do not arrive within 100 ms, fetched with a Range sync. The per-conversation
 * position starts at this device's watermark from the resume sync and survives reconnects; this device's own
 * sends advance it through their acks without reaching the listener. Delivered seqs are acknowledged to the
 * server automatically, coalesced per conversation.
 *
 * <p><b>Sending.</b> Every send has a client message id (generated unless given). Sends not yet acknowledged
 * are kept while disconnected and sent again after a reconnect with the same client message id (the server
 * returns the original ack). A send fails with {@link TimeoutException} when no ack arrives within the request
 * timeout of its last transmission or within the send timeout of the call; with {@link ParleyClientException}
 * when the server refuses it (retryable refusals are retried first, a bounded number of times). A failed send may
 * still have been stored: retrying with the same client message id is always safe.
 *
 * <p><b>Groups.</b> Group operations ({@link #createGroup}, {@link #addMembers}, ... or {@link #groupRequest}) carry a
 * client request id (an idempotency key, generated like client message ids) and are kept, retried and timed out
 * exactly like sends; the server applies a repeated id once. A group's conversation is {@code "g:<group id>"}
 * ({@link Groups}); its membership changes arrive as {@value Groups#EVENT_TYPE} messages through the
 * {@link MessageListener} in seq order like any message, including those caused by this device. The event that
 * adds this user to a group starts the device's view of the group: earlier seqs are not fetched.
 *
 * <p><b>Recalls.</b> {@link #recall} takes a message back; every device of every member — this one included, and
 * the offline ones when they resume — gets a {@value Recalls#EVENT_TYPE} message through the {@link MessageListener},
 * and whoever reads the seq later gets a {@value Recalls#TOMBSTONE_TYPE} tombstone in its place. The client keeps no
 * history, so applying them (show "message recalled", drop the content) is the application's:
 * {@link Recalls#of(Message)} reads both.
 *
 * <p><b>Files and images.</b> {@link #sendFile} and {@link #sendImage} ask for an upload ticket, upload the file over
 * HTTP to the server's blob endpoints ({@code PATCH} in chunks of the ticket's size, resumed after a failed chunk or a
 * dropped connection from where the server stands, SHA-256 computed while reading) and send the message naming it;
 * {@link #requestUpload}, {@link #upload} and {@link #send(Send)} with {@link Attachments#fileBody} are the same
 * steps one by one. {@link Attachments#of(Message)} reads a received file or image; {@link #download} fetches its
 * bytes (resumed with {@code Range}, checked against the message's size and SHA-256) into a file. Transfers use
 * {@link java.net.http.HttpClient} on the {@linkplain Builder#transferExecutor transfer executor}; a failed request is
 * retried like a send ({@link Builder#maxSendRetries} times in a row, with the reconnect backoff).
 *
 * <p><b>Voice and video.</b> {@link #sendVoice} and {@link #sendVideo} upload a clip (and a video's poster) the same way
 * and send a message naming them; the server measures the clip. {@link MediaMessages#of(Message)} reads one.
 *
 * <p><b>Read cursors and typing.</b> {@link #markRead} is coalesced per conversation like delivery acks and kept
 * while disconnected; {@link #typing} is sent at once or dropped while disconnected. Other members' (and this
 * user's other devices') read cursors and typing indicators reach the {@link ReadListener} and the
 * {@link TypingListener}.
 *
 * <p><b>TLS.</b> With {@link Builder#tls(boolean) tls(true)} the client speaks TLS 1.3 or 1.2 (the JDK's
 * implementation) and checks the server's certificate: it must chain to the JDK's default trust store, or to the
 * certificate(s) given with {@link Builder#trustCertificate(Path)} (a self-signed development certificate), and
 * name the host connected to (hostname verification, as HTTPS does; for an IP address the certificate needs an IP
 * subject alternative name). A failed handshake ends the attempt with {@link DisconnectReason#CONNECT_FAILED}.
 *
 * <p><b>WebSocket.</b> The client sends the upgrade request (subprotocol {@code parley.v1}, no {@code Origin}) once
 * connected (after TLS), and the {@code Hello} only when the upgrade has succeeded; the upgrade and the hello share
 * the request timeout. A refused upgrade (an HTTP status such as 403 or 404, or no HTTP answer at all) ends the
 * attempt with {@link DisconnectReason#CONNECT_FAILED}. WebSocket pings are answered, close frames echoed, and
 * closing the connection sends close 1000. Heartbeats are Parley {@code Ping} frames, as on TCP.
 *
 * <p><b>Connection.</b> After the first successful {@link #connect()}, lost connections are re-established with
 * exponential backoff and jitter, except after {@code KICKED} or a refused token (a fresh token is fetched once
 * first). Heartbeats run at the server's {@code heartbeat_seconds}; two intervals without any frame count as a
 * dead connection.
 *
 * <p><b>Threading.</b> All methods are thread-safe. Each client is pinned to one event loop thread of its
 * {@link ClientResources}; listeners are called and returned futures are completed on that thread, never
 * concurrently for one client, so listeners and dependent stages must not block. The exceptions are
 * {@link #upload} and {@link #download}: they run, call their {@link ProgressListener} and complete on a thread of the
 * {@linkplain Builder#transferExecutor transfer executor}, never on the event loop.
 */
public final class ParleyClient implements AutoCloseable {
    /** The protocol version this client speaks. */
    public static final int PROTOCOL_VERSION = 1;
    /** The {@code Hello.client} value unless the builder sets another. */
    public static final String DEFAULT_CLIENT_NAME = "parley-java/0.1.0";
    /** The WebSocket request path when a {@code ws://} or {@code wss://} URI names none (the server's default). */
    public static final String DEFAULT_WEBSOCKET_PATH = "/parley";

    private static final System.Logger LOG = System.getLogger(ParleyClient.class.getName());
    private static final int RANGE_LIMIT = 500;
    private static final long GAP_RETRY_MILLIS = 1000;
    /**
     * How long an out-of-order delivery waits before its gap is fetched: the missing seqs are most often this
     * device's own sends whose acks are still on the way.
     */
    private static final long GAP_GRACE_MILLIS = 100;
    private static final AtomicLong INSTANCE_COUNTER = new AtomicLong();

    private enum State { IDLE, CONNECTING, HELLO, READY, WAITING, CLOSED }

    /**
     * A request with an idempotency key (a send or a group operation), kept until answered or failed and
     * transmitted again after a reconnect. Event loop only.
     */
    private abstract static class Outgoing {
        long requestId;
        int errorRetries;
        ScheduledFuture<?> requestTimer;
        ScheduledFuture<?> retryTimer;
        ScheduledFuture<?> deadlineTimer;

        /** Sets the request on {@code frame}. */
        abstract void setOp(Frame.Builder frame);

        /** Names the request and its answer in timeout messages. */
        abstract String describe();

        abstract void fail(Throwable cause);
    }

    private static final class OutgoingSend extends Outgoing {
        final Send send;
        final CompletableFuture<SendAck> future;

        OutgoingSend(Send send, CompletableFuture<SendAck> future) {
            this.send = send;
            this.future = future;
        }

        @Override
        void setOp(Frame.Builder frame) {
            frame.setSend(send);
        }

        @Override
        String describe() {
            return "SendAck for " + send.getClientMsgId();
        }

        @Override
        void fail(Throwable cause) {
            future.completeExceptionally(cause);
        }
    }

    private static final class OutgoingGroup extends Outgoing {
        final GroupRequest request;
        final CompletableFuture<GroupResponse> future;

        OutgoingGroup(GroupRequest request, CompletableFuture<GroupResponse> future) {
            this.request = request;
            this.future = future;
        }

        @Override
        void setOp(Frame.Builder frame) {
            frame.setGroup(request);
        }

        @Override
        String describe() {
            return "GroupResponse for " + request.getOpCase() + ' ' + request.getClientRequestId();
        }

        @Override
        void fail(Throwable cause) {
            future.completeExceptionally(cause);
        }
    }

    /**
     * A request in flight that one response frame of {@code answer}'s kind completes (a conversation list, a command),
     * or an error, a timeout or the connection's end fails.
     */
    private static final class Call<T> {
        final Frame.OpCase answer;
        final CompletableFuture<T> future;
        ScheduledFuture<?> timer;

        Call(Frame.OpCase answer, CompletableFuture<T> future) {
            this.answer = answer;
            this.future = future;
        }
    }

    /** A range sync in flight: for a gap ({@code gap != null}) or for the application ({@code future}). */
    private static final class RangeCall {
        final DeliveryOrdering.Gap gap;
        final CompletableFuture<SyncResponse> future;
        ScheduledFuture<?> timer;

        RangeCall(DeliveryOrdering.Gap gap, CompletableFuture<SyncResponse> future) {
            this.gap = gap;
            this.future = future;
        }
    }

    // configuration (immutable)
    private final String host;
    private final int port;
    /** The WebSocket URI ({@code ws://} or {@code wss://}); null for TCP. */
    private final URI webSocketUri;
    /** Where this client connects, for messages: {@code host:port} (TCP) or the WebSocket URI. */
    private final String endpoint;
    private final String deviceId;
    private final String clientName;
    private final TokenProvider tokens;
    private final long requestTimeoutNanos;
    private final long sendTimeoutNanos;
    private final int maxSendRetries;
    private final long backoffInitialMillis;
    private final long backoffMaxMillis;
    private final long ackDelayNanos;
    private final int resumePageSize;
    private final int defaultHeartbeatSeconds;
    private final List<MessageListener> messageListeners;
    private final List<ConnectionListener> connectionListeners;
    private final List<ReadListener> readListeners;
    private final List<TypingListener> typingListeners;
    /** Call signalling (docs/protocol.md §6i); its listeners get call events and signals from {@link #deliver}. */
    private final Calls calls = new Calls(this);
    private final ClientResources resources;
    private final boolean ownsResources;
    private final EventLoop loop;
    private final Bootstrap bootstrap;
    /** Null without TLS. */
    private final SslContext sslContext;
    private final String clientMsgIdPrefix;
    private final AtomicLong clientMsgIdCounter = new AtomicLong();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    // state confined to the event loop
    private State state = State.IDLE;
    private Channel channel;
    /** The token for the hello of the current attempt until it is sent (WebSocket: after the upgrade). */
    private String helloToken;
    private long attemptEpoch;
    private long nextRequestId = 1;
    private long helloRequestId;
    private long resumeRequestId;
    private boolean resumeListed;
    private boolean resumeDone;
    private boolean everConnected;
    private int reconnectAttempt;
    private boolean refreshToken;
    private boolean authRetried;
    private DisconnectReason pendingReason;
    private Boolean pendingRetry;
    private long pendingDelayMillis = -1;
    private ParleyClientException pendingError;
    private ParleyClientException terminalError;
    private long lastReadNanos;
    private long heartbeatNanos;
    private int maxOutboundFrameBytes;
    private ScheduledFuture<?> handshakeTimer;
    private ScheduledFuture<?> heartbeatTimer;
    private ScheduledFuture<?> reconnectTimer;
    /** Writes due delivery acks and read marks; null when none is scheduled. */
    private ScheduledFuture<?> ackTimer;
    private ScheduledFuture<?> gapTimer;
    private final LinkedHashSet<Outgoing> unacked = new LinkedHashSet<>();
    private final Map<Long, Object> inFlight = new HashMap<>();
    private final Map<String, Long> ackDue = new LinkedHashMap<>();
    /** Read marks not yet written, per conversation. */
    private final Map<String, Long> readDue = new LinkedHashMap<>();
    /** The highest read mark written (or reported by the server for this user) on the current connection. */
    private final Map<String, Long> readSent = new HashMap<>();
    private final List<CompletableFuture<Void>> readyWaiters = new ArrayList<>();
    private final DeliveryOrdering ordering;

    /** Runs uploads and downloads. */
    private final Executor transferExecutor;
    /** The HTTP client the builder gave, else null. */
    private final HttpClient givenHttp;
    /** Trusts {@link Builder#trustCertificate} for transfers; null without one. */
    private final SSLContext transferSsl;
    private final BlobTransfer.Settings transferSettings;
    /** Made on the first transfer when {@link #transferSsl} is set; guarded by {@code this}. */
    private HttpClient ownHttp;
    /** Set by {@link #closeAsync()}: transfers and their retries end at their next step. */
    private volatile boolean closing;

    // read from any thread
    private volatile HelloOk session;
    private volatile boolean connected;

    private ParleyClient(Builder b) {
        this.host = b.host;
        this.port = b.port;
        this.webSocketUri = b.webSocketPath == null ? null : webSocketUri(b.tls, b.host, b.port, b.webSocketPath);
        this.endpoint = webSocketUri != null ? webSocketUri.toString()
                : (host.indexOf(':') >= 0 ? '[' + host + ']' : host) + ':' + port;
        this.deviceId = b.deviceId;
        this.clientName = b.clientName;
        this.tokens = b.tokens;
        this.requestTimeoutNanos = b.requestTimeout.toNanos();
        this.sendTimeoutNanos = b.sendTimeout.toNanos();
        this.maxSendRetries = b.maxSendRetries;
        this.backoffInitialMillis = Math.max(1, b.backoffInitial.toMillis());
        this.backoffMaxMillis = Math.max(backoffInitialMillis, b.backoffMax.toMillis());
        this.ackDelayNanos = b.ackDelay.toNanos();
        this.resumePageSize = b.resumePageSize;
        this.defaultHeartbeatSeconds = b.defaultHeartbeatSeconds;
        this.messageListeners = List.copyOf(b.messageListeners);
        this.connectionListeners = List.copyOf(b.connectionListeners);
        this.readListeners = List.copyOf(b.readListeners);
        this.typingListeners = List.copyOf(b.typingListeners);
        this.ownsResources = b.resources == null;
        this.resources = ownsResources ? ClientResources.nio(1) : b.resources;
        this.loop = resources.group().next();
        this.ordering = new DeliveryOrdering(b.maxBufferedPerConversation, RANGE_LIMIT);
        this.clientMsgIdPrefix = Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36)
                + Long.toString(INSTANCE_COUNTER.incrementAndGet(), 36) + '-';
        ChannelHandler handler = new InboundHandler();
        int maxInbound = b.maxInboundFrameBytes;
        this.sslContext = b.tls ? clientSslContext(b.trustCertificate) : null;
        this.transferExecutor = b.transferExecutor != null ? b.transferExecutor : TransferDefaults.EXECUTOR;
        this.givenHttp = b.httpClient;
        this.transferSsl = b.httpClient == null && b.tls && b.trustCertificate != null
                ? trusting(b.trustCertificate) : null;
        this.transferSettings = new BlobTransfer.Settings(b.transferTimeout, b.maxSendRetries,
                backoffInitialMillis, backoffMaxMillis);
        long tlsHandshakeMillis = TimeUnit.NANOSECONDS.toMillis(requestTimeoutNanos);
        this.bootstrap = new Bootstrap()
                .group(loop)
                .channel(resources.channelType())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
                        TimeUnit.NANOSECONDS.toMillis(requestTimeoutNanos)))
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (sslContext != null) {
                            // host and port: SNI and hostname verification
                            SslHandler ssl = sslContext.newHandler(ch.alloc(), host, port);
                            ssl.setHandshakeTimeoutMillis(tlsHandshakeMillis);
                            ch.pipeline().addLast(ssl);
                        }
                        // at the head (after TLS): flushes of a burst of frames become one write, on either framing
                        ch.pipeline().addLast(new FlushConsolidationHandler(64, true));
                        if (webSocketUri == null) {
                            ch.pipeline().addLast(new FrameDecoder(maxInbound), FrameEncoder.INSTANCE);
                        } else {
                            WebSocketFraming.addTo(ch.pipeline(), webSocketUri, maxInbound, tlsHandshakeMillis);
                        }
                        ch.pipeline().addLast(handler);
                    }
                });
    }

    private static URI webSocketUri(boolean tls, String host, int port, String path) {
        try {
            return new URI(tls ? "wss" : "ws", null, host, port, path, null, null);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("invalid WebSocket address: " + e.getMessage(), e);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    private static SslContext clientSslContext(Path trustCertificate) {
        SslContextBuilder ssl = SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3", "TLSv1.2")
                .endpointIdentificationAlgorithm("HTTPS");
        if (trustCertificate != null) {
            if (!Files.isReadable(trustCertificate)) {
                throw new IllegalArgumentException("trustCertificate: cannot read " + trustCertificate);
            }
            ssl.trustManager(trustCertificate.toFile());
        }
        try {
            return ssl.build();
        } catch (SSLException | RuntimeException e) {
            throw new IllegalArgumentException("cannot set up TLS" + (trustCertificate == null ? ""
                    : " trusting " + trustCertificate + " (PEM certificates expected)") + ": " + e.getMessage(), e);
        }
    }

    /** @return a TLS context trusting the PEM certificate(s) in {@code pemFile} and nothing else */
    private static SSLContext trusting(Path pemFile) {
        try (InputStream in = Files.newInputStream(pemFile)) {
            KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
            trusted.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trusted.setCertificateEntry("trusted-" + i++, c);
            }
            if (i == 0) {
                throw new IllegalArgumentException("trustCertificate: no certificate in " + pemFile);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trusted);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot set up TLS trusting " + pemFile + " (PEM certificates "
                    + "expected): " + e.getMessage(), e);
        }
    }

    /** The transfer executor and HTTP client of clients the builder gave none. */
    private static final class TransferDefaults {
        static final Executor EXECUTOR;
        static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).build();

        static {
            AtomicInteger n = new AtomicInteger();
            EXECUTOR = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "parley-client-transfer-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }

        private TransferDefaults() {
        }
    }

    // ------------------------------------------------------------------------------------------------ public API

    /**
     * Connects, authenticates and runs the resume sync. Calling it while connected, or again while a connection
     * is being established, returns a future for the same outcome.
     *
     * @return completes once the server accepted the {@code Hello} and the resume sync is done (every missed
     *     message has been handed to the listener); fails with {@link ParleyClientException} if the server refused
     *     the token (after one refresh) or the protocol, or with the I/O error if the first connection attempt
     *     fails (no automatic retries before the first success). Once a connection has succeeded, a later call
     *     waits through reconnects.
     */
    public CompletableFuture<Void> connect() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        execute(() -> {
            if (state == State.CLOSED) {
                f.completeExceptionally(closedException());
                return;
            }
            if (state == State.READY && resumeDone) {
                f.complete(null);
                return;
            }
            readyWaiters.add(f);
            if (state == State.IDLE) {
                terminalError = null;
                authRetried = false;
                startAttempt();
            }
        }, f);
        return f;
    }

    /** Sends a message of {@code type} to the 1:1 conversation with user {@code peer}. See {@link #send(Send)}. */
    public CompletableFuture<SendAck> send(String peer, String type, Any body) {
        return send(Send.newBuilder().setPeer(peer).setType(type).setBody(body).build());
    }

    /** Sends a text message to user {@code peer}. See {@link #send(Send)}. */
    public CompletableFuture<SendAck> sendText(String peer, String text) {
        return send(peer, Bodies.TEXT_TYPE, Bodies.text(text));
    }

    /** Sends a message of {@code type} to an existing conversation. See {@link #send(Send)}. */
    public CompletableFuture<SendAck> sendToConversation(String conversation, String type, Any body) {
        return send(Send.newBuilder().setConversation(conversation).setType(type).setBody(body).build());
    }

    /**
     * Sends a message, with full control over its fields.
     *
     * @param send the message; it must name a peer or a conversation, and a type. An empty
     *     {@code client_msg_id} is replaced by a {@linkplain #newClientMsgId() generated} one; pass the same id again
     *     to retry a send safely.
     * @return completes with the server's ack (possibly {@code duplicate}); fails as described in the class
     *     documentation. Sends issued before {@link #connect()} wait for the connection (within the send timeout).
     * @throws IllegalArgumentException if the recipient or the type is missing
     */
    public CompletableFuture<SendAck> send(Send send) {
        Objects.requireNonNull(send, "send");
        if (send.getToCase() == Send.ToCase.TO_NOT_SET) {
            throw new IllegalArgumentException("a send needs a peer or a conversation");
        }
        if (send.getType().isEmpty()) {
            throw new IllegalArgumentException("a send needs a type");
        }
        Send s = send.getClientMsgId().isEmpty() ? send.toBuilder().setClientMsgId(newClientMsgId()).build() : send;
        CompletableFuture<SendAck> f = new CompletableFuture<>();
        submit(new OutgoingSend(s, f), f);
        return f;
    }

    /** Sends a message of {@code type} to group {@code groupId}. See {@link #send(Send)}. */
    public CompletableFuture<SendAck> sendToGroup(String groupId, String type, Any body) {
        return sendToConversation(Groups.conversationOf(groupId), type, body);
    }

    /** Sends a text message to group {@code groupId}. See {@link #send(Send)}. */
    public CompletableFuture<SendAck> sendTextToGroup(String groupId, String text) {
        return sendToGroup(groupId, Bodies.TEXT_TYPE, Bodies.text(text));
    }

    /**
     * Performs a group operation, with full control over its fields.
     *
     * @param request the operation; an empty {@code client_request_id} is replaced by a
     *     {@linkplain #newClientMsgId() generated} one. The request is kept and sent again after a reconnect with
     *     the same id until answered; pass the same id again to retry it safely after a failure.
     * @return completes with the server's response (the group after the change, and the seq of the
     *     {@value Groups#EVENT_TYPE} message it appended); fails like a {@linkplain #send(Send) send}: with
     *     {@link ParleyClientException} when refused ({@code FORBIDDEN}, {@code NOT_FOUND}, {@code INVALID_REQUEST},
     *     ...; retryable refusals are retried first), with {@link TimeoutException} after the request or send
     *     timeout. Operations issued before {@link #connect()} wait for the connection.
     * @throws IllegalArgumentException if the request names no operation
     */
    public CompletableFuture<GroupResponse> groupRequest(GroupRequest request) {
        Objects.requireNonNull(request, "request");
        if (request.getOpCase() == GroupRequest.OpCase.OP_NOT_SET) {
            throw new IllegalArgumentException("a group request needs an operation");
        }
        GroupRequest r = request.getClientRequestId().isEmpty()
                ? request.toBuilder().setClientRequestId(newClientMsgId()).build() : request;
        CompletableFuture<GroupResponse> f = new CompletableFuture<>();
        submit(new OutgoingGroup(r, f), f);
        return f;
    }

    /**
     * Creates a group owned by this user. See {@link #groupRequest}.
     *
     * @param members the other initial members (this user is added as the owner)
     * @return the new group; its conversation is {@code group.getConversation()}
     */
    public CompletableFuture<Group> createGroup(String name, Collection<String> members) {
        Objects.requireNonNull(name, "name");
        return group(GroupRequest.newBuilder().setCreate(GroupRequest.Create.newBuilder().setName(name)
                .addAllMembers(List.copyOf(members))));
    }

    /** Adds members (owner or admin only). See {@link #groupRequest}. */
    public CompletableFuture<Group> addMembers(String groupId, Collection<String> users) {
        return group(GroupRequest.newBuilder().setAddMembers(GroupRequest.Members.newBuilder()
                .setGroupId(requireGroupId(groupId)).addAllUsers(List.copyOf(users))));
    }

    /** Removes members (owner or admin only). See {@link #groupRequest}. */
    public CompletableFuture<Group> removeMembers(String groupId, Collection<String> users) {
        return group(GroupRequest.newBuilder().setRemoveMembers(GroupRequest.Members.newBuilder()
                .setGroupId(requireGroupId(groupId)).addAllUsers(List.copyOf(users))));
    }

    /** Leaves a group (the owner must transfer ownership first). See {@link #groupRequest}. */
    public CompletableFuture<Group> leaveGroup(String groupId) {
        return group(GroupRequest.newBuilder().setLeave(GroupRequest.Leave.newBuilder()
                .setGroupId(requireGroupId(groupId))));
    }

    /** Dissolves a group (owner only); its history stays readable. See {@link #groupRequest}. */
    public CompletableFuture<Group> dissolveGroup(String groupId) {
        return group(GroupRequest.newBuilder().setDissolve(GroupRequest.Dissolve.newBuilder()
                .setGroupId(requireGroupId(groupId))));
    }

    /** Makes {@code user} a {@code MEMBER} or an {@code ADMIN} (owner only). See {@link #groupRequest}. */
    public CompletableFuture<Group> setRole(String groupId, String user, GroupRole role) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(role, "role");
        return group(GroupRequest.newBuilder().setSetRole(GroupRequest.SetRole.newBuilder()
                .setGroupId(requireGroupId(groupId)).setUser(user).setRole(role)));
    }

    /**
     * Forbids {@code user} to send until {@code untilOrNull}, or lifts that when it is null (owner or admin
     * only). See {@link #groupRequest}.
     */
    public CompletableFuture<Group> mute(String groupId, String user, Instant untilOrNull) {
        Objects.requireNonNull(user, "user");
        return group(GroupRequest.newBuilder().setMute(GroupRequest.Mute.newBuilder()
                .setGroupId(requireGroupId(groupId)).setUser(user)
                .setUntil(untilOrNull == null ? 0 : untilOrNull.toEpochMilli())));
    }

    /** While {@code muted}, only the owner and admins may send (owner or admin only). See {@link #groupRequest}. */
    public CompletableFuture<Group> muteAll(String groupId, boolean muted) {
        return group(GroupRequest.newBuilder().setMuteAll(GroupRequest.MuteAll.newBuilder()
                .setGroupId(requireGroupId(groupId)).setMuted(muted)));
    }

    /** Makes {@code newOwner} the owner; this user becomes an admin (owner only). See {@link #groupRequest}. */
    public CompletableFuture<Group> transferOwnership(String groupId, String newOwner) {
        Objects.requireNonNull(newOwner, "newOwner");
        return group(GroupRequest.newBuilder().setTransfer(GroupRequest.Transfer.newBuilder()
                .setGroupId(requireGroupId(groupId)).setNewOwner(newOwner)));
    }

    /** Reads a group (members only). See {@link #groupRequest}. */
    public CompletableFuture<Group> getGroup(String groupId) {
        return group(GroupRequest.newBuilder().setGet(GroupRequest.Get.newBuilder()
                .setGroupId(requireGroupId(groupId))));
    }

    /**
     * This user's conversations, most recent first. Same as {@code conversations(0)}.
     *
     * @see #conversations(int)
     */
    public CompletableFuture<List<ConversationSummary>> conversations() {
        return conversations(0);
    }

    /**
     * This user's conversations, most recent first, with head, read cursor, unread count, latest message and
     * title.
     *
     * @param limit at most this many, 0 for all
     * @return the list (unmodifiable); fails with a retryable {@link ParleyClientException} ({@code UNAVAILABLE})
     *     when not connected or when the connection is lost before the answer, with {@link ParleyClientException}
     *     if the server refuses, or with {@link TimeoutException} after the request timeout. Not retried.
     */
    public CompletableFuture<List<ConversationSummary>> conversations(int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("limit must not be negative");
        }
        return call(Frame.newBuilder().setConversationList(ConversationListRequest.newBuilder().setLimit(limit)),
                Frame.OpCase.CONVERSATION_LIST_RESPONSE);
    }

    /**
     * Runs a command on the server (protocol.md "Commands"): the handler registered for {@code type} executes it and
     * answers; the command itself is never stored.
     *
     * @param payload         the command's own message, packed
     * @param clientRequestId an idempotency key (what the command appends is stored once per key), or null for none
     * @return completed with the handler's answer; failed with {@link ParleyClientException} (e.g.
     *     {@code UNSUPPORTED_COMMAND}) if the server refuses, with a retryable one when not connected or when the
     *     connection is lost before the answer, or with {@link TimeoutException} after the request timeout. Not
     *     retried: repeat it with the same {@code clientRequestId} to be safe.
     * @since 1.4
     */
    public CompletableFuture<CommandResult> command(String type, Any payload, String clientRequestId) {
        Command.Builder command = Command.newBuilder().setType(type).setPayload(payload);
        if (clientRequestId != null) {
            command.setClientRequestId(clientRequestId);
        }
        return call(Frame.newBuilder().setCommand(command), Frame.OpCase.COMMAND_RESULT);
    }

    /**
     * Voice and video call signalling (docs/protocol.md §6i): start, join, reject, hang up, relay WebRTC signals, and
     * listen for call events and the signals sent to this device.
     *
     * @since 1.7
     */
    public Calls calls() {
        return calls;
    }

    /**
     * Recalls the message at {@code seq} in {@code conversation} (protocol.md §6d): its sender may within the server's
     * window (2 minutes by default), a group's owner and admins any member's message at any time. The server replaces
     * it with a {@value Recalls#TOMBSTONE_TYPE} tombstone and appends a {@value Recalls#EVENT_TYPE} message that every
     * device gets — this one's {@link MessageListener} included; apply it with {@link Recalls#of(Message)}.
     * Recalling a message that is recalled already succeeds with the recall that holds. Same as
     * {@code recall(conversation, seq, newClientMsgId())}.
     *
     * @return the recall; fails like {@link #command} — with {@link ParleyClientException} {@code FORBIDDEN} (not
     *     yours, or the window has passed, or a dissolved group), {@code NOT_FOUND} (no such message, or not a member),
     *     {@code INVALID_REQUEST} (the seq is an event), {@code UNSUPPORTED_COMMAND} (the server has no recall bundle)
     * @since 1.5
     */
    public CompletableFuture<Recalls.Recall> recall(String conversation, long seq) {
        return recall(conversation, seq, newClientMsgId());
    }

    /**
     * {@link #recall(String, long)} with the command's idempotency key: repeating it with the same
     * {@code clientRequestId} after a failure or a timeout is always safe (one recall event at most).
     *
     * @throws IllegalArgumentException if {@code conversation} is empty or {@code seq < 1}
     * @since 1.5
     */
    public CompletableFuture<Recalls.Recall> recall(String conversation, long seq, String clientRequestId) {
        if (conversation == null || conversation.isEmpty()) {
            throw new IllegalArgumentException("a conversation is required");
        }
        if (seq < 1) {
            throw new IllegalArgumentException("seq must be positive: " + seq);
        }
        Any payload = Any.pack(io.parley.command.recall.proto.Recall.newBuilder().setConversation(conversation)
                .setSeq(seq).build());
        return command(Recalls.COMMAND_TYPE, payload, clientRequestId).thenApply(result -> {
            try {
                return Recalls.of(result.getPayload().unpack(io.parley.command.recall.proto.RecallResult.class));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new java.util.concurrent.CompletionException(new ParleyClientException(
                        ErrorCode.ERROR_CODE_INTERNAL, "the server's recall answer does not parse: " + e.getMessage(),
                        false, 0));
            }
        });
    }

    // ------------------------------------------------------------------------------------------------ files and images

    /**
     * Asks for an upload ticket ({@value Attachments#UPLOAD_COMMAND}, protocol.md §6e): permission to upload exactly
     * {@code size} bytes of {@code contentType} under a key the server chooses, until the ticket expires (1 hour by
     * default). The ticket counts against the user's quota until it expires or its object is sent. Not retried: a
     * second call is a second ticket.
     *
     * @param name        the file's name as shown to people: 1–255 characters, no control characters, no {@code /} or
     *                    {@code \}
     * @param contentType {@code type/subtype} without parameters ({@value Attachments#DEFAULT_CONTENT_TYPE} when
     *                    unknown)
     * @return the ticket, completed on the event loop; fails like {@link #command} — with
     *     {@link ParleyClientException} {@code BODY_TOO_LARGE} (over the server's {@code upload.max.bytes}),
     *     {@code QUOTA_EXCEEDED} (its message says how much is used), {@code INVALID_REQUEST} (a bad name or content
     *     type), {@code UNAVAILABLE} (retryable: no blob store), {@code UNSUPPORTED_COMMAND} (no file bundle)
     * @throws IllegalArgumentException if {@code size < 1}
     * @since 1.6
     */
    public CompletableFuture<Attachments.UploadTicket> requestUpload(String name, long size, String contentType) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(contentType, "contentType");
        if (size < 1) {
            throw new IllegalArgumentException("size must be positive: " + size);
        }
        Any payload = Any.pack(UploadRequest.newBuilder().setName(name).setSize(size).setContentType(contentType)
                .build());
        return command(Attachments.UPLOAD_COMMAND, payload, null).thenApply(result -> {
            io.parley.type.file.proto.UploadTicket t = answer(result, io.parley.type.file.proto.UploadTicket.class);
            try {
                return Attachments.ticketOf(name, t);
            } catch (IllegalArgumentException e) {
                throw new CompletionException(badAnswer(Attachments.UPLOAD_COMMAND, e));
            }
        });
    }

    /**
     * {@link #upload(Attachments.UploadTicket, Attachments.Source, ProgressListener)} of a file.
     *
     * @since 1.6
     */
    public CompletableFuture<Attachments.Upload> upload(Attachments.UploadTicket ticket, Path file,
                                                        ProgressListener progress) {
        return upload(ticket, Attachments.Source.of(file), progress);
    }

    /**
     * Uploads the ticket's {@code size} bytes of {@code source} to its URL (protocol.md §6f), on a thread of the
     * transfer executor: first a {@code HEAD} asks how many bytes the server holds (so a second call with the same
     * ticket, after a failure or a restart, resumes), then {@code PATCH}es of at most {@code chunkMaxBytes} follow. A
     * failed chunk or a dropped connection is retried after asking again where the server stands; an answer that the
     * offset is wrong ({@code 409}) moves to the server's offset. The SHA-256 is computed while reading and checked
     * against the server's answer to the last chunk.
     *
     * @param progress called as described in {@link ProgressListener}; null for none
     * @return the complete upload, completed on the transfer thread; fails with {@link ParleyClientException}
     *     carrying the server's code when refused ({@code UNAUTHENTICATED}: the ticket expired; {@code FORBIDDEN};
     *     {@code BODY_TOO_LARGE}; …), with a retryable {@code UNAVAILABLE} one when the retries ran out (call again
     *     with the same ticket to resume), with {@code ERROR_CODE_UNSPECIFIED} when the client was closed or the
     *     server's SHA-256 differs from the bytes read, or with {@link IOException} when the source cannot be read or
     *     does not hold exactly {@code size} bytes
     * @since 1.6
     */
    public CompletableFuture<Attachments.Upload> upload(Attachments.UploadTicket ticket, Attachments.Source source,
                                                        ProgressListener progress) {
        Objects.requireNonNull(ticket, "ticket");
        Objects.requireNonNull(source, "source");
        ProgressListener p = progress == null ? ProgressListener.NONE : progress;
        return onTransferThread(() -> {
            BlobTransfer.Uploaded u = transfer().upload(ticket.uploadUrl(), ticket.ticket(), ticket.size(),
                    ticket.chunkMaxBytes(), source::open, p::onProgress);
            return new Attachments.Upload(ticket.key(), ticket.name(), u.size(), ticket.contentType(), u.sha256());
        });
    }

    /**
     * Sends {@code file} to user {@code peer} as a {@value Attachments#FILE_TYPE} message: {@link #requestUpload} with
     * the file's name and size, {@link #upload}, then a {@linkplain #send(Send) send} of
     * {@link Attachments#fileBody} with a generated client message id (kept and retried like every send).
     *
     * @param contentType the file's type, or null to take it from its name ({@link Attachments#contentTypeOf})
     * @param progress    follows the upload; null for none
     * @return the ack, completed on the event loop; fails as the step that failed does (see {@link #requestUpload},
     *     {@link #upload}, {@link #send(Send)}: e.g. {@code QUOTA_EXCEEDED}, {@code BODY_TOO_LARGE}, or
     *     {@code INVALID_BODY} when the server does not accept the upload). A failed send does not undo the upload:
     *     an object never sent is deleted by the server after {@code orphan.hours}
     * @throws IllegalArgumentException if {@code peer} is empty or {@code file} has no name
     * @since 1.6
     */
    public CompletableFuture<SendAck> sendFile(String peer, Path file, String contentType, ProgressListener progress) {
        return sendAttachment(Send.newBuilder().setPeer(requireNonEmpty(peer, "peer")), Attachments.FILE_TYPE, file,
                contentType, progress);
    }

    /**
     * {@link #sendFile} to an existing conversation (a group's is {@code "g:<group id>"}).
     *
     * @since 1.6
     */
    public CompletableFuture<SendAck> sendFileToConversation(String conversation, Path file, String contentType,
                                                             ProgressListener progress) {
        return sendAttachment(Send.newBuilder().setConversation(requireNonEmpty(conversation, "conversation")),
                Attachments.FILE_TYPE, file, contentType, progress);
    }

    /**
     * {@link #sendFile}, as an {@value Attachments#IMAGE_TYPE} message ({@link Attachments#imageBody}): the server
     * reads the image's dimensions and makes a thumbnail, and refuses ({@code INVALID_BODY}) what it cannot read as
     * an image or what is too large (40 megapixels by default).
     *
     * @param contentType {@code image/png}, {@code image/jpeg}, {@code image/gif}, {@code image/webp} or
     *                    {@code image/bmp}; null to take it from the file's name
     * @since 1.6
     */
    public CompletableFuture<SendAck> sendImage(String peer, Path file, String contentType, ProgressListener progress) {
        return sendAttachment(Send.newBuilder().setPeer(requireNonEmpty(peer, "peer")), Attachments.IMAGE_TYPE, file,
                contentType, progress);
    }

    /**
     * {@link #sendImage} to an existing conversation.
     *
     * @since 1.6
     */
    public CompletableFuture<SendAck> sendImageToConversation(String conversation, Path file, String contentType,
                                                              ProgressListener progress) {
        return sendAttachment(Send.newBuilder().setConversation(requireNonEmpty(conversation, "conversation")),
                Attachments.IMAGE_TYPE, file, contentType, progress);
    }

    /**
     * Sends the audio file {@code clip} to user {@code peer} as a {@value MediaMessages#VOICE_TYPE} message
     * (protocol.md §6h): {@link #requestUpload}, {@link #upload}, then a {@linkplain #send(Send) send} of
     * {@link MediaMessages#voiceBody}. The server reads the duration from the clip and refuses ({@code INVALID_BODY},
     * {@code BODY_TOO_LARGE}) one it cannot read or that is over its limits (10 MiB, 300 s by default).
     *
     * @param contentType {@code audio/webm}, {@code audio/ogg} or {@code audio/mp4}; null to take it from the name
     *                    ({@link MediaMessages#voiceContentTypeOf})
     * @param waveform    1-100 amplitudes 0-255 ({@link MediaMessages#waveform}); copied
     * @return the ack, or fails as {@link #sendFile} does
     * @throws IllegalArgumentException if {@code peer} is empty, the waveform has no sample or over 100, or no
     *     content type is given or known for the name
     * @since 1.7
     */
    public CompletableFuture<SendAck> sendVoice(String peer, Path clip, String contentType, byte[] waveform,
                                                ProgressListener progress) {
        return MediaMessages.sendVoice(this, Send.newBuilder().setPeer(requireNonEmpty(peer, "peer")), clip,
                contentType, waveform, progress);
    }

    /**
     * {@link #sendVoice} to an existing conversation (a group's is {@code "g:<group id>"}).
     *
     * @since 1.7
     */
    public CompletableFuture<SendAck> sendVoiceToConversation(String conversation, Path clip, String contentType,
                                                              byte[] waveform, ProgressListener progress) {
        return MediaMessages.sendVoice(this, Send.newBuilder().setConversation(requireNonEmpty(conversation,
                "conversation")), clip, contentType, waveform, progress);
    }

    /**
     * Sends the video file {@code clip} with {@code poster} (a still frame: a .jpg, .jpeg or .png file) to user
     * {@code peer} as a {@value MediaMessages#VIDEO_TYPE} message (protocol.md §6h): uploads the poster and the clip,
     * then sends {@link MediaMessages#videoBody}. The server reads duration and frame size from the clip and the
     * poster's size from its header, and refuses what it cannot read or what is over its limits.
     *
     * @param contentType {@code video/webm} or {@code video/mp4}; null to take it from the name
     * @param progress    follows the clip's upload; null for none
     * @return the ack, or fails as {@link #sendFile} does
     * @since 1.7
     */
    public CompletableFuture<SendAck> sendVideo(String peer, Path clip, Path poster, String contentType,
                                                ProgressListener progress) {
        return MediaMessages.sendVideo(this, Send.newBuilder().setPeer(requireNonEmpty(peer, "peer")), clip, poster,
                contentType, progress);
    }

    /**
     * {@link #sendVideo} to an existing conversation.
     *
     * @since 1.7
     */
    public CompletableFuture<SendAck> sendVideoToConversation(String conversation, Path clip, Path poster,
                                                              String contentType, ProgressListener progress) {
        return MediaMessages.sendVideo(this, Send.newBuilder().setConversation(requireNonEmpty(conversation,
                "conversation")), clip, poster, contentType, progress);
    }

    private CompletableFuture<SendAck> sendAttachment(Send.Builder to, String type, Path file, String contentType,
                                                      ProgressListener progress) {
        Objects.requireNonNull(file, "file");
        Path fileName = file.getFileName();
        if (fileName == null) {
            throw new IllegalArgumentException("not a file: " + file);
        }
        String name = fileName.toString();
        String ct = contentType != null ? contentType : Attachments.contentTypeOf(name);
        String clientMsgId = newClientMsgId();
        CompletableFuture<SendAck> f = new CompletableFuture<>();
        onTransferThread(() -> Files.size(file))
                .thenCompose(size -> requestUpload(name, size, ct))
                .thenCompose(ticket -> upload(ticket, file, progress))
                .thenCompose(up -> send(to.setClientMsgId(clientMsgId).setType(type)
                        .setBody(Attachments.IMAGE_TYPE.equals(type) ? Attachments.imageBody(up)
                                : Attachments.fileBody(up)).build()))
                .whenComplete((ack, e) -> execute(() -> {
                    if (e != null) {
                        f.completeExceptionally(e instanceof CompletionException && e.getCause() != null
                                ? e.getCause() : e);
                    } else {
                        f.complete(ack);
                    }
                }, f));
        return f;
    }

    /**
     * Asks for the URLs of a {@value Attachments#FILE_TYPE} or {@value Attachments#IMAGE_TYPE} message's bytes
     * ({@value Attachments#DOWNLOAD_COMMAND}, protocol.md §6e); they work for a few minutes (5 by default).
     *
     * @return the URLs, completed on the event loop; fails like {@link #command} — with
     *     {@link ParleyClientException} {@code NOT_FOUND} (not a member, no such message, a recalled one, or its
     *     object is gone), {@code INVALID_REQUEST} (not a file or an image message)
     * @throws IllegalArgumentException if {@code conversation} is empty or {@code seq < 1}
     * @since 1.6
     */
    public CompletableFuture<Attachments.DownloadTicket> downloadTicket(String conversation, long seq) {
        requireNonEmpty(conversation, "conversation");
        if (seq < 1) {
            throw new IllegalArgumentException("seq must be positive: " + seq);
        }
        Any payload = Any.pack(DownloadRequest.newBuilder().setConversation(conversation).setSeq(seq).build());
        return command(Attachments.DOWNLOAD_COMMAND, payload, null).thenApply(result -> {
            io.parley.type.file.proto.DownloadTicket t = answer(result, io.parley.type.file.proto.DownloadTicket.class);
            try {
                return Attachments.ticketOf(t);
            } catch (IllegalArgumentException e) {
                throw new CompletionException(badAnswer(Attachments.DOWNLOAD_COMMAND, e));
            }
        });
    }

    /**
     * Downloads the file or image of the message at {@code seq} into {@code target}: reads the message (a range sync)
     * for its size and SHA-256, then {@link #download(Attachments.Attachment, Path, ProgressListener)}. When the
     * message is not a file or an image (or there is none), the server's refusal of the download ticket is the
     * answer.
     *
     * @since 1.6
     */
    public CompletableFuture<Path> download(String conversation, long seq, Path target, ProgressListener progress) {
        requireNonEmpty(conversation, "conversation");
        Objects.requireNonNull(target, "target");
        if (seq < 1) {
            throw new IllegalArgumentException("seq must be positive: " + seq);
        }
        return syncRange(conversation, seq, seq, 1).thenCompose(read -> {
            Optional<Attachments.Attachment> a = read.getMessagesList().stream().filter(m -> m.getSeq() == seq)
                    .findFirst().flatMap(Attachments::of);
            return a.isPresent() ? download(a.get(), target, progress)
                    : fetch(conversation, seq, target, -1, null, progress);
        });
    }

    /**
     * Downloads {@code attachment}'s bytes into {@code target}, on a thread of the transfer executor: asks for a
     * {@link #downloadTicket}, {@code GET}s its URL into a new temporary file in {@code target}'s directory (resuming
     * with {@code Range} after a dropped connection or a failed request, and with a new ticket once if the first one
     * expired meanwhile), checks the size and SHA-256 against the attachment's, then moves the file to
     * {@code target}. Nothing is left at {@code target} or beside it when it fails.
     *
     * @param target   the file to create; it must not exist when the download completes
     * @param progress called as described in {@link ProgressListener}; null for none
     * @return {@code target}, completed on the transfer thread; fails with {@link ParleyClientException} as
     *     {@link #downloadTicket} does, with the server's code when the {@code GET} is refused ({@code NOT_FOUND}: the
     *     object is gone), with a retryable {@code UNAVAILABLE} one when the retries ran out, with
     *     {@code ERROR_CODE_UNSPECIFIED} when the bytes do not match the attachment or the client was closed, or with
     *     {@link IOException} when writing fails ({@link java.nio.file.FileAlreadyExistsException}: {@code target}
     *     exists)
     * @since 1.6
     */
    public CompletableFuture<Path> download(Attachments.Attachment attachment, Path target, ProgressListener progress) {
        Objects.requireNonNull(attachment, "attachment");
        Objects.requireNonNull(target, "target");
        return fetch(attachment.conversation(), attachment.seq(), target, attachment.size(), attachment.sha256(),
                progress);
    }

    private CompletableFuture<Path> fetch(String conversation, long seq, Path target, long size, String sha256,
                                          ProgressListener progress) {
        ProgressListener p = progress == null ? ProgressListener.NONE : progress;
        return downloadTicket(conversation, seq).thenCompose(ticket -> onTransferThread(() -> transfer().download(
                ticket.url(), () -> awaitValue(downloadTicket(conversation, seq)).url(), target, size, sha256,
                p::onProgress)));
    }

    /** A blocking step of a transfer; runs on the transfer executor. */
    @FunctionalInterface
    private interface TransferStep<T> {
        T run() throws Exception;
    }

    /** Runs {@code step} on the transfer executor; the future completes there. */
    private <T> CompletableFuture<T> onTransferThread(TransferStep<T> step) {
        CompletableFuture<T> f = new CompletableFuture<>();
        if (closing) {
            f.completeExceptionally(closedException());
            return f;
        }
        try {
            transferExecutor.execute(() -> {
                try {
                    f.complete(step.run());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    f.completeExceptionally(e);
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED,
                    "the transfer executor refused the transfer", false, 0));
        }
        return f;
    }

    private BlobTransfer transfer() {
        return new BlobTransfer(http(), transferSettings, () -> closing, ParleyClient::closedException);
    }

    private HttpClient http() {
        if (givenHttp != null) {
            return givenHttp;
        }
        if (transferSsl == null) {
            return TransferDefaults.HTTP;
        }
        synchronized (this) {
            if (ownHttp == null) {
                ownHttp = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .followRedirects(HttpClient.Redirect.NEVER).sslContext(transferSsl).build();
            }
            return ownHttp;
        }
    }

    /** Waits for {@code f} on a transfer thread; rethrows its failure as it is when unchecked. */
    private static <T> T awaitValue(CompletableFuture<T> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    /** @return the command answer's payload as a {@code type}; a payload that does not parse fails the stage */
    private static <T extends com.google.protobuf.Message> T answer(CommandResult result, Class<T> type) {
        try {
            return result.getPayload().unpack(type);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new CompletionException(badAnswer(result.getType(), e));
        }
    }

    private static ParleyClientException badAnswer(String command, Exception e) {
        return new ParleyClientException(ErrorCode.ERROR_CODE_INTERNAL, "the server's " + command
                + " answer does not parse: " + e.getMessage(), false, 0);
    }

    private static String requireNonEmpty(String value, String what) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("a " + what + " is required");
        }
        return value;
    }

    /** Sends {@code request} with a fresh request id and completes with the answer of kind {@code answer}. */
    private <T> CompletableFuture<T> call(Frame.Builder request, Frame.OpCase answer) {
        CompletableFuture<T> f = new CompletableFuture<>();
        execute(() -> {
            if (state != State.READY) {
                f.completeExceptionally(notConnected());
                return;
            }
            long id = nextRequestId++;
            Call<T> call = new Call<>(answer, f);
            inFlight.put(id, call);
            channel.writeAndFlush(request.setRequestId(id).build(), channel.voidPromise());
            call.timer = loop.schedule(() -> {
                if (inFlight.remove(id) == call) {
                    f.completeExceptionally(new TimeoutException("no " + answer + " within the request timeout"));
                }
            }, requestTimeoutNanos, TimeUnit.NANOSECONDS);
        }, f);
        return f;
    }

    /**
     * Tells the server that this user has read {@code conversation} up to {@code seq} (on any device). Fire and
     * forget: marks are coalesced per conversation (the highest wins) for the ack delay, kept while disconnected
     * and written after the next {@code HelloOk}; a mark not above the last one written on this connection (or
     * reported by a {@link ReadUpdate} for this user) is dropped. Marks pending at {@link #close()} are written
     * first if connected. Never fails; does nothing after close.
     *
     * @throws IllegalArgumentException if {@code conversation} is empty or {@code seq < 1}
     */
    public void markRead(String conversation, long seq) {
        if (conversation == null || conversation.isEmpty()) {
            throw new IllegalArgumentException("a conversation is required");
        }
        if (seq < 1) {
            throw new IllegalArgumentException("seq must be positive: " + seq);
        }
        execute(() -> {
            if (state == State.CLOSED || seq <= readSent.getOrDefault(conversation, 0L)) {
                return;
            }
            readDue.merge(conversation, seq, Math::max);
            scheduleAckFlush();
        });
    }

    /**
     * Tells the other members of {@code conversation} that this user started ({@code true}) or stopped typing.
     * Fire and forget: sent at once when connected, dropped otherwise; never stored by the server. Never fails.
     *
     * @throws IllegalArgumentException if {@code conversation} is empty
     */
    public void typing(String conversation, boolean typing) {
        if (conversation == null || conversation.isEmpty()) {
            throw new IllegalArgumentException("a conversation is required");
        }
        execute(() -> {
            if (state == State.READY && channel != null) {
                channel.writeAndFlush(Frame.newBuilder().setRequestId(nextRequestId++).setTyping(Typing.newBuilder()
                        .setConversation(conversation).setTyping(typing)).build(), channel.voidPromise());
            }
        });
    }

    /**
     * Reads messages of a conversation (history). The messages go to the returned future only, not to the
     * {@link MessageListener}, and do not move the delivery position.
     *
     * @param toSeq the last seq to read, 0 for the head
     * @param limit at most this many messages, 0 for the server's default
     * @return the server's response ({@code messages}, {@code has_more}); fails with a retryable
     *     {@link ParleyClientException} ({@code UNAVAILABLE}) when not connected, or {@link TimeoutException}
     */
    public CompletableFuture<SyncResponse> syncRange(String conversation, long fromSeq, long toSeq, int limit) {
        CompletableFuture<SyncResponse> f = new CompletableFuture<>();
        execute(() -> {
            if (state != State.READY) {
                f.completeExceptionally(notConnected());
                return;
            }
            sendRange(new RangeCall(null, f), conversation, fromSeq, toSeq, limit);
        }, f);
        return f;
    }

    /**
     * Reads the page of history just before {@code beforeSeq}: seqs {@code max(1, beforeSeq - limit)} to
     * {@code beforeSeq - 1}, oldest first. For the latest page pass the conversation's head + 1 (from
     * {@link #conversations()}); for the page before that pass the seq of the oldest message received. See
     * {@link #syncRange} for delivery and failures.
     *
     * @param beforeSeq the seq after the page; 1 yields an empty response
     * @param limit the page size, positive
     * @throws IllegalArgumentException if {@code beforeSeq < 1} or {@code limit < 1}
     */
    public CompletableFuture<SyncResponse> history(String conversation, long beforeSeq, int limit) {
        if (beforeSeq < 1 || limit < 1) {
            throw new IllegalArgumentException("beforeSeq and limit must be positive");
        }
        if (beforeSeq == 1) {
            CompletableFuture<SyncResponse> f = new CompletableFuture<>();
            execute(() -> f.complete(SyncResponse.getDefaultInstance()), f);
            return f;
        }
        return syncRange(conversation, Math.max(1, beforeSeq - limit), beforeSeq - 1, limit);
    }

    /** @return a new client message id, unique for this client instance and random across instances */
    public String newClientMsgId() {
        return clientMsgIdPrefix + Long.toString(clientMsgIdCounter.incrementAndGet(), 36);
    }

    /**
     * @return where this client connects: {@code host:port} for TCP (with or without TLS), the {@code ws://} or
     *     {@code wss://} URI for WebSocket; connection errors name it
     */
    public String endpoint() {
        return endpoint;
    }

    /** @return true between the server's {@code HelloOk} and the end of that connection */
    public boolean isConnected() {
        return connected;
    }

    /** @return the {@code HelloOk} of the current or last connection, null before the first */
    public HelloOk session() {
        return session;
    }

    /** @return the device id sent in every {@code Hello} */
    public String deviceId() {
        return deviceId;
    }

    /**
     * Closes the connection (after sending pending delivery acks and read marks), fails pending sends, group
     * operations, syncs and conversation lists with a
     * {@link ParleyClientException} ({@code ERROR_CODE_UNSPECIFIED}), stops reconnecting, and shuts down the
     * event loop group if the client created it. Idempotent.
     *
     * @return completes when the connection is closed and owned resources are released
     */
    public CompletableFuture<Void> closeAsync() {
        closing = true;
        try {
            loop.execute(this::doClose);
        } catch (RejectedExecutionException e) {
            closeFuture.complete(null);
        }
        return closeFuture;
    }

    /**
     * {@link #closeAsync()}, waiting up to 10 s for it unless called on the client's own event loop thread
     * (from a listener), where it does not wait.
     */
    @Override
    public void close() {
        CompletableFuture<Void> f = closeAsync();
        if (!loop.inEventLoop()) {
            try {
                f.get(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "close did not finish in time", e);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ connection

    private void startAttempt() {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CONNECTING;
        reconnectTimer = null;
        long epoch = ++attemptEpoch;
        boolean refresh = refreshToken;
        refreshToken = false;
        CompletableFuture<String> token;
        try {
            token = tokens.token(refresh).toCompletableFuture();
        } catch (RuntimeException e) {
            token = CompletableFuture.failedFuture(e);
        }
        token.whenComplete((t, err) -> execute(() -> {
            if (epoch != attemptEpoch || state != State.CONNECTING) {
                return;
            }
            if (err != null || t == null) {
                attemptEnded(DisconnectReason.CONNECT_FAILED, new ParleyClientException(
                        ErrorCode.ERROR_CODE_UNSPECIFIED, "token provider failed: " + err, true, 0));
                return;
            }
            bootstrap.connect(host, port).addListener((ChannelFuture cf) -> execute(() -> connected(epoch, cf, t)));
        }));
    }

    private void connected(long epoch, ChannelFuture cf, String token) {
        if (epoch != attemptEpoch || state != State.CONNECTING) {
            cf.channel().close();
            return;
        }
        if (!cf.isSuccess()) {
            attemptEnded(DisconnectReason.CONNECT_FAILED, new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED,
                    "cannot connect to " + endpoint + ": " + cf.cause(), true, 0));
            return;
        }
        channel = cf.channel();
        state = State.HELLO;
        helloToken = token;
        lastReadNanos = System.nanoTime();
        resumeListed = false;
        resumeDone = false;
        ordering.beginSession();
        Channel ch = channel;
        // one timeout for the WebSocket upgrade (if any) and the hello together
        handshakeTimer = loop.schedule(() -> {
            if (ch == channel && state == State.HELLO) {
                closeChannel(DisconnectReason.TIMEOUT, null, null, -1);
            }
        }, requestTimeoutNanos, TimeUnit.NANOSECONDS);
        if (webSocketUri == null) {
            // TCP carries frames at once (a TLS handler holds them until its handshake is done)
            transportReady(ch);
        }
        // WebSocket: transportReady runs on TransportEvent.WEBSOCKET_UPGRADED, which comes after this: the
        // upgrade request is written when the channel becomes active, after the connect future's listeners ran
    }

    /**
     * The channel can carry frames: sends the hello. Both transports go through here, TCP right after connecting,
     * WebSocket once the upgrade is done. Event loop only.
     */
    private void transportReady(Channel ch) {
        if (ch != channel || state != State.HELLO || helloToken == null) {
            return;
        }
        String token = helloToken;
        helloToken = null;
        helloRequestId = nextRequestId++;
        ch.writeAndFlush(Frame.newBuilder().setRequestId(helloRequestId).setHello(Hello.newBuilder()
                .setProtocolVersion(PROTOCOL_VERSION).setToken(token).setDeviceId(deviceId).setClient(clientName))
                .build());
    }

    /** Closes the current channel, recording why; {@link #channelClosed} then decides about reconnecting. */
    private void closeChannel(DisconnectReason reason, ParleyClientException error, Boolean retry, long delayMillis) {
        if (pendingReason == null) {
            pendingReason = reason;
            pendingError = error;
            pendingRetry = retry;
            pendingDelayMillis = delayMillis;
        }
        if (channel != null) {
            channel.close();
        }
    }

    private void channelClosed(Channel ch) {
        if (ch != channel) {
            return;
        }
        channel = null;
        helloToken = null;
        DisconnectReason reason = pendingReason == null ? DisconnectReason.CONNECTION_LOST : pendingReason;
        ParleyClientException error = pendingError != null ? pendingError
                : new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, "connection " + reason, true, 0);
        attemptEnded(reason, error);
    }

    /** The current connection or connection attempt is over; reconnect or give up. */
    private void attemptEnded(DisconnectReason reason, ParleyClientException error) {
        Boolean retryOverride = pendingRetry;
        long delayOverride = pendingDelayMillis;
        pendingReason = null;
        pendingError = null;
        pendingRetry = null;
        pendingDelayMillis = -1;
        connected = false;
        cancel(handshakeTimer);
        cancel(heartbeatTimer);
        handshakeTimer = null;
        heartbeatTimer = null;
        ParleyClientException lost = state == State.CLOSED ? error
                : new ParleyClientException(ErrorCode.ERROR_CODE_UNAVAILABLE, "connection lost", true, 0);
        for (Object p : inFlight.values()) {
            if (p instanceof Outgoing o) {
                cancel(o.requestTimer);
                o.requestTimer = null;
                o.requestId = 0;
            } else if (p instanceof RangeCall rc) {
                cancel(rc.timer);
                if (rc.future != null) {
                    rc.future.completeExceptionally(lost);
                }
            } else if (p instanceof Call<?> c) {
                cancel(c.timer);
                c.future.completeExceptionally(lost);
            }
        }
        inFlight.clear();
        readSent.clear();
        if (state == State.CLOSED) {
            return;
        }
        boolean retry = retryOverride != null ? retryOverride : everConnected;
        if (!retry) {
            state = State.IDLE;
            boolean terminal = reason == DisconnectReason.KICKED || reason == DisconnectReason.AUTH_FAILED
                    || reason == DisconnectReason.PROTOCOL_ERROR;
            if (terminal) {
                terminalError = error;
                for (Outgoing o : new ArrayList<>(unacked)) {
                    failOutgoing(o, error);
                }
            }
            failWaiters(error);
            for (ConnectionListener l : connectionListeners) {
                safely(() -> l.onDisconnected(reason, false));
            }
            return;
        }
        state = State.WAITING;
        int attempt = ++reconnectAttempt;
        long delay = delayOverride >= 0 ? delayOverride : backoffMillis(attempt);
        for (ConnectionListener l : connectionListeners) {
            safely(() -> l.onDisconnected(reason, true));
        }
        for (ConnectionListener l : connectionListeners) {
            safely(() -> l.onReconnecting(attempt, Duration.ofMillis(delay)));
        }
        reconnectTimer = loop.schedule(this::startAttempt, delay, TimeUnit.MILLISECONDS);
    }

    /** Equal jitter: half of the exponential delay plus a random part of up to the other half. */
    private long backoffMillis(int attempt) {
        long base = backoffInitialMillis << Math.min(attempt - 1, 30);
        base = Math.min(backoffMaxMillis, base <= 0 ? backoffMaxMillis : base);
        long half = base / 2;
        return half + ThreadLocalRandom.current().nextLong(base - half + 1);
    }

    // ------------------------------------------------------------------------------------------------ inbound

    private void onFrame(Channel ch, Frame frame) {
        if (ch != channel) {
            return;
        }
        lastReadNanos = System.nanoTime();
        long id = frame.getRequestId();
        switch (frame.getOpCase()) {
            case HELLO_OK -> onHelloOk(id, frame.getHelloOk());
            case SEND_ACK -> onSendAck(id, frame.getSendAck());
            case DELIVER -> onDeliver(frame.getDeliver().getMessagesList());
            case SYNC_RESPONSE -> onSyncResponse(id, frame.getSyncResponse());
            case ERROR -> onError(id, frame.getError());
            case NOTICE -> onNotice(frame.getNotice());
            case GROUP_RESPONSE -> onGroupResponse(id, frame.getGroupResponse());
            case CONVERSATION_LIST_RESPONSE -> onConversationList(id, frame.getConversationListResponse());
            case COMMAND_RESULT -> answer(id, Frame.OpCase.COMMAND_RESULT, frame.getCommandResult());
            case READ_UPDATE -> onReadUpdate(frame.getReadUpdate());
            case READ_COUNTS -> notifyEach(readListeners, l -> l.onReadCounts(frame.getReadCounts()), "read listener");
            case DELIVERY_UPDATE -> notifyEach(readListeners, l -> l.onDelivered(frame.getDeliveryUpdate()),
                    "read listener");
            case TYPING -> notifyEach(typingListeners, l -> l.onTyping(frame.getTyping()), "typing listener");
            case PONG -> {
            }
            default -> LOG.log(System.Logger.Level.DEBUG, "ignoring unexpected frame {0}", frame.getOpCase());
        }
    }

    private void onHelloOk(long id, HelloOk ok) {
        if (id != helloRequestId || state != State.HELLO) {
            return;
        }
        cancel(handshakeTimer);
        state = State.READY;
        session = ok;
        connected = true;
        everConnected = true;
        authRetried = false;
        maxOutboundFrameBytes = ok.getMaxFrameBytes();
        int hb = ok.getHeartbeatSeconds() > 0 ? ok.getHeartbeatSeconds() : defaultHeartbeatSeconds;
        heartbeatNanos = TimeUnit.SECONDS.toNanos(hb);
        heartbeatTimer = loop.scheduleAtFixedRate(this::heartbeat, heartbeatNanos, heartbeatNanos,
                TimeUnit.NANOSECONDS);

        resumeRequestId = nextRequestId++;
        channel.write(Frame.newBuilder().setRequestId(resumeRequestId).setSync(SyncRequest.newBuilder()
                .setResume(SyncRequest.Resume.newBuilder().setPageSize(resumePageSize))).build());
        Channel ch = channel;
        handshakeTimer = loop.schedule(() -> {
            if (ch == channel && !resumeListed) {
                closeChannel(DisconnectReason.TIMEOUT, null, null, -1);
            }
        }, requestTimeoutNanos, TimeUnit.NANOSECONDS);
        writeAcks();
        writeReads();
        for (Outgoing o : new ArrayList<>(unacked)) {
            if (o.requestId == 0 && o.retryTimer == null) {
                transmit(o);
            }
        }
        channel.flush();
        for (ConnectionListener l : connectionListeners) {
            safely(() -> l.onConnected(ok));
        }
    }

    private void onSendAck(long id, SendAck ack) {
        if (inFlight.get(id) instanceof OutgoingSend os) {
            inFlight.remove(id);
            os.requestId = 0;
            finishOutgoing(os);
            os.future.complete(ack);
            // The own message occupies its seq; it moves the position without reaching the listener.
            ordering.offer(Message.newBuilder().setId(ack.getMessageId()).setConversation(ack.getConversation())
                    .setSeq(ack.getSeq()).setSender(session.getUserId()).setSenderDevice(deviceId)
                    .setServerTime(ack.getServerTime()).setType(os.send.getType()).build(), this::deliver);
            // An own seq beyond a gap is buffered like an early delivery, so the gap is fetched the same way.
            scheduleGapCheck();
        }
    }

    private void onGroupResponse(long id, GroupResponse response) {
        if (inFlight.get(id) instanceof OutgoingGroup og) {
            inFlight.remove(id);
            og.requestId = 0;
            finishOutgoing(og);
            og.future.complete(response);
        }
    }

    private void onConversationList(long id, ConversationList list) {
        answer(id, Frame.OpCase.CONVERSATION_LIST_RESPONSE, list.getConversationsList());
    }

    /** Completes the call {@code id} if it waits for an answer of {@code kind}; anything else is ignored. */
    @SuppressWarnings("unchecked")
    private <T> void answer(long id, Frame.OpCase kind, T value) {
        if (inFlight.get(id) instanceof Call<?> c && c.answer == kind) {
            inFlight.remove(id);
            cancel(c.timer);
            ((Call<T>) c).future.complete(value);
        }
    }

    private void onReadUpdate(ReadUpdate update) {
        HelloOk s = session;
        if (s != null && s.getUserId().equals(update.getUser())) {
            readSent.merge(update.getConversation(), update.getSeq(), Math::max);
        }
        notifyEach(readListeners, l -> l.onRead(update), "read listener");
    }

    /** Calls {@code call} on every listener; one that throws is logged and does not stop the others. */
    private static <L> void notifyEach(List<L> listeners, Consumer<L> call, String what) {
        for (L l : listeners) {
            try {
                call.accept(l);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.WARNING, what + " failed", t);
            }
        }
    }

    private void onDeliver(List<Message> messages) {
        for (Message m : messages) {
            offer(m);
        }
        scheduleGapCheck();
    }

    /** Requests the open gaps after {@link #GAP_GRACE_MILLIS}, unless a check is already scheduled. */
    private void scheduleGapCheck() {
        if (resumeDone && gapTimer == null && ordering.hasGapCandidates()) {
            gapTimer = loop.schedule(() -> {
                gapTimer = null;
                requestGaps();
            }, GAP_GRACE_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    private void onSyncResponse(long id, SyncResponse resp) {
        if (id == resumeRequestId && state == State.READY) {
            if (!resumeListed) {
                resumeListed = true;
                cancel(handshakeTimer);
                handshakeTimer = null;
                ordering.onResumeList(resp.getConversationsList(), this::deliver).forEach(this::ackLater);
            }
            if (resp.getDone() && !resumeDone) {
                resumeDone = true;
                // the backoff restarts only after a complete resume: a server that accepts the hello and then drops
                // the connection (a slow consumer, a store going away) keeps the client backing off
                reconnectAttempt = 0;
                ordering.enableGapRequests();
                requestGaps();
                List<CompletableFuture<Void>> waiters = new ArrayList<>(readyWaiters);
                readyWaiters.clear();
                waiters.forEach(w -> w.complete(null));
            }
            return;
        }
        if (inFlight.remove(id) instanceof RangeCall rc) {
            cancel(rc.timer);
            if (rc.gap == null) {
                rc.future.complete(resp);
                return;
            }
            for (Message m : resp.getMessagesList()) {
                offer(m);
            }
            ordering.rangeFinished(rc.gap, resp.getMessagesCount(), resp.getHasMore(), false, this::deliver);
            requestGaps();
        }
    }

    private void onError(long id, Error error) {
        ParleyClientException ex = ParleyClientException.of(error);
        ErrorCode code = error.getCode();
        boolean authCode = code == ErrorCode.ERROR_CODE_UNAUTHENTICATED || code == ErrorCode.ERROR_CODE_TOKEN_EXPIRED;
        if (id == 0) {
            LOG.log(System.Logger.Level.DEBUG, "server error {0}: {1}", code, error.getMessage());
            if (authCode) {
                refreshToken = true;
                closeChannel(DisconnectReason.AUTH_FAILED, ex, null, -1);
            } else {
                closeChannel(DisconnectReason.PROTOCOL_ERROR, ex, null,
                        error.getRetryAfterMs() > 0 ? error.getRetryAfterMs() : -1);
            }
            return;
        }
        if (id == helloRequestId && state == State.HELLO) {
            if (authCode && !authRetried) {
                authRetried = true;
                refreshToken = true;
                closeChannel(DisconnectReason.AUTH_FAILED, ex, Boolean.TRUE, 0);
            } else if (authCode) {
                closeChannel(DisconnectReason.AUTH_FAILED, ex, Boolean.FALSE, -1);
            } else if (isRetryable(error)) {
                closeChannel(DisconnectReason.PROTOCOL_ERROR, ex, null,
                        error.getRetryAfterMs() > 0 ? error.getRetryAfterMs() : -1);
            } else {
                closeChannel(DisconnectReason.PROTOCOL_ERROR, ex, Boolean.FALSE, -1);
            }
            return;
        }
        if (id == resumeRequestId && state == State.READY && !resumeDone) {
            closeChannel(DisconnectReason.PROTOCOL_ERROR, ex, null, -1);
            return;
        }
        Object p = inFlight.remove(id);
        if (p instanceof Outgoing o) {
            onOutgoingError(o, error, ex);
        } else if (p instanceof Call<?> c) {
            cancel(c.timer);
            c.future.completeExceptionally(ex);
        } else if (p instanceof RangeCall rc) {
            cancel(rc.timer);
            if (rc.gap == null) {
                rc.future.completeExceptionally(ex);
            } else {
                gapFailed(rc.gap);
            }
        }
    }

    private void onNotice(Notice notice) {
        switch (notice.getKind()) {
            case KIND_KICKED -> closeChannel(DisconnectReason.KICKED, new ParleyClientException(
                    ErrorCode.ERROR_CODE_UNSPECIFIED, "kicked: " + notice.getText(), false, 0), Boolean.FALSE, -1);
            case KIND_RECONNECT -> {
                long after = notice.getReconnectAfterMs();
                long jitter = after > 0 ? ThreadLocalRandom.current().nextLong(after / 5 + 1) : 0;
                closeChannel(DisconnectReason.SERVER_RECONNECT, null, everConnected, after + jitter);
            }
            case KIND_SLOW_CONSUMER -> closeChannel(DisconnectReason.SLOW_CONSUMER, null, null, -1);
            case KIND_TOKEN_EXPIRED -> {
                // reconnect at once with a fresh token; a provider that hands out the same expired token ends in
                // AUTH_FAILED at the next hello
                refreshToken = true;
                authRetried = false;
                closeChannel(DisconnectReason.TOKEN_EXPIRED, null, Boolean.TRUE, 0);
            }
            default -> LOG.log(System.Logger.Level.DEBUG, "ignoring notice {0}", notice.getKind());
        }
    }

    private void heartbeat() {
        if (state != State.READY || channel == null) {
            return;
        }
        if (System.nanoTime() - lastReadNanos > 2 * heartbeatNanos) {
            closeChannel(DisconnectReason.TIMEOUT, null, null, -1);
            return;
        }
        channel.writeAndFlush(Frame.newBuilder().setRequestId(nextRequestId++)
                .setPing(Ping.newBuilder().setClientTime(System.currentTimeMillis())).build());
    }

    // ------------------------------------------------------------------------------------------------ delivery

    /** Offers a received message to the ordering; a group event adding this user starts the group's view. */
    private void offer(Message m) {
        if (m.getSeq() == 0) {
            // relayed by its type's processor, never stored: in no seq stream, so neither ordered nor acknowledged
            deliver(m);
            return;
        }
        HelloOk s = session;
        boolean start = s != null && Groups.isEvent(m) && Groups.addsMember(m, s.getUserId());
        ordering.offer(m, start, this::deliver);
    }

    /**
     * Hands {@code m} to the listeners unless this device sent it with a {@code Send} (group events and what this
     * device's commands appended, e.g. a recall event, always reach them), and schedules its delivery ack.
     */
    private void deliver(Message m) {
        HelloOk s = session;
        boolean own = s != null && deviceId.equals(m.getSenderDevice()) && s.getUserId().equals(m.getSender())
                && !Groups.isEvent(m) && !m.getClientMsgId().startsWith(Recalls.COMMAND_KEY_PREFIX);
        if (!own) {
            calls.onMessage(m); // first: an application reacting to the message sees the call state it brings
            for (MessageListener l : messageListeners) {
                try {
                    l.onMessage(m);
                } catch (Throwable t) {
                    LOG.log(System.Logger.Level.WARNING, "message listener failed", t);
                }
            }
        }
        if (m.getSeq() > 0) {
            ackLater(m.getConversation(), m.getSeq());
        }
    }

    private void ackLater(String conversation, long seq) {
        ackDue.merge(conversation, seq, Math::max);
        scheduleAckFlush();
    }

    /** Writes the due delivery acks and read marks after the ack delay (or after the next HelloOk). */
    private void scheduleAckFlush() {
        if (ackTimer == null && state != State.CLOSED) {
            ackTimer = loop.schedule(() -> {
                ackTimer = null;
                if (state == State.READY) {
                    writeAcks();
                    writeReads();
                    channel.flush();
                }
            }, ackDelayNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Writes (without flushing) one MarkRead per conversation with a mark above the last one written. */
    private void writeReads() {
        for (Map.Entry<String, Long> e : readDue.entrySet()) {
            if (e.getValue() > readSent.getOrDefault(e.getKey(), 0L)) {
                readSent.put(e.getKey(), e.getValue());
                channel.write(Frame.newBuilder().setRequestId(nextRequestId++).setMarkRead(MarkRead.newBuilder()
                        .setConversation(e.getKey()).setSeq(e.getValue())).build(), channel.voidPromise());
            }
        }
        readDue.clear();
    }

    /** Writes (without flushing) one cumulative DeliverAck per conversation with newly delivered messages. */
    private void writeAcks() {
        for (Map.Entry<String, Long> e : ackDue.entrySet()) {
            channel.write(Frame.newBuilder().setRequestId(nextRequestId++).setDeliverAck(DeliverAck.newBuilder()
                    .setConversation(e.getKey()).setSeq(e.getValue())).build(), channel.voidPromise());
        }
        ackDue.clear();
    }

    private void requestGaps() {
        if (state != State.READY || !resumeDone) {
            return;
        }
        for (DeliveryOrdering.Gap gap : ordering.takeGaps()) {
            sendRange(new RangeCall(gap, null), gap.conversation(), gap.fromSeq(), gap.toSeq(), gap.limit());
        }
    }

    private void sendRange(RangeCall rc, String conversation, long from, long to, int limit) {
        long id = nextRequestId++;
        inFlight.put(id, rc);
        channel.writeAndFlush(Frame.newBuilder().setRequestId(id).setSync(SyncRequest.newBuilder()
                .setRange(SyncRequest.Range.newBuilder().setConversation(conversation).setFromSeq(from)
                        .setToSeq(to).setLimit(limit))).build());
        rc.timer = loop.schedule(() -> {
            if (inFlight.remove(id) == rc) {
                if (rc.gap == null) {
                    rc.future.completeExceptionally(new TimeoutException("no SyncResponse within the request timeout"));
                } else {
                    gapFailed(rc.gap);
                }
            }
        }, requestTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    private void gapFailed(DeliveryOrdering.Gap gap) {
        ordering.rangeFinished(gap, 0, false, true, this::deliver);
        loop.schedule(this::requestGaps, GAP_RETRY_MILLIS, TimeUnit.MILLISECONDS);
    }

    // ------------------------------------------------------------------------------------------------ sending

    /** Keeps {@code o} until answered or failed, transmitting it now if connected. Any thread. */
    private void submit(Outgoing o, CompletableFuture<?> f) {
        execute(() -> {
            if (state == State.CLOSED) {
                f.completeExceptionally(closedException());
                return;
            }
            if (terminalError != null) {
                f.completeExceptionally(terminalError);
                return;
            }
            unacked.add(o);
            o.deadlineTimer = loop.schedule(() -> failOutgoing(o, new TimeoutException(
                    "no " + o.describe() + " within the send timeout")), sendTimeoutNanos, TimeUnit.NANOSECONDS);
            if (state == State.READY) {
                transmit(o);
            }
        }, f);
    }

    private CompletableFuture<Group> group(GroupRequest.Builder request) {
        return groupRequest(request.build()).thenApply(GroupResponse::getGroup);
    }

    private static String requireGroupId(String groupId) {
        if (groupId == null || groupId.isEmpty()) {
            throw new IllegalArgumentException("a group id is required");
        }
        return groupId;
    }

    private static ParleyClientException notConnected() {
        return new ParleyClientException(ErrorCode.ERROR_CODE_UNAVAILABLE, "not connected", true, 0);
    }

    private void transmit(Outgoing o) {
        long id = nextRequestId++;
        Frame.Builder fb = Frame.newBuilder().setRequestId(id);
        o.setOp(fb);
        Frame frame = fb.build();
        if (maxOutboundFrameBytes > 0 && frame.getSerializedSize() > maxOutboundFrameBytes) {
            failOutgoing(o, new ParleyClientException(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, "frame of "
                    + frame.getSerializedSize() + " bytes exceeds the server's " + maxOutboundFrameBytes, false, 0));
            return;
        }
        o.requestId = id;
        inFlight.put(id, o);
        channel.writeAndFlush(frame, channel.voidPromise());
        o.requestTimer = loop.schedule(() -> {
            if (inFlight.get(id) == o) {
                inFlight.remove(id);
                failOutgoing(o, new TimeoutException("no " + o.describe() + " within the request timeout"));
            }
        }, requestTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    private void onOutgoingError(Outgoing o, Error error, ParleyClientException ex) {
        o.requestId = 0;
        cancel(o.requestTimer);
        o.requestTimer = null;
        if (isRetryable(error) && o.errorRetries < maxSendRetries) {
            o.errorRetries++;
            long delay = error.getRetryAfterMs() > 0 ? error.getRetryAfterMs() : backoffMillis(o.errorRetries);
            o.retryTimer = loop.schedule(() -> {
                o.retryTimer = null;
                if (state == State.READY && unacked.contains(o)) {
                    transmit(o);
                }
            }, delay, TimeUnit.MILLISECONDS);
            return;
        }
        failOutgoing(o, ex);
    }

    private static boolean isRetryable(Error error) {
        return error.getRetryable() || error.getCode() == ErrorCode.ERROR_CODE_UNAVAILABLE
                || error.getCode() == ErrorCode.ERROR_CODE_RATE_LIMITED;
    }

    private void failOutgoing(Outgoing o, Throwable cause) {
        if (!unacked.contains(o)) {
            return;
        }
        if (o.requestId != 0) {
            inFlight.remove(o.requestId);
            o.requestId = 0;
        }
        finishOutgoing(o);
        o.fail(cause);
    }

    private void finishOutgoing(Outgoing o) {
        unacked.remove(o);
        cancel(o.requestTimer);
        cancel(o.retryTimer);
        cancel(o.deadlineTimer);
    }

    // ------------------------------------------------------------------------------------------------ closing

    private void doClose() {
        if (state == State.CLOSED) {
            return;
        }
        boolean wasActive = state != State.IDLE;
        if (state == State.READY && channel != null && (!ackDue.isEmpty() || !readDue.isEmpty())) {
            writeAcks();
            writeReads();
            channel.flush();
        }
        state = State.CLOSED;
        connected = false;
        cancel(reconnectTimer);
        cancel(ackTimer);
        cancel(gapTimer);
        ParleyClientException closed = closedException();
        for (Outgoing o : new ArrayList<>(unacked)) {
            failOutgoing(o, closed);
        }
        attemptEnded(DisconnectReason.CLOSED_BY_CLIENT, closed);
        failWaiters(closed);
        Channel ch = channel;
        channel = null;
        if (wasActive) {
            for (ConnectionListener l : connectionListeners) {
                safely(() -> l.onDisconnected(DisconnectReason.CLOSED_BY_CLIENT, false));
            }
        }
        Runnable release = () -> {
            if (ownsResources) {
                resources.group().shutdownGracefully(0, 1, TimeUnit.SECONDS)
                        .addListener(x -> closeFuture.complete(null));
            } else {
                closeFuture.complete(null);
            }
        };
        if (ch != null) {
            ch.close().addListener(x -> release.run());
        } else {
            release.run();
        }
    }

    private static ParleyClientException closedException() {
        return new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, "client closed", false, 0);
    }

    private void failWaiters(Throwable cause) {
        List<CompletableFuture<Void>> waiters = new ArrayList<>(readyWaiters);
        readyWaiters.clear();
        waiters.forEach(w -> w.completeExceptionally(cause));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Runs {@code task} on the event loop (inline when already there); fails {@code onReject} if it cannot. */
    private void execute(Runnable task, CompletableFuture<?> onReject) {
        if (loop.inEventLoop()) {
            task.run();
            return;
        }
        try {
            loop.execute(task);
        } catch (RejectedExecutionException e) {
            onReject.completeExceptionally(closedException());
        }
    }

    private void execute(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            try {
                loop.execute(task);
            } catch (RejectedExecutionException e) {
                LOG.log(System.Logger.Level.DEBUG, "event loop shut down; dropping a task");
            }
        }
    }

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    private static void safely(Runnable r) {
        try {
            r.run();
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.WARNING, "connection listener failed", t);
        }
    }

    @ChannelHandler.Sharable
    private final class InboundHandler extends SimpleChannelInboundHandler<Frame> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Frame frame) {
            onFrame(ctx.channel(), frame);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            channelClosed(ctx.channel());
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent done && !done.isSuccess()) {
                tlsFailed(ctx, done.cause());
            } else if (evt == TransportEvent.WEBSOCKET_UPGRADED) {
                transportReady(ctx.channel());
            } else if (evt == TransportEvent.WEBSOCKET_UPGRADE_TIMEOUT && ctx.channel() == channel) {
                closeChannel(DisconnectReason.TIMEOUT, new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED,
                        "no answer to the WebSocket upgrade from " + endpoint + " in time", true, 0), null, -1);
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Throwable tls = cause instanceof DecoderException && cause.getCause() instanceof SSLException
                    ? cause.getCause() : cause;
            if (tls instanceof SSLException) {
                tlsFailed(ctx, tls);
                return;
            }
            if (cause instanceof WebSocketUpgradeException upgrade) {
                if (ctx.channel() == channel) {
                    closeChannel(DisconnectReason.CONNECT_FAILED, new ParleyClientException(
                            ErrorCode.ERROR_CODE_UNSPECIFIED, endpoint + ": " + upgrade.getMessage(), false, 0),
                            null, -1);
                } else {
                    ctx.close();
                }
                return;
            }
            if (ctx.channel() == channel) {
                boolean protocol = cause instanceof DecoderException;
                closeChannel(protocol ? DisconnectReason.PROTOCOL_ERROR : DisconnectReason.CONNECTION_LOST,
                        new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED, String.valueOf(cause), true, 0),
                        null, -1);
            } else {
                ctx.close();
            }
        }
    }

    /** A TLS handshake (or, later, a TLS record) failed: the attempt ends as CONNECT_FAILED. Event loop only. */
    private void tlsFailed(ChannelHandlerContext ctx, Throwable cause) {
        if (ctx.channel() != channel) {
            ctx.close();
            return;
        }
        String why = cause instanceof NotSslRecordException
                ? "the server did not answer with TLS (is TLS enabled on its transport?)" : String.valueOf(cause);
        closeChannel(DisconnectReason.CONNECT_FAILED, new ParleyClientException(ErrorCode.ERROR_CODE_UNSPECIFIED,
                "TLS with " + endpoint + " failed: " + why, false, 0), null, -1);
    }

    // ------------------------------------------------------------------------------------------------ builder

    /**
     * Configures a {@link ParleyClient}. Required: {@link #port}, {@link #deviceId} and a token
     * ({@link #token}, {@link #tokenSupplier} or {@link #tokenProvider}). Not thread-safe; {@link #build()} may be
     * called more than once.
     */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = -1;
        /** The WebSocket request path; null for TCP. */
        private String webSocketPath;
        private String deviceId;
        private String clientName = DEFAULT_CLIENT_NAME;
        private TokenProvider tokens;
        private Duration requestTimeout = Duration.ofSeconds(10);
        private Duration sendTimeout = Duration.ofSeconds(30);
        private int maxSendRetries = 5;
        private Duration backoffInitial = Duration.ofMillis(200);
        private Duration backoffMax = Duration.ofSeconds(10);
        private Duration ackDelay = Duration.ofMillis(50);
        private int resumePageSize;
        private int defaultHeartbeatSeconds = 30;
        private int maxInboundFrameBytes = 16 * 1024 * 1024;
        private int maxBufferedPerConversation = 10_000;
        private ClientResources resources;
        private boolean tls;
        private Path trustCertificate;
        private final List<MessageListener> messageListeners = new ArrayList<>();
        private final List<ConnectionListener> connectionListeners = new ArrayList<>();
        private final List<ReadListener> readListeners = new ArrayList<>();
        private final List<TypingListener> typingListeners = new ArrayList<>();
        private Executor transferExecutor;
        private HttpClient httpClient;
        private Duration transferTimeout = Duration.ofSeconds(60);

        private Builder() {
        }

        /** Server host name or address; default {@code 127.0.0.1}. */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        /**
         * Connects over WebSocket instead of TCP: RFC 6455, one {@code Frame} per binary message (see the WebSocket
         * transport in the protocol documentation). Sets {@link #host}, {@link #port} (default 80 for {@code ws},
         * 443 for {@code wss}) and the request path (default {@value ParleyClient#DEFAULT_WEBSOCKET_PATH}, the server's default),
         * and turns {@link #tls} on for {@code wss} and off for {@code ws}; a later {@link #tls} or
         * {@link #trustCertificate} call changes that again. No {@code Origin} header is sent.
         *
         * @param uri {@code ws://host[:port][/path]} or {@code wss://host[:port][/path]}
         * @throws IllegalArgumentException for another scheme, no host, a query, a fragment or user info
         */
        public Builder webSocket(URI uri) {
            Objects.requireNonNull(uri, "uri");
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("ws") && !scheme.equals("wss")) {
                throw new IllegalArgumentException("a WebSocket URI starts with ws:// or wss://: " + uri);
            }
            if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
                throw new IllegalArgumentException("a WebSocket URI for Parley has no query or fragment: " + uri);
            }
            boolean secure = scheme.equals("wss");
            address(uri, secure ? 443 : 80);
            String path = uri.getPath();
            this.webSocketPath = path == null || path.isEmpty() ? DEFAULT_WEBSOCKET_PATH : path;
            this.tls = secure;
            return this;
        }

        /**
         * Sets the transport and address from a URL: {@code tcp://host:port}, {@code tls://host:port} (TCP with
         * TLS), or a WebSocket URI as for {@link #webSocket(URI)}. IPv6 addresses go in brackets.
         *
         * @throws IllegalArgumentException if the URL does not parse, has another scheme, or (tcp, tls) no port
         */
        public Builder url(String url) {
            Objects.requireNonNull(url, "url");
            URI uri;
            try {
                uri = new URI(url.trim());
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("invalid URL " + url + ": " + e.getMessage(), e);
            }
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            switch (scheme) {
                case "ws", "wss" -> {
                    return webSocket(uri);
                }
                case "tcp", "tls" -> {
                    String path = uri.getRawPath();
                    if ((path != null && !path.isEmpty() && !path.equals("/")) || uri.getRawQuery() != null
                            || uri.getRawFragment() != null) {
                        throw new IllegalArgumentException("a " + scheme + " URL has no path: " + url);
                    }
                    address(uri, -1);
                    this.webSocketPath = null;
                    this.tls = scheme.equals("tls");
                    return this;
                }
                default -> throw new IllegalArgumentException(
                        "unsupported URL " + url + " (expected tcp://, tls://, ws:// or wss://)");
            }
        }

        /** Sets host and port from {@code uri}; {@code defaultPort} -1 means the URI must name the port. */
        private void address(URI uri, int defaultPort) {
            if (uri.getHost() == null || uri.getRawUserInfo() != null) {
                throw new IllegalArgumentException("expected scheme://host:port, got " + uri);
            }
            int p = uri.getPort() >= 0 ? uri.getPort() : defaultPort;
            if (p < 0) {
                throw new IllegalArgumentException("a port is required: " + uri);
            }
            String h = uri.getHost();
            port(p);
            host(h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h);
        }

        public Builder port(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
            this.port = port;
            return this;
        }

        /**
         * Speak TLS (the server's transport has {@code tls.enabled=true}); default false. With WebSocket this makes
         * {@code wss://}. The server certificate must be trusted (the JDK's default trust store, or
         * {@link #trustCertificate}) and name {@link #host}.
         */
        public Builder tls(boolean tls) {
            this.tls = tls;
            return this;
        }

        /**
         * Trusts the certificate(s) in this PEM file, and only those, instead of the JDK's default trust store: a
         * self-signed server certificate (such as the one {@code bin/parley cert} makes) or a private CA. Turns
         * {@link #tls} on. The file is read by {@link #build()}. Hostname verification still applies.
         */
        public Builder trustCertificate(Path pemFile) {
            this.trustCertificate = Objects.requireNonNull(pemFile, "pemFile");
            this.tls = true;
            return this;
        }

        /** Stable id of this installation; the server keeps delivery watermarks per device. */
        public Builder deviceId(String deviceId) {
            this.deviceId = Objects.requireNonNull(deviceId, "deviceId");
            return this;
        }

        /** Free text sent as {@code Hello.client}; default {@value #DEFAULT_CLIENT_NAME}. */
        public Builder clientName(String clientName) {
            this.clientName = Objects.requireNonNull(clientName, "clientName");
            return this;
        }

        /** A token that never changes (tests, tools). */
        public Builder token(String token) {
            return tokenProvider(TokenProvider.fixed(Objects.requireNonNull(token, "token")));
        }

        /**
         * Fetches a token for every connection attempt. The supplier runs on {@link ForkJoinPool#commonPool()} and
         * may block.
         */
        public Builder tokenSupplier(Supplier<String> supplier) {
            return tokenProvider(TokenProvider.of(Objects.requireNonNull(supplier, "supplier"),
                    ForkJoinPool.commonPool()));
        }

        public Builder tokenProvider(TokenProvider provider) {
            this.tokens = Objects.requireNonNull(provider, "provider");
            return this;
        }

        /**
         * How long to wait for the answer to one request (a send's ack, a sync, the hello); default 10 s. Also the
         * TCP connect timeout, the TLS handshake timeout, and the time the WebSocket upgrade and the hello may take
         * together.
         */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = positive(timeout, "requestTimeout");
            return this;
        }

        /**
         * How long a send or a group operation may wait in total, across reconnects and retries, for its answer;
         * default 30 s.
         */
        public Builder sendTimeout(Duration timeout) {
            this.sendTimeout = positive(timeout, "sendTimeout");
            return this;
        }

        /**
         * How often a send or group operation refused with a retryable error is tried again; default 5. Also how many
         * failed requests in a row an upload or download survives.
         */
        public Builder maxSendRetries(int retries) {
            if (retries < 0) {
                throw new IllegalArgumentException("maxSendRetries must not be negative");
            }
            this.maxSendRetries = retries;
            return this;
        }

        /**
         * Reconnect backoff: the first delay and the cap, doubled per attempt, with jitter; default 200 ms, 10 s. Also
         * the wait before an upload or download retries a failed request.
         */
        public Builder reconnectBackoff(Duration initial, Duration max) {
            this.backoffInitial = positive(initial, "initial");
            this.backoffMax = positive(max, "max");
            return this;
        }

        /** How long delivery acks and read marks are coalesced per conversation; default 50 ms. */
        public Builder ackDelay(Duration delay) {
            this.ackDelay = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /** Messages per Deliver frame in the resume sync; default 0 (the server's choice). */
        public Builder resumePageSize(int pageSize) {
            this.resumePageSize = Math.max(0, pageSize);
            return this;
        }

        /** Heartbeat interval used when the server's {@code HelloOk} names none; default 30 s. */
        public Builder defaultHeartbeatSeconds(int seconds) {
            if (seconds < 1) {
                throw new IllegalArgumentException("defaultHeartbeatSeconds must be positive");
            }
            this.defaultHeartbeatSeconds = seconds;
            return this;
        }

        /**
         * Largest frame accepted from the server (TCP: its length prefix; WebSocket: one message); default 16 MiB.
         * A larger one ends the connection with {@link DisconnectReason#PROTOCOL_ERROR}.
         */
        public Builder maxInboundFrameBytes(int bytes) {
            if (bytes < 16) {
                throw new IllegalArgumentException("maxInboundFrameBytes too small");
            }
            this.maxInboundFrameBytes = bytes;
            return this;
        }

        /** Out-of-order messages kept per conversation while a gap is fetched; default 10,000. */
        public Builder maxBufferedPerConversation(int count) {
            if (count < 1) {
                throw new IllegalArgumentException("maxBufferedPerConversation must be positive");
            }
            this.maxBufferedPerConversation = count;
            return this;
        }

        /** The event loop group to run on, owned by the caller; default: a one-thread group owned by the client. */
        public Builder resources(ClientResources resources) {
            this.resources = Objects.requireNonNull(resources, "resources");
            return this;
        }

        /**
         * Where uploads and downloads run (they block on HTTP and on files); default: a pool of daemon threads
         * ({@code parley-client-transfer-N}) shared by every client, made on demand and idle ones ended after a
         * minute.
         *
         * @since 1.6
         */
        public Builder transferExecutor(Executor executor) {
            this.transferExecutor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * The HTTP client of uploads and downloads (for a proxy, or TLS settings of its own). Default: one client
         * shared by every client (HTTP/1.1, no redirects, the JDK's default trust store) or, with
         * {@link #trustCertificate}, one per client trusting that certificate, as the message connection does.
         *
         * @since 1.6
         */
        public Builder httpClient(HttpClient httpClient) {
            this.httpClient = Objects.requireNonNull(httpClient, "httpClient");
            return this;
        }

        /**
         * How long one request of an upload or download may take until its answer's headers arrive (a chunk's
         * {@code PATCH} including sending the chunk), and how long a download's body may go without a byte; either
         * beyond it counts as a dropped connection (retried, resumed). Default 60 s.
         *
         * @since 1.6
         */
        public Builder transferTimeout(Duration timeout) {
            this.transferTimeout = positive(timeout, "transferTimeout");
            return this;
        }

        /** Adds a listener for received messages. */
        public Builder messageListener(MessageListener listener) {
            messageListeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** Adds a listener for connection state changes. */
        public Builder connectionListener(ConnectionListener listener) {
            connectionListeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** Adds a listener for read-cursor updates of other members and of this user's other devices. */
        public Builder readListener(ReadListener listener) {
            readListeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** Adds a listener for other members' typing indicators. */
        public Builder typingListener(TypingListener listener) {
            typingListeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * @throws IllegalStateException if the port, device id or token is missing
         * @throws IllegalArgumentException if TLS is on and the {@link #trustCertificate} file cannot be read as PEM
         *     certificates
         */
        public ParleyClient build() {
            if (port < 0) {
                throw new IllegalStateException("port is required");
            }
            if (deviceId == null) {
                throw new IllegalStateException("deviceId is required");
            }
            if (tokens == null) {
                throw new IllegalStateException("a token, token supplier or token provider is required");
            }
            return new ParleyClient(this);
        }

        private static Duration positive(Duration d, String name) {
            Objects.requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " must be positive");
            }
            return d;
        }
    }
}
