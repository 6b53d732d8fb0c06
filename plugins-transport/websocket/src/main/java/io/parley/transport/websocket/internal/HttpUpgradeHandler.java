package io.parley.transport.websocket.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker13;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.transport.support.HostHeader;
import io.parley.transport.support.LingeringClose;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP side of a connection, until the upgrade: checks the one request a client sends and either answers it
 * with an error and closes, or performs the RFC 6455 (version 13) handshake, rebuilds the pipeline for WebSocket
 * frames, fires {@link #UPGRADED} to the session handler and removes itself.
 *
 * <p>Answers: bad request (unparsable, or not an upgrade) 400; request line over {@code max.http.request.bytes}
 * 414; header block over it 431; other path 404; a method other than GET 405; a WebSocket version other than 13
 * 426; an origin the {@link OriginPolicy} refuses, or more than one {@code Origin} header, 403; an HTTP version
 * other than 1.1, 505. Before this handler, the aggregator answers a body over {@code max.http.request.bytes} with
 * 413 and an {@code Expect} other than {@code 100-continue} with 417. Every answer closes the connection.
 *
 * <p>The WebSocket pipeline after the upgrade, inbound:
 * <pre>
 * wsdecoder (Netty; masks, control frames, max frame payload = max frame bytes, violations raised, not answered)
 *   -&gt; ws-utf8 (text payloads must be UTF-8: 1007)
 *   -&gt; ws-aggregator (continuation frames joined up to max frame bytes: 1009 beyond)
 *   -&gt; idle (any complete message or control frame is activity)
 *   -&gt; ws-frames (outbound: Frame -&gt; binary message)
 *   -&gt; session ({@link WebSocketSessionHandler})
 * </pre>
 * One instance per channel; runs on the channel's event loop.
 */
final class HttpUpgradeHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    /** User event fired on the pipeline once the handshake response is on its way and frames may flow. */
    static final Object UPGRADED = new Object() {
        @Override
        public String toString() {
            return "WebSocketUpgraded";
        }
    };

    /** The subprotocol echoed to clients that ask for it; clients need not ask. */
    static final String SUBPROTOCOL = "parley.v1";

    private static final Logger LOG = LoggerFactory.getLogger(HttpUpgradeHandler.class);

    private final WebSocketSettings settings;
    private final int maxFrameBytes;

    HttpUpgradeHandler(WebSocketSettings settings, int maxFrameBytes) {
        this.settings = settings;
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!request.decoderResult().isSuccess()) {
            Throwable cause = request.decoderResult().cause();
            if (cause instanceof TooLongHttpLineException) {
                refuse(ctx, HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long");
            } else if (cause instanceof TooLongHttpHeaderException) {
                refuse(ctx, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large");
            } else {
                refuse(ctx, HttpResponseStatus.BAD_REQUEST, "malformed HTTP request");
            }
            return;
        }
        if (!HttpVersion.HTTP_1_1.equals(request.protocolVersion())) {
            // RFC 6455 4.1: the upgrade is an HTTP/1.1 request; Netty parses any "HTTP/x.y"
            refuse(ctx, HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED, "the upgrade must be an HTTP/1.1 request");
            return;
        }
        String hostProblem = HostHeader.problem(request.headers().getAll(HttpHeaderNames.HOST), true);
        if (hostProblem != null) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, hostProblem);
            return;
        }
        String path = new QueryStringDecoder(request.uri()).path();
        if (!path.equals(settings.path())) {
            refuse(ctx, HttpResponseStatus.NOT_FOUND, "not found");
            return;
        }
        if (!HttpMethod.GET.equals(request.method())) {
            refuse(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET upgrades to a WebSocket");
            return;
        }
        if (!request.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)
                || !request.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, "expected a WebSocket upgrade (GET " + settings.path()
                    + " with Connection: Upgrade and Upgrade: websocket)");
            return;
        }
        if (!"13".equals(request.headers().get(HttpHeaderNames.SEC_WEBSOCKET_VERSION))) {
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel())
                    .addListener(LingeringClose.afterWrite(LingeringClose.DEFAULT_LINGER_MILLIS));
            return;
        }
        if (!validKey(request.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_KEY))) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, "Sec-WebSocket-Key must be one base64-encoded 16-byte value");
            return;
        }
        if (request.headers().getAll(HttpHeaderNames.ORIGIN).size() > 1) {
            // a browser sends one; two cannot be judged (which one would a proxy or the policy look at?)
            LOG.info("Refusing WebSocket upgrade from {}: more than one Origin header", ctx.channel().remoteAddress());
            refuse(ctx, HttpResponseStatus.FORBIDDEN, "more than one Origin header");
            return;
        }
        String origin = request.headers().get(HttpHeaderNames.ORIGIN);
        if (!settings.origins().allows(origin)) {
            LOG.info("Refusing WebSocket upgrade from {}: origin {} not in allowed.origins",
                    ctx.channel().remoteAddress(), origin);
            refuse(ctx, HttpResponseStatus.FORBIDDEN, "origin not allowed");
            return;
        }
        WebSocketServerHandshaker13 handshaker = new WebSocketServerHandshaker13(settings.path(), SUBPROTOCOL,
                WebSocketDecoderConfig.newBuilder()
                        .maxFramePayloadLength(maxFrameBytes)
                        .expectMaskedFrames(true)
                        .allowMaskMismatch(false)
                        .allowExtensions(false)
                        .closeOnProtocolViolation(false)
                        .withUTF8Validator(false)
                        .build());
        ChannelFuture handshake;
        try {
            handshake = handshaker.handshake(ctx.channel(), request);
        } catch (WebSocketHandshakeException e) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, e.getMessage());
            return;
        }
        handshake.addListener(ChannelFutureListener.CLOSE_ON_FAILURE);

        ChannelPipeline pipeline = ctx.pipeline();
        String self = ctx.name();
        pipeline.addBefore(self, "ws-utf8", new Utf8FrameValidator(false));
        pipeline.addBefore(self, "ws-aggregator", new WebSocketFrameAggregator(maxFrameBytes));
        if (!settings.server().idleTimeout().isZero()) {
            pipeline.addBefore(self, "idle", new IdleStateHandler(
                    settings.server().idleTimeout().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
        }
        pipeline.addBefore(self, "ws-frames", BinaryFrameEncoder.INSTANCE);
        ctx.fireUserEventTriggered(UPGRADED);
        pipeline.remove(this);
    }

    private static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String text) {
        LOG.debug("Answering {} to {}: {}", status.code(), ctx.channel().remoteAddress(), text);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(text + "\n", StandardCharsets.UTF_8));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes())
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        if (status.equals(HttpResponseStatus.METHOD_NOT_ALLOWED)) {
            response.headers().set(HttpHeaderNames.ALLOW, HttpMethod.GET.name());
        }
        ctx.writeAndFlush(response).addListener(LingeringClose.afterWrite(LingeringClose.DEFAULT_LINGER_MILLIS));
    }

    /** RFC 6455 §4.2.1: exactly one {@code Sec-WebSocket-Key}, the base64 encoding of 16 bytes (24 characters). */
    static boolean validKey(List<String> keys) {
        if (keys.size() != 1 || keys.get(0).length() != 24) {
            return false;
        }
        try {
            return Base64.getDecoder().decode(keys.get(0)).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
