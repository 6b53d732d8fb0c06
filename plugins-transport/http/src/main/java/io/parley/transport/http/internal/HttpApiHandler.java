package io.parley.transport.http.internal;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.parley.transport.support.LingeringClose;
import io.parley.transport.http.internal.BlobService.BlobRequest;
import io.parley.transport.http.internal.BodyLimitAggregator.OversizedRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * The last handler of every connection: authenticates, routes and answers requests, one at a time and in order.
 *
 * <p>Order of checks: {@link RequestGate} has already decided on the request's head (connection limits, malformed
 * or ambiguous requests, the admin token for routes that need it, whether a body is allowed and is JSON) and passes
 * a refused request on as a {@link RequestGate.Refused}, answered here in turn; a body over {@code max.body.bytes}
 * arrives as an {@link OversizedRequest} (413). Then an unknown path is 404, a known path with another method 405
 * (with {@code Allow}); the endpoint itself answers the rest. Authorization is decided on the route that matched
 * after decoding ({@link Router.Match#needsAdmin()}), and checked here a second time.
 *
 * <p>Blob requests arrive judged ({@link BlobRequest} for {@code GET} and {@code HEAD}; {@link
 * BlobUploadHandler.Uploaded} for a {@code PATCH} whose chunk is being written) and are answered in turn like the
 * rest by {@link BlobService}; a download's body is streamed ({@link BlobService.Download}) and the next request
 * is taken up only once it has been written. A download that makes no progress for {@code idle.timeout.seconds}
 * (the client stopped reading) is cut.
 *
 * <p>Threading: all state is confined to the channel's event loop. While a request is being answered the channel
 * does not read ({@link ReadControl}), so a client that pipelines is paced and answered in order; requests already
 * decoded wait in a queue. Answers computed elsewhere (the core's workers, the blob workers) hop back to the event
 * loop to be written. Nothing here blocks.
 */
final class HttpApiHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(HttpApiHandler.class);
    private static final String JSON = "application/json; charset=utf-8";

    /**
     * A decoded request, copied out of Netty's buffers; {@code blob} is set for a blob {@code GET} or {@code HEAD},
     * {@code upload} for a blob {@code PATCH} (its answer, already under way).
     */
    private record Pending(String method, String uri, String authorization, String ifNoneMatch, boolean keepAlive,
                           byte[] body, ApiException refusal, OversizedRequest oversized, BlobRequest blob,
                           CompletableFuture<BlobService.Reply> upload) {

        Pending(String method, String uri, String authorization, String ifNoneMatch, boolean keepAlive, byte[] body,
                ApiException refusal, OversizedRequest oversized) {
            this(method, uri, authorization, ifNoneMatch, keepAlive, body, refusal, oversized, null, null);
        }

        static Pending blob(BlobRequest r, CompletableFuture<BlobService.Reply> upload) {
            return new Pending(r.kind().name(), "/blobs/" + r.key(), null, null, r.keepAlive(), null, null, null,
                    upload == null ? r : null, upload);
        }
    }

    /**
     * What to write for one request. {@code etag} non-null marks a static file: it gets validators and the web
     * client's security headers; {@code headOnly} answers a HEAD (headers of the body, no body). {@code headers} are
     * set last (over the defaults); {@code download}, when set, is the body, streamed ({@code body} is then empty);
     * a null {@code contentType} sends none.
     */
    private record Answer(int status, byte[] body, String contentType, String allow, int retryAfterMs,
                          boolean forceClose, String etag, boolean headOnly, Map<String, String> headers,
                          BlobService.Download download) {

        Answer(int status, byte[] body, String contentType, String allow, int retryAfterMs, boolean forceClose) {
            this(status, body, contentType, allow, retryAfterMs, forceClose, null, false, Map.of(), null);
        }

        Answer(int status, byte[] body, String contentType, String allow, int retryAfterMs, boolean forceClose,
               String etag, boolean headOnly) {
            this(status, body, contentType, allow, retryAfterMs, forceClose, etag, headOnly, Map.of(), null);
        }
    }

    /** Sent with every static file: the web client loads only its own scripts and connects to Parley's WebSocket. */
    private static final String CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self' ws: wss:; "
            + "img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    private static final byte[] NO_BODY = new byte[0];

    private final HttpApiServer.Shared shared;
    private final ReadControl reads;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private boolean busy;
    /** The client half-closed: what it sent before is answered, then the connection closes. */
    private boolean inputShut;
    private boolean closing;
    private boolean streaming;

    HttpApiHandler(HttpApiServer.Shared shared, ReadControl reads) {
        this.shared = shared;
        this.reads = reads;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (closing) {
                return;
            }
            if (msg instanceof FullHttpRequest request) {
                queue.add(new Pending(request.method().name(), request.uri(),
                        request.headers().get(HttpHeaderNames.AUTHORIZATION),
                        request.headers().get(HttpHeaderNames.IF_NONE_MATCH), HttpUtil.isKeepAlive(request),
                        ByteBufUtil.getBytes(request.content()), null, null));
            } else if (msg instanceof OversizedRequest oversized) {
                queue.add(new Pending(null, null, null, null, oversized.keepAlive(), null, null, oversized));
            } else if (msg instanceof RequestGate.Refused refused) {
                queue.add(new Pending(null, null, null, null, false, null, refused.error(), null));
            } else if (msg instanceof BlobRequest blob) {
                queue.add(Pending.blob(blob, null));
            } else if (msg instanceof BlobUploadHandler.Uploaded uploaded) {
                queue.add(Pending.blob(uploaded.request(), uploaded.answer()));
            } else if (msg instanceof BundleUploadHandler.Uploaded bundle) { // PUT /v1/bundles/{name}: installing
                queue.add(new Pending("PUT", bundle.request().uri(), null, null, bundle.request().keepAlive(), null,
                        null, null, null, bundle.answer()));
            } else {
                return;
            }
            if (!busy) {
                next(ctx);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof ChannelInputShutdownEvent) { // after the codec decoded what the client sent before it
            inputShut = true;
            if (!busy) {
                closing = true;
                ctx.close();
            }
            return;
        }
        if (evt instanceof IdleStateEvent) {
            if (!busy || streaming) {
                LOG.debug("Closing idle HTTP API connection {}", ctx.channel().remoteAddress());
                closing = true;
                ctx.close();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("HTTP API connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        closing = true;
        ctx.close();
    }

    private void next(ChannelHandlerContext ctx) {
        Pending p = queue.poll();
        if (p == null) {
            busy = false;
            if (inputShut) { // every request the client sent before it half-closed is answered
                closing = true;
                ctx.close();
                return;
            }
            reads.answering(false);
            return;
        }
        busy = true;
        reads.answering(true);
        CompletableFuture<Answer> answer;
        try {
            answer = answer(ctx, p);
        } catch (RuntimeException e) {
            answer = CompletableFuture.failedFuture(e);
        }
        answer.whenComplete((a, error) -> onEventLoop(ctx, () -> write(ctx, p, a != null ? a : failure(p, error))));
    }

    private CompletableFuture<Answer> answer(ChannelHandlerContext ctx, Pending p) {
        if (p.refusal() != null) {
            return refused(p.refusal(), true);
        }
        if (p.oversized() != null) {
            return refused(ApiException.bodyTooLarge("request body is larger than " + shared.settings().maxBodyBytes()
                    + " bytes (max.body.bytes)"), p.oversized().closeAfter());
        }
        if (p.upload() != null) {
            return p.upload().thenApply(this::blobAnswer);
        }
        if (p.blob() != null) {
            BlobService blobs = shared.blobs();
            return (p.blob().kind() == BlobService.Kind.HEAD ? blobs.uploadOffset(p.blob()) : blobs.download(p.blob()))
                    .thenApply(this::blobAnswer);
        }
        QueryStringDecoder uri = new QueryStringDecoder(p.uri());
        String path = uri.rawPath();
        Router.Match match = shared.router().route(p.method(), path);
        if (match.pathError() != null || match.blobKey() != null
                || (match.needsAdmin() && !shared.adminToken().matches(p.authorization()))) {
            // RequestGate refuses these at the head; reaching here would be a bug, so fail closed
            return refused(ApiException.unauthenticated("not authorized"), true);
        }
        if (match.endpoint() == null && match.allowed().isEmpty() && shared.web() != null && !match.underApi()) {
            return staticFile(p, path);
        }
        if (match.endpoint() == null) {
            if (match.allowed().isEmpty()) {
                return refused(ApiException.notFound("no such endpoint: " + path), false);
            }
            String allow = String.join(", ", match.allowed());
            return CompletableFuture.completedFuture(error(ApiException.methodNotAllowed(
                    p.method() + " is not allowed on " + path + " (allowed: " + allow + ")"), allow, false));
        }
        String badQuery = match.underApi() ? Router.checkQuery(match.endpoint(), uri.parameters()) : null;
        if (badQuery != null) {
            return refused(ApiException.invalid(badQuery), false);
        }
        if (AdminApi.handles(match.endpoint())) { // the operator's endpoints (the PUT arrives as an upload)
            return shared.admin().handle(match, new ApiService.Call(uri.parameters(), p.body(),
                    String.valueOf(ctx.channel().remoteAddress()))).thenApply(this::blobAnswer);
        }
        if (OpsEndpoints.serves(match.endpoint())) { // /metrics checks its own token (metrics.token) here
            ApiException refused = shared.ops().refusal(match.endpoint(), p.authorization());
            if (refused != null) {
                return refused(refused, true);
            }
            return shared.ops().handle(match.endpoint(), p.authorization(), ctx.executor()).thenApply(reply ->
                    reply.json() != null
                            ? new Answer(reply.status(), shared.json().write(reply.json()), JSON, null, 0, false)
                            : new Answer(reply.status(), reply.raw(), reply.contentType(), null, 0, false));
        }
        ApiService.Call call = new ApiService.Call(uri.parameters(), p.body(),
                String.valueOf(ctx.channel().remoteAddress()));
        return shared.service().handle(match, call, ctx.executor()).thenApply(reply -> reply.json() != null
                ? new Answer(reply.status(), shared.json().write(reply.json()), JSON, null, 0, false)
                : new Answer(reply.status(), reply.raw(), reply.contentType(), null, 0, false));
    }

    private CompletableFuture<Answer> staticFile(Pending p, String path) {
        boolean head = p.method().equals("HEAD");
        if (!head && !p.method().equals("GET")) {
            return CompletableFuture.completedFuture(error(ApiException.methodNotAllowed(
                    p.method() + " is not allowed on " + path + " (allowed: GET, HEAD)"), "GET, HEAD", false));
        }
        return shared.web().get(path).thenApply(found -> {
            if (found.isEmpty()) {
                return error(ApiException.notFound("no such file: " + path), null, false);
            }
            StaticFiles.File f = found.get();
            if (f.etag().equals(p.ifNoneMatch())) {
                return new Answer(304, new byte[0], f.contentType(), null, 0, false, f.etag(), true);
            }
            return new Answer(200, f.body(), f.contentType(), null, 0, false, f.etag(), head);
        });
    }

    private Answer blobAnswer(BlobService.Reply r) {
        if (r.download() != null) {
            return new Answer(r.status(), NO_BODY, null, null, 0, false, null, false, r.headers(), r.download());
        }
        return r.json() != null
                ? new Answer(r.status(), shared.json().write(r.json()), JSON, null, 0, false, null, false, r.headers(),
                        null)
                : new Answer(r.status(), NO_BODY, null, null, 0, false, null, false, r.headers(), null);
    }

    private CompletableFuture<Answer> refused(ApiException e, boolean close) {
        return CompletableFuture.completedFuture(error(e, null, close));
    }

    private Answer failure(Pending p, Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof ApiException e) {
            return error(e, null, false);
        }
        LOG.error("HTTP API: {} {} failed", p.method(), p.uri(), cause);
        return error(ApiException.internal("internal error"), null, false);
    }

    private Answer error(ApiException e, String allow, boolean close) {
        if (e.status() >= 500) {
            LOG.warn("HTTP API answering {}", e.toString());
        } else {
            LOG.debug("HTTP API answering {}", e.toString());
        }
        Dto.ErrorBody body = new Dto.ErrorBody(new Dto.ErrorView(e.code(), e.getMessage(), e.retryable(),
                e.retryAfterMs()));
        return new Answer(e.status(), shared.json().write(body), JSON, allow, e.retryAfterMs(), close, null, false,
                e.headers(), null);
    }

    private void write(ChannelHandlerContext ctx, Pending p, Answer a) {
        if (!ctx.channel().isActive()) {
            closing = true;
            if (a.download() != null) {
                a.download().close();
            }
            return;
        }
        if (a.download() != null) {
            writeDownload(ctx, p, a);
            return;
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(a.status()),
                a.headOnly() ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(a.body()));
        if (a.contentType() != null) {
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType());
        }
        if (a.status() != 204) { // a 204 has no body and no Content-Length
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, a.status() == 304 ? 0 : a.body().length);
        }
        if (a.etag() != null) {
            // revalidated on every load (cheap: 304), so a redeployed web client is picked up at once
            response.headers()
                    .set(HttpHeaderNames.ETAG, a.etag())
                    .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE)
                    .set("X-Content-Type-Options", "nosniff")
                    .set(HttpHeaderNames.CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
                    .set("Referrer-Policy", "no-referrer");
        } else {
            response.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        }
        if (a.allow() != null) {
            response.headers().set(HttpHeaderNames.ALLOW, a.allow());
        }
        if (a.retryAfterMs() > 0) {
            response.headers().setInt(HttpHeaderNames.RETRY_AFTER, (a.retryAfterMs() + 999) / 1000);
        }
        if (a.status() == 401) {
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"parley\"");
        }
        a.headers().forEach(response.headers()::set);
        boolean keepAlive = p.keepAlive() && !a.forceClose() && !closing;
        HttpUtil.setKeepAlive(response, keepAlive);
        ChannelFuture written = ctx.writeAndFlush(response);
        if (!keepAlive) {
            closing = true;
            queue.clear();
            written.addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    lingeringClose(ctx);
                } else {
                    ctx.close();
                }
            });
            return;
        }
        written.addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                next(ctx);
            } else {
                closing = true;
                ctx.close();
            }
        });
    }

    /** After the last answer: the client may still be sending (a refused body), so shut down and linger. */
    private void lingeringClose(ChannelHandlerContext ctx) {
        reads.lingering();
        LingeringClose.close(ctx.channel(), LingeringClose.DEFAULT_LINGER_MILLIS);
    }

    /** The head now, the body streamed; the next request is taken up once the last byte is written. */
    private void writeDownload(ChannelHandlerContext ctx, Pending p, Answer a) {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(a.status()));
        a.headers().forEach(head.headers()::set);
        head.headers().set(HttpHeaderNames.CONTENT_LENGTH, a.download().length());
        boolean keepAlive = p.keepAlive() && !closing;
        HttpUtil.setKeepAlive(head, keepAlive);
        ctx.write(head);
        streaming = true;
        ChannelPromise done = ctx.newPromise();
        done.addListener(f -> {
            streaming = false;
            if (!f.isSuccess()) {
                LOG.debug("HTTP API: download of {} to {} cut: {}", p.uri(), ctx.channel().remoteAddress(),
                        String.valueOf(f.cause()));
                closing = true;
                ctx.close();
            } else if (!keepAlive) {
                closing = true;
                queue.clear();
                lingeringClose(ctx);
            } else {
                next(ctx);
            }
        });
        a.download().writeTo(ctx, done);
    }

    private static void onEventLoop(ChannelHandlerContext ctx, Runnable task) {
        if (ctx.executor().inEventLoop()) {
            task.run();
            return;
        }
        try {
            ctx.executor().execute(task);
        } catch (RejectedExecutionException e) {
            // the server is stopping and its event loops are gone; the connection goes with them
        }
    }
}
