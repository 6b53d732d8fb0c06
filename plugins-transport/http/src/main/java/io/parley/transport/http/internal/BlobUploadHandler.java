package io.parley.transport.http.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.parley.transport.http.internal.BlobService.BlobRequest;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * Receives the bodies of blob requests, between {@link RequestGate} (which judged the head and passes a
 * {@link BlobRequest} in its place, followed by the body's {@link HttpContent}s) and the body aggregator, which blob
 * requests bypass.
 *
 * <p>{@code GET} and {@code HEAD} are passed on to {@link HttpApiHandler} as they are (their empty body dropped). A
 * {@code PATCH} first takes one of the {@code upload.max.concurrent} permits (none free, or its ticket's user holds a
 * quarter of them: 503, retryable), then its
 * body is held back (the connection stops reading) while {@link BlobService#checkUpload} checks the offset against
 * what has arrived before; a refusal is answered without reading the body, and the connection closes after it.
 * Otherwise the body is gathered into one buffer of exactly {@code Content-Length} bytes, and once complete it is
 * handed to {@link BlobService#write} right away (so chunks of one connection are written in the order they came)
 * and the pending answer ({@link Uploaded}) is passed on, to be written in turn. A connection that closes before the
 * body is complete writes nothing: its buffer and permit are released.
 *
 * <p>Threading: one instance per connection, confined to its event loop.
 */
final class BlobUploadHandler extends ChannelInboundHandlerAdapter {

    /** A chunk handed to the store's workers; {@code answer} completes off the event loop. */
    record Uploaded(BlobRequest request, CompletableFuture<BlobService.Reply> answer) {
    }

    /** The {@code PATCH} being received. */
    private static final class Upload {
        final BlobRequest request;
        final BlobService.Permit permit;
        ByteBuf body;
        boolean checked;
        boolean complete;

        Upload(BlobRequest request, BlobService.Permit permit) {
            this.request = request;
            this.permit = permit;
        }

        void release() {
            if (body != null) {
                body.release();
                body = null;
            }
            permit.release();
        }
    }

    private final BlobService blobs;
    private final ReadControl reads;
    private Upload current;
    private boolean discardingBody;
    private boolean refused;

    BlobUploadHandler(BlobService blobs, ReadControl reads) {
        this.blobs = blobs;
        this.reads = reads;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) { // the connection closes after the refusal's answer: read nothing more
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof BlobRequest request) {
            if (request.kind() == BlobService.Kind.PATCH) {
                start(ctx, request);
            } else {
                discardingBody = true;
                ctx.fireChannelRead(request);
            }
            return;
        }
        if (msg instanceof HttpContent content && (current != null || discardingBody)) {
            try {
                boolean last = content instanceof LastHttpContent;
                if (discardingBody) {
                    discardingBody = !last;
                    return;
                }
                Upload u = current;
                ByteBuf bytes = content.content();
                if (bytes.isReadable()) {
                    if (u.body == null) {
                        u.body = ctx.alloc().directBuffer((int) u.request.length(), (int) u.request.length());
                    }
                    u.body.writeBytes(bytes);
                }
                if (last) {
                    u.complete = true;
                    submitIfReady(ctx, u);
                }
            } finally {
                content.release();
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private void start(ChannelHandlerContext ctx, BlobRequest request) {
        BlobService.Permit permit;
        try {
            permit = blobs.acquire(request.ticket().user());
        } catch (ApiException busy) {
            refuse(ctx, busy, request);
            return;
        }
        Upload u = new Upload(request, permit);
        current = u;
        reads.holding(true);
        blobs.checkUpload(request).whenComplete((ok, error) -> onEventLoop(ctx, u, () -> checked(ctx, u, error)));
    }

    private void checked(ChannelHandlerContext ctx, Upload u, Throwable error) {
        if (current != u) {
            return; // the connection closed meanwhile
        }
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null
                    ? error.getCause() : error;
            refuse(ctx, cause instanceof ApiException e ? e : ApiException.internal("internal error"), u.request);
            return;
        }
        u.checked = true;
        reads.holding(false);
        if (u.request.expectContinue() && !u.complete && !reads.answering()) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
        submitIfReady(ctx, u);
    }

    private void submitIfReady(ChannelHandlerContext ctx, Upload u) {
        if (!u.checked || !u.complete) {
            return;
        }
        current = null;
        ByteBuf body = u.body != null ? u.body : Unpooled.EMPTY_BUFFER;
        u.body = null;
        ctx.fireChannelRead(new Uploaded(u.request, blobs.write(u.request, body, u.permit)));
    }

    /** Answers with {@code error} in turn, releases the upload, and reads nothing more from this connection. */
    private void refuse(ChannelHandlerContext ctx, ApiException error, BlobRequest request) {
        if (error.status() != 409) { // 409s are counted where they are found
            blobs.noteRefusal(error, request.remote());
        }
        refused = true;
        if (current != null) {
            current.release();
            current = null;
        }
        reads.holding(true);
        ctx.fireChannelRead(new RequestGate.Refused(error));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (current != null) {
            current.release();
            current = null;
        }
        super.channelInactive(ctx);
    }

    private static void onEventLoop(ChannelHandlerContext ctx, Upload u, Runnable task) {
        if (ctx.executor().inEventLoop()) {
            task.run();
            return;
        }
        try {
            ctx.executor().execute(task);
        } catch (RejectedExecutionException e) {
            u.release(); // the event loop is gone with the server
        }
    }
}
