package io.parley.client.internal;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.util.ReferenceCountUtil;
import io.parley.core.proto.Frame;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;

/**
 * The WebSocket framing of protocol v1 (RFC 6455, version 13): one serialized {@link Frame} per binary message, in
 * both directions, no length prefix. {@link #addTo} appends to a client pipeline (after any {@code SslHandler}):
 *
 * <pre>
 * HttpClientCodec -&gt; HttpObjectAggregator        (the upgrade request and its answer; Netty removes both after it)
 *   -&gt; WebSocketClientProtocolHandler             (Netty: upgrade, masking, ping -&gt; pong, pongs dropped,
 *                                                   close frame on channel close, max message size)
 *   -&gt; WebSocketFrameAggregator                   (continuation frames joined up to the same limit)
 *   -&gt; {@link Adapter}                               (binary message &lt;-&gt; Frame, close frames, events)
 * </pre>
 *
 * <p>The upgrade starts when the channel becomes active. Its outcome reaches the handlers after this one as a user
 * event {@link TransportEvent#WEBSOCKET_UPGRADED} (only then may frames be written), as
 * {@link TransportEvent#WEBSOCKET_UPGRADE_TIMEOUT} (Netty then closes the channel), or as a
 * {@link WebSocketUpgradeException} through {@code exceptionCaught} (HTTP error status, an answer that is not HTTP
 * or not an upgrade, or the channel closing before the answer; at most one per channel). Inbound
 * messages over {@code maxFrameBytes} raise a {@link io.netty.handler.codec.DecoderException} (Netty answers with
 * close 1009); text messages and binary messages that do not parse raise {@link CorruptedFrameException}. A close
 * frame from the server is answered with the same status and the channel closed. Closing the channel sends close
 * 1000 first (bounded by {@link #CLOSE_TIMEOUT_MILLIS}).
 *
 * <p>Loaded only by clients that use WebSocket, so TCP-only clients run without netty-codec-http.
 */
public final class WebSocketFraming {
    /** The subprotocol asked for; the Parley server echoes it. */
    public static final String SUBPROTOCOL = "parley.v1";
    /** How long closing the channel waits for the close frame to be written before closing the socket anyway. */
    public static final long CLOSE_TIMEOUT_MILLIS = 2000;
    private static final int MAX_UPGRADE_RESPONSE_BYTES = 64 * 1024;
    /** The status Netty gives a response it could not parse as HTTP. */
    private static final int UNPARSABLE_HTTP_STATUS = 999;
    private static final System.Logger LOG = System.getLogger(WebSocketFraming.class.getName());

    private WebSocketFraming() {
    }

    /**
     * Appends the WebSocket handlers to {@code pipeline}; the caller adds its {@code Frame} handler after them.
     *
     * @param uri the {@code ws://} or {@code wss://} URI requested (its host and port give the Host header; TLS
     *     itself is the caller's {@code SslHandler})
     * @param maxFrameBytes largest inbound message accepted
     * @param upgradeTimeoutMillis how long the server has to answer the upgrade request
     */
    public static void addTo(ChannelPipeline pipeline, URI uri, int maxFrameBytes, long upgradeTimeoutMillis) {
        WebSocketClientProtocolConfig config = WebSocketClientProtocolConfig.newBuilder()
                .webSocketUri(uri)
                .subprotocol(SUBPROTOCOL)
                .maxFramePayloadLength(maxFrameBytes)
                // a native client: browsers send Origin, and the server refuses origins it does not list
                .generateOriginHeader(false)
                .handleCloseFrames(false)
                .sendCloseFrame(WebSocketCloseStatus.NORMAL_CLOSURE)
                .forceCloseTimeoutMillis(CLOSE_TIMEOUT_MILLIS)
                .handshakeTimeoutMillis(Math.max(1, upgradeTimeoutMillis))
                .dropPongFrames(true)
                // text messages are refused anyway
                .withUTF8Validator(false)
                .build();
        pipeline.addLast(new HttpClientCodec(),
                new HttpObjectAggregator(MAX_UPGRADE_RESPONSE_BYTES),
                new WebSocketClientProtocolHandler(config),
                new WebSocketFrameAggregator(maxFrameBytes),
                new Adapter());
    }

    /** Binary message &lt;-&gt; {@link Frame}, plus the close and event handling described on the class. */
    private static final class Adapter extends ChannelDuplexHandler {
        /** Set after a message failed to parse: the connection is being closed, later messages are dropped. */
        private boolean broken;
        private boolean upgraded;
        /** The upgrade's failure has been reported (at most one report per channel). */
        private boolean failed;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof WebSocketFrame ws)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                if (broken) {
                    return;
                }
                if (ws instanceof BinaryWebSocketFrame) {
                    Frame frame;
                    try {
                        frame = parse(ws.content());
                    } catch (InvalidProtocolBufferException e) {
                        broken = true;
                        ctx.fireExceptionCaught(new CorruptedFrameException("unparsable frame: " + e.getMessage(), e));
                        return;
                    }
                    ctx.fireChannelRead(frame);
                } else if (ws instanceof CloseWebSocketFrame close) {
                    broken = true;
                    int status = close.statusCode();
                    ctx.writeAndFlush(status < 0 ? new CloseWebSocketFrame()
                            : new CloseWebSocketFrame(status, ""));
                    ctx.close();
                } else if (ws instanceof TextWebSocketFrame) {
                    broken = true;
                    ctx.fireExceptionCaught(new CorruptedFrameException(
                            "text message received: Parley speaks binary messages only"));
                } else if (!(ws instanceof PongWebSocketFrame)) {
                    LOG.log(System.Logger.Level.DEBUG, "ignoring WebSocket frame {0}", ws);
                }
            } finally {
                ReferenceCountUtil.release(ws);
            }
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (msg instanceof Frame frame) {
                ctx.write(new BinaryWebSocketFrame(encode(ctx, frame)), promise);
            } else {
                ctx.write(msg, promise);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            ctx.fireUserEventTriggered(evt);
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                upgraded = true;
                ctx.fireUserEventTriggered(TransportEvent.WEBSOCKET_UPGRADED);
            } else if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_TIMEOUT) {
                failed = true;   // reported as a timeout, not as the close that follows
                ctx.fireUserEventTriggered(TransportEvent.WEBSOCKET_UPGRADE_TIMEOUT);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!upgraded && !failed) {
                // Netty only fails its handshake future here; tell the handlers after this one why
                failed = true;
                ctx.fireExceptionCaught(new WebSocketUpgradeException("WebSocket upgrade failed: the server closed "
                        + "the connection without answering (is this its WebSocket port, and does it expect TLS?)",
                        null));
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof WebSocketClientHandshakeException e) {
                failed = true;
                String why;
                if (e.response() == null) {
                    why = e.getMessage();
                } else if (e.response().status().code() == UNPARSABLE_HTTP_STATUS) {
                    why = "the server did not answer with HTTP (is this its WebSocket port?)";
                } else {
                    why = "HTTP " + e.response().status() + " (" + e.getMessage() + ")";
                }
                ctx.fireExceptionCaught(new WebSocketUpgradeException("WebSocket upgrade failed: " + why, e));
            } else {
                ctx.fireExceptionCaught(cause);
            }
        }
    }

    private static Frame parse(ByteBuf content) throws InvalidProtocolBufferException {
        try {
            return Frame.parseFrom(CodedInputStream.newInstance(content.nioBuffer()));
        } catch (InvalidProtocolBufferException e) {
            throw e;
        } catch (IOException e) {
            throw new InvalidProtocolBufferException(e);
        }
    }

    /** Serializes {@code frame} into a new buffer of exactly its size. */
    private static ByteBuf encode(ChannelHandlerContext ctx, Frame frame) throws IOException {
        int size = frame.getSerializedSize();
        ByteBuf out = ctx.alloc().ioBuffer(size);
        try {
            ByteBuffer nio = out.nioBuffer(0, size);
            CodedOutputStream cos = CodedOutputStream.newInstance(nio);
            frame.writeTo(cos);
            cos.checkNoSpaceLeft();
            out.writerIndex(size);
            return out;
        } catch (IOException | RuntimeException e) {
            out.release();
            throw e;
        }
    }
}
