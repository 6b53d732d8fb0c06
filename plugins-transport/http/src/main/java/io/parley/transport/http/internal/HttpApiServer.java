package io.parley.transport.http.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.NettyServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The HTTP JSON API server: Netty's HTTP/1.1 codec, a body limit, and {@link HttpApiHandler}, which turns each
 * call into a protocol request on a trusted core session ({@link CoreGateway}). Plain Java, no OSGi; the lifecycle
 * (event loops, binding, port file, bounded shutdown) is {@link NettyServer}'s.
 *
 * <p>The core may come and go while the server runs: without it {@code /health}
 * answers 503 and every call needing the core a retryable 503; calls waiting on a core that goes away fail at once
 * ({@link #bindReceiver}, {@link #unbindReceiver}).
 *
 * <p>Pipeline, inbound: {@code deadline} (arms the request-head deadline on a request's first byte) → {@code http}
 * (HttpServerCodec; line and header limits) → {@code idle} (closes keep-alive connections idle for
 * {@code idle.timeout.seconds}) → {@code gate} ({@link RequestGate}: decides on each request from its head, before
 * any body is buffered; request deadlines) → {@code blobs} ({@link BlobUploadHandler}: the bodies of blob uploads,
 * which bypass the aggregator) → {@code body} ({@link BodyLimitAggregator}) → {@code api} ({@link HttpApiHandler}).
 * Connections are admitted by {@link ConnectionSlots}.
 *
 * <p>The blob endpoints ({@code /blobs/<key>}, {@link BlobService}) answer 503 while no {@link BlobStore} is bound
 * ({@link #bindBlobStore}, {@link #unbindBlobStore}); the store may change while the server runs.
 *
 * <p>Lifecycle: {@link #start()} once, then {@link #stop()} once (further calls do nothing); both block and must
 * not run on an event loop. Threads: {@code parley-http-boss-1}, {@code io.threads} × {@code parley-http-io-N}, and
 * the blob workers ({@code parley-http-blob-N}, {@code parley-http-blob-sweep}).
 */
public final class HttpApiServer {

    private static final Logger LOG = LoggerFactory.getLogger(HttpApiServer.class);
    /** Where the OpenAPI document is inside this bundle. */
    static final String OPENAPI_RESOURCE = "/openapi.yaml";

    /** What every connection's handler shares; immutable after construction. {@code web} is null if not serving files. */
    record Shared(HttpApiSettings settings, Router router, ApiService service, ApiJson json, AdminToken adminToken,
                  StaticFiles web, BlobService blobs, OpsEndpoints ops, AdminApi admin) {
    }

    private final HttpApiSettings settings;
    private final AtomicReference<Receiver> receiver = new AtomicReference<>();
    private final CoreGateway gateway = new CoreGateway(receiver::get);
    private final Shared shared;
    private final NettyServer server;
    private final ConnectionSlots slots;

    /** A server whose blob endpoints are off (503): no {@code parley.blob} configuration. */
    public HttpApiServer(HttpApiSettings settings, TokenIssuer tokens) {
        this(settings, tokens, BlobSettings.disabled());
    }

    public HttpApiServer(HttpApiSettings settings, TokenIssuer tokens, BlobSettings blobSettings) {
        this.settings = settings;
        ApiJson json = new ApiJson();
        this.shared = new Shared(settings, new Router(),
                new ApiService(gateway, tokens, json, settings.requestTimeout(), openApiDocument()), json,
                new AdminToken(settings.adminTokenUsable() ? settings.adminToken() : null), webFiles(settings),
                new BlobService(blobSettings),
                new OpsEndpoints(settings.adminTokenUsable() ? settings.adminToken() : null, gateway::problems),
                new AdminApi());
        this.server = new NettyServer("HTTP API", "parley-http", settings.server());
        this.slots = new ConnectionSlots(settings.server().maxConnections(), settings.maxConnectionsPerAddress());
    }

    private static StaticFiles webFiles(HttpApiSettings settings) {
        if (settings.webRoot() == null) {
            return null;
        }
        try {
            StaticFiles files = new StaticFiles(settings.webRoot());
            LOG.info("HTTP API serves the web client from {}", files.root());
            return files;
        } catch (IOException e) {
            LOG.warn("HTTP API serves no web client: web.root {} is not a readable directory ({})",
                    settings.webRoot(), e.toString());
            return null;
        }
    }

    /** The OpenAPI document shipped in this bundle. */
    public static byte[] openApiDocument() {
        try (InputStream in = HttpApiServer.class.getResourceAsStream(OPENAPI_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(OPENAPI_RESOURCE + " is missing from the bundle");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + OPENAPI_RESOURCE, e);
        }
    }

    /**
     * Requests the codec may have decoded and not yet seen answered before it fails the connection. While a request
     * is answered the connection does not read ({@link ReadControl}), so what is decoded ahead is what one read
     * brought: at most 64 KiB (Netty's adaptive receive buffer) plus the rest of a request cut by the previous read,
     * and a request is at least 18 bytes ({@code GET / HTTP/1.0} and two line ends). Netty's default, 128, reset
     * clients that pipelined more than 128 small requests in one write, after running some of them.
     */
    static final int MAX_PIPELINE_DEPTH = 65_536 / 18 + 2;

    /**
     * Binds and starts accepting. On failure everything started so far is shut down again.
     *
     * @throws IOException if the address cannot be bound or the port file cannot be written
     */
    public void start() throws IOException {
        int maxLine = settings.maxHttpRequestBytes();
        long idleMillis = settings.server().idleTimeout().toMillis();
        server.start(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                boolean admitted = slots.admit(ch);
                if (admitted) {
                    ch.closeFuture().addListener(f -> slots.closed(ch));
                }
                // a client may send its requests and half-close (RFC 9112 §9.6): they are answered, then it closes
                ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
                RequestGate gate = new RequestGate(shared, slots, admitted);
                ReadControl reads = new ReadControl(ch);
                ChannelPipeline pipeline = ch.pipeline();
                pipeline.addLast("deadline", gate.new ByteWatch());
                pipeline.addLast("http", new HttpServerCodec(new HttpDecoderConfig()
                        .setMaxInitialLineLength(maxLine)
                        .setMaxHeaderSize(maxLine), MAX_PIPELINE_DEPTH));
                if (idleMillis > 0) {
                    pipeline.addLast("idle", new IdleStateHandler(0, 0, idleMillis, TimeUnit.MILLISECONDS));
                }
                pipeline.addLast("gate", gate);
                pipeline.addLast("blobs", new BlobUploadHandler(shared.blobs(), reads));
                pipeline.addLast("bundles", new BundleUploadHandler(shared.admin(), reads));
                pipeline.addLast("body", new BodyLimitAggregator(settings.maxBodyBytes()));
                pipeline.addLast("api", new HttpApiHandler(shared, reads));
            }
        }, "max body " + settings.maxBodyBytes() + " bytes, admin token "
                + (settings.adminTokenUsable() ? "set" : "NOT SET: /v1 refused"));
        shared.blobs().start();
        if (!settings.adminTokenUsable()) {
            LOG.error("The HTTP API refuses every /v1 call (503): admin.token in conf/parley.transport.http.cfg is "
                    + "{}; set a random secret of at least {} characters", settings.adminToken().isEmpty()
                    ? "empty" : "too short", HttpApiSettings.MIN_ADMIN_TOKEN_CHARS);
        }
    }

    /** Closes the listener and every connection and waits (bounded) for the event loops to end. Idempotent. */
    public void stop() {
        server.stop();
        shared.blobs().close();
        shared.admin().close();
        if (shared.web() != null) {
            shared.web().close();
        }
    }

    /** Binds the blob store, replacing any other. Any thread. */
    public void bindBlobStore(BlobStore store) {
        shared.blobs().bindStore(store);
    }

    /** The blob store went away: if it is the bound one, {@code /blobs} answers 503 until another is bound. */
    public void unbindBlobStore(BlobStore store) {
        shared.blobs().unbindStore(store);
    }

    /** The directory the web client is served from, or null if none is. */
    public Path webRoot() {
        return shared.web() == null ? null : shared.web().root();
    }

    /**
     * Binds the core, replacing any other. Any thread. Calls still waiting on a replaced core fail with a retryable
     * 503.
     */
    public void bindReceiver(Receiver core) {
        Receiver previous = receiver.getAndSet(core);
        if (previous != null && previous != core) {
            gateway.receiverGone(previous);
        }
    }

    /**
     * The core went away: if it is the bound one, the API answers 503 until another is bound, and calls waiting on
     * it fail with a retryable 503. Any thread.
     */
    public void unbindReceiver(Receiver core) {
        if (receiver.compareAndSet(core, null)) {
            gateway.receiverGone(core);
        }
    }

    /** The admin endpoints' services (the core's ServerAdmin, the admin bundle's Deployments); any thread. */
    public void bindServerAdmin(io.parley.core.spi.admin.ServerAdmin admin) {
        shared.admin().bindAdmin(admin);
    }

    public void unbindServerAdmin(io.parley.core.spi.admin.ServerAdmin admin) {
        shared.admin().unbindAdmin(admin);
    }

    public void bindDeployments(io.parley.core.spi.admin.Deployments deployments) {
        shared.admin().bindDeployments(deployments);
    }

    public void unbindDeployments(io.parley.core.spi.admin.Deployments deployments) {
        shared.admin().unbindDeployments(deployments);
    }

    /** {@code /metrics}, {@code /health/live} and {@code /health/ready}: bind their services and token here. */
    public OpsEndpoints ops() {
        return shared.ops();
    }

    /** The bound address; null before {@link #start()} succeeded. */
    public InetSocketAddress localAddress() {
        return server.localAddress();
    }

    /** Open HTTP connections. */
    public int connectionCount() {
        return slots.open();
    }

    /** Calls waiting for the core right now. */
    public int callsInFlight() {
        return gateway.inFlight();
    }
}
