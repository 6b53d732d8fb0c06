package io.parley.transport.http.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.transport.http.internal.BlobService.BlobRequest;
import io.parley.transport.support.HostHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Decides on each request from its head alone, before any of its body is read, and bounds the time a request may
 * take to arrive. Sits between the HTTP codec and the body aggregator.
 *
 * <p>A request is refused at its head ({@link #admit}) if the connection is over the limits, the head is malformed,
 * the HTTP version is not 1.0 or 1.1, its {@code Host} breaks RFC 9112 §3.2 ({@link HostHeader}), the path is
 * malformed or ambiguous, the route needs the admin token and the head does not carry it, or its body is not allowed
 * (a body outside {@code /v1} or on an endpoint that takes none; a body of another type than
 * {@code application/json}). A refused request is passed on as a {@link Refused} in its
 * place (so {@link HttpApiHandler} answers it in turn), its body is discarded as it arrives without being buffered,
 * and the connection is closed after the answer ({@link io.parley.transport.support.LingeringClose}). So an
 * unauthenticated caller can make the server buffer no body at all, and a cross-site {@code text/plain} form post
 * never reaches an endpoint.
 *
 * <p>Blob paths ({@code /blobs/<key>}) are judged by {@link BlobService#admit} (method, key, ticket, and the
 * headers of an upload); an admitted one is passed on as a {@link BlobRequest} in place of its head, followed by its
 * body's contents, for {@link BlobUploadHandler}. A valid ticket counts as a client's credential for
 * {@link ConnectionSlots} (kept over connections without one, never over the admin's).
 *
 * <p>A {@code PUT /v1/bundles/{name}} that presented the admin token is judged by {@link AdminApi#admitUpload}
 * (media type, declared length within {@code max.bundle.bytes}) and passed on as an {@link AdminApi.BundleUpload}
 * in place of its head, followed by its body's contents, for {@link BundleUploadHandler} to stream to disk.
 *
 * <p>Deadlines: a request head must be complete within {@code header.timeout} of the connection opening or of the
 * first byte of the request arriving; its body within {@code body.timeout} of the head. A request that misses one is
 * answered 408 (as a {@link Refused}) and the connection closed. Between requests, {@code idle.timeout} applies.
 *
 * <p>Threading: one instance per connection, confined to its event loop.
 */
final class RequestGate extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(RequestGate.class);

    /** A request refused at its head, passed on in its place; the connection closes after its answer. */
    record Refused(ApiException error) {
    }

    private final HttpApiServer.Shared shared;
    private final ConnectionSlots slots;
    /** False if the connection got no slot: its first request is refused with 503. */
    private final boolean admitted;
    private boolean discarding;
    private boolean awaitingHead = true;
    private boolean refusedOnce;
    private ScheduledFuture<?> deadline;
    /** Set by {@link #admit} for an admitted blob request; taken at once by {@link #channelRead}. */
    private BlobRequest admittedBlob;
    /** Set by {@link #admit} for an admitted bundle upload ({@link AdminApi}); taken at once by {@link #channelRead}. */
    private AdminApi.BundleUpload admittedBundle;

    RequestGate(HttpApiServer.Shared shared, ConnectionSlots slots, boolean admitted) {
        this.shared = shared;
        this.slots = slots;
        this.admitted = admitted;
    }

    /** Placed before the HTTP codec: arms the head deadline when the first byte of a request arrives. */
    final class ByteWatch extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (awaitingHead && deadline == null && msg instanceof ByteBuf b && b.isReadable()) {
                arm(ctx.pipeline().context(RequestGate.this), shared.settings().headerTimeout().toMillis(), "head");
            }
            ctx.fireChannelRead(msg);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        arm(ctx, shared.settings().headerTimeout().toMillis(), "head");
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        disarm();
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refusedOnce) { // the connection closes after the refusal's answer: read nothing more
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest request) {
            disarm();
            awaitingHead = false;
            ApiException refusal = admit(ctx, request);
            boolean last = msg instanceof LastHttpContent;
            if (refusal != null) {
                ReferenceCountUtil.release(msg);
                refuse(ctx, refusal);
                return;
            }
            BlobRequest blob = admittedBlob;
            admittedBlob = null;
            AdminApi.BundleUpload bundle = admittedBundle;
            admittedBundle = null;
            if (bundle != null) { // streamed by BundleUploadHandler, never aggregated
                if (last) {
                    awaitingHead = true;
                } else {
                    arm(ctx, shared.settings().bodyTimeout().toMillis()
                            + bundle.maxBytes() * 1000 / BlobService.MIN_UPLOAD_BYTES_PER_SECOND, "body");
                }
                ctx.fireChannelRead(bundle);
                if (msg instanceof HttpContent content) {
                    ctx.fireChannelRead(new DefaultLastHttpContent(content.content().retain()));
                }
                ReferenceCountUtil.release(msg);
                return;
            }
            long bodyMillis = shared.settings().bodyTimeout().toMillis();
            if (last) {
                awaitingHead = true;
            } else {
                arm(ctx, blob != null ? BlobService.bodyDeadlineMillis(bodyMillis, blob) : bodyMillis, "body");
            }
            if (blob != null) {
                ctx.fireChannelRead(blob);
                if (msg instanceof HttpContent content) {
                    ctx.fireChannelRead(new DefaultLastHttpContent(content.content().retain()));
                }
                ReferenceCountUtil.release(msg);
                return;
            }
            ctx.fireChannelRead(msg);
            return;
        }
        if (msg instanceof HttpContent) {
            if (msg instanceof LastHttpContent) {
                disarm();
                awaitingHead = true;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void refuse(ChannelHandlerContext ctx, ApiException refusal) {
        refusedOnce = true;
        disarm();
        ctx.fireChannelRead(new Refused(refusal));
    }

    /** @return null if the request may proceed to have its body read; else why not */
    private ApiException admit(ChannelHandlerContext ctx, HttpRequest request) {
        if (!admitted) {
            return ApiException.unavailable("too many connections to the HTTP API (max.connections, "
                    + "max.connections.per.address)");
        }
        DecoderResult decoded = request.decoderResult();
        if (!decoded.isSuccess()) {
            Throwable cause = decoded.cause();
            if (cause instanceof TooLongHttpLineException) {
                return new ApiException(414, "INVALID_REQUEST", "request line too long", false, 0);
            }
            if (cause instanceof TooLongHttpHeaderException) {
                return new ApiException(431, "INVALID_REQUEST", "request headers too large", false, 0);
            }
            return ApiException.invalid("malformed HTTP request");
        }
        HttpVersion version = request.protocolVersion();
        if (!version.equals(HttpVersion.HTTP_1_1) && !version.equals(HttpVersion.HTTP_1_0)) {
            return new ApiException(505, "INVALID_REQUEST", "only HTTP/1.1 and HTTP/1.0 are spoken here", false, 0);
        }
        String hostProblem = HostHeader.problem(request.headers().getAll(HttpHeaderNames.HOST),
                version.equals(HttpVersion.HTTP_1_1));
        if (hostProblem != null) {
            return ApiException.invalid(hostProblem);
        }
        String codings = String.join(", ", request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING)).trim();
        if (!codings.isEmpty() && !codings.equalsIgnoreCase("chunked")) {
            // RFC 9112 §6.1: a transfer coding the server does not know (gzip, …) cannot be read; chunked is the one
            return new ApiException(501, "INVALID_REQUEST", "Transfer-Encoding " + codings
                    + " is not supported: only chunked", false, 0);
        }
        Router.Match match = shared.router().route(request.method().name(), new QueryStringDecoder(request.uri()).rawPath());
        if (match.pathError() != null) {
            return ApiException.invalid(match.pathError());
        }
        if (match.blobKey() != null) {
            Object judged = shared.blobs().admit(request, match.blobKey(),
                    String.valueOf(ctx.channel().remoteAddress()));
            if (judged instanceof ApiException refusal) {
                return refusal;
            }
            slots.ticketed(ctx.channel());
            admittedBlob = (BlobRequest) judged;
            return null;
        }
        HttpHeaders headers = request.headers();
        if (match.needsAdmin()) {
            if (!shared.settings().adminTokenUsable()) {
                return new ApiException(503, "UNAVAILABLE", "the HTTP API is disabled: set admin.token (at least "
                        + HttpApiSettings.MIN_ADMIN_TOKEN_CHARS + " characters) in conf/parley.transport.http.cfg",
                        false, 0);
            }
            if (headers.getAll(HttpHeaderNames.AUTHORIZATION).size() > 1) {
                return ApiException.unauthenticated("more than one Authorization header");
            }
            String authorization = headers.get(HttpHeaderNames.AUTHORIZATION);
            if (!shared.adminToken().matches(authorization)) {
                return ApiException.unauthenticated(authorization == null
                        ? "missing Authorization: Bearer <admin.token>" : "wrong admin token");
            }
            slots.proven(ctx.channel());
        }
        if (match.endpoint() == Router.Endpoint.PUT_BUNDLE) {
            Object judged = shared.admin().admitUpload(request, match.param("name"));
            if (judged instanceof ApiException refusal) {
                return refusal;
            }
            admittedBundle = (AdminApi.BundleUpload) judged;
            return null;
        }
        boolean hasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
        boolean takesBody = match.endpoint() != null && match.endpoint().method().equals(HttpMethod.POST.name());
        if (takesBody) {
            if (!isJson(headers.get(HttpHeaderNames.CONTENT_TYPE))) {
                return new ApiException(415, "UNSUPPORTED_MEDIA_TYPE",
                        "the request body must be sent as Content-Type: application/json", false, 0);
            }
        } else if (hasBody && (match.endpoint() != null || !match.needsAdmin())) {
            // an authenticated caller's body on an unknown /v1 path is read and answered 404/405 like any other
            return ApiException.invalid(request.method().name() + " " + (match.endpoint() != null
                    ? match.endpoint().template() : "outside /v1") + " takes no request body");
        }
        return null;
    }

    /** {@code application/json}, optionally with {@code charset=utf-8}; JSON is UTF-8. */
    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        String[] parts = contentType.split(";");
        if (!parts[0].trim().equalsIgnoreCase("application/json")) {
            return false;
        }
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim().toLowerCase(Locale.ROOT).replace(" ", "");
            if (!p.isEmpty() && !p.equals("charset=utf-8") && !p.equals("charset=\"utf-8\"")) {
                return false;
            }
        }
        return true;
    }

    private void arm(ChannelHandlerContext ctx, long millis, String what) {
        if (millis <= 0 || deadline != null) {
            return;
        }
        deadline = ctx.executor().schedule(() -> {
            deadline = null;
            if (!ctx.channel().isActive() || refusedOnce) {
                return;
            }
            LOG.debug("HTTP API: {} did not send its request {} within {} ms; closing the connection",
                    ctx.channel().remoteAddress(), what, millis);
            slots.timedOut();
            if (what.equals("body")) {
                // the aggregator holds a partial request: the answer must not wait behind it
                ctx.close();
                return;
            }
            refuse(ctx, new ApiException(408, "TIMEOUT", "the request " + what + " did not arrive within " + millis
                    + " ms", false, 0));
        }, millis, TimeUnit.MILLISECONDS);
    }

    private void disarm() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }
}
