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
import io.parley.transport.http.internal.AdminApi.BundleUpload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

/**
 * Streams the body of a {@code PUT /v1/bundles/{name}} to a staging file of the admin bundle (under
 * {@code data/tmp}, outside {@code deploy/}), between {@link RequestGate} (which judged the head and passes a
 * {@link BundleUpload} in its place, followed by the body's {@link HttpContent}s) and the body aggregator, which
 * these requests bypass.
 *
 * <p>Each chunk is copied into a write on {@link AdminApi}'s pool, in order; while more than {@value #HIGH_WATER}
 * bytes wait to be written the connection stops reading, so memory per upload stays bounded. A body that grows past
 * {@code max.bundle.bytes} is refused with 413 at once (the rest is not read, the connection closes after the
 * answer) and its file deleted. Once the body is complete the install runs on the pool ({@link AdminApi#install})
 * and its pending answer is passed on ({@link Uploaded}) to be written in turn. A connection that closes before the
 * body is complete installs nothing; its file is deleted.
 *
 * <p>Threading: one instance per connection, confined to its event loop; file work happens on the pool.
 */
final class BundleUploadHandler extends ChannelInboundHandlerAdapter {

    static final int HIGH_WATER = 1 << 20;
    static final int LOW_WATER = 256 << 10;

    /** An upload whose install is under way; {@code answer} completes off the event loop. */
    record Uploaded(BundleUpload request, CompletableFuture<BlobService.Reply> answer) {
    }

    /** The upload being received; the file fields are touched only by tasks on the pool, chained in order. */
    private static final class Upload {
        final BundleUpload request;
        Path file;
        FileChannel channel;
        long received;
        long queued;
        CompletableFuture<Void> tail;

        Upload(BundleUpload request) {
            this.request = request;
        }

        /** On the pool: closes and deletes the file. */
        void discard() {
            try {
                if (channel != null) {
                    channel.close();
                }
                if (file != null) {
                    Files.deleteIfExists(file);
                }
            } catch (IOException ignored) {
                // data/tmp
            }
        }
    }

    private final AdminApi admin;
    private final ReadControl reads;
    private Upload current;
    private boolean refused;

    BundleUploadHandler(AdminApi admin, ReadControl reads) {
        this.admin = admin;
        this.reads = reads;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof BundleUpload request) {
            Upload u = new Upload(request);
            current = u;
            u.tail = admin.after(CompletableFuture.completedFuture(null), () -> {
                try {
                    u.file = request.deployments().stagingFile();
                    u.channel = FileChannel.open(u.file, StandardOpenOption.WRITE,
                            StandardOpenOption.TRUNCATE_EXISTING);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            if (request.expectContinue() && !reads.answering()) {
                ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                        Unpooled.EMPTY_BUFFER));
            }
            return;
        }
        if (msg instanceof HttpContent content && current != null) {
            try {
                received(ctx, current, content);
            } finally {
                content.release();
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private void received(ChannelHandlerContext ctx, Upload u, HttpContent content) {
        ByteBuf bytes = content.content();
        int n = bytes.readableBytes();
        if (n > 0) {
            u.received += n;
            if (u.received > u.request.maxBytes()) {
                refuse(ctx, u, ApiException.bodyTooLarge("the jar is larger than " + u.request.maxBytes()
                        + " bytes (max.bundle.bytes in conf/parley.admin.cfg)"));
                return;
            }
            ByteBuf copy = bytes.retainedDuplicate();
            u.queued += n;
            u.tail = admin.after(u.tail, () -> {
                try {
                    java.nio.ByteBuffer b = copy.nioBuffer();
                    while (b.hasRemaining()) {
                        u.channel.write(b);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            u.tail.whenComplete((v, e) -> {
                copy.release();
                onEventLoop(ctx, () -> {
                    u.queued -= n;
                    if (current == u && u.queued < LOW_WATER) {
                        reads.holding(false);
                    }
                });
            });
            if (u.queued > HIGH_WATER) {
                reads.holding(true);
            }
        }
        if (content instanceof LastHttpContent) {
            current = null;
            reads.holding(false);
            CompletableFuture<BlobService.Reply> answer = new CompletableFuture<>();
            u.tail.whenComplete((v, writeError) -> {
                if (writeError != null) {
                    admin.after(CompletableFuture.completedFuture(null), u::discard);
                    answer.completeExceptionally(ApiException.internal("cannot write the upload: "
                            + rootMessage(writeError)));
                    return;
                }
                admin.async(() -> {
                    try {
                        u.channel.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    return admin.install(u.request, u.file); // moves or deletes the file
                }).whenComplete((reply, e) -> {
                    if (e != null) {
                        admin.after(CompletableFuture.completedFuture(null), u::discard);
                        answer.completeExceptionally(e);
                    } else {
                        answer.complete(reply);
                    }
                });
            });
            ctx.fireChannelRead(new Uploaded(u.request, answer));
        }
    }

    /** Answers with {@code error} in turn, discards the upload, and reads nothing more from this connection. */
    private void refuse(ChannelHandlerContext ctx, Upload u, ApiException error) {
        refused = true;
        current = null;
        admin.after(u.tail.handle((v, e) -> null), u::discard);
        reads.holding(true);
        ctx.fireChannelRead(new RequestGate.Refused(error));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        Upload u = current;
        if (u != null) {
            current = null;
            admin.after(u.tail.handle((v, e) -> null), u::discard);
        }
        super.channelInactive(ctx);
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null) {
            c = c.getCause();
        }
        return String.valueOf(c.getMessage());
    }

    private static void onEventLoop(ChannelHandlerContext ctx, Runnable task) {
        if (ctx.executor().inEventLoop()) {
            task.run();
            return;
        }
        try {
            ctx.executor().execute(task);
        } catch (RejectedExecutionException e) {
            // the event loop is gone with the server
        }
    }
}
