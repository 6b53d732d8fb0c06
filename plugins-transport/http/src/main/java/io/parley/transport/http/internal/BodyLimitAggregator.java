package io.parley.transport.http.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

/**
 * {@link HttpObjectAggregator} that does not answer an oversized request itself: it passes an
 * {@link OversizedRequest} on to {@link HttpApiHandler}, which answers 413 with the API's JSON error body in turn
 * with the requests before it. The rest of the oversized body is discarded by the aggregator.
 */
final class BodyLimitAggregator extends HttpObjectAggregator {

    /**
     * A request whose body is over {@code max.body.bytes}.
     *
     * @param closeAfter true if the connection cannot carry another request (the body was partly read already,
     *                   or the client did not ask to keep the connection)
     */
    record OversizedRequest(boolean keepAlive, boolean closeAfter) {
    }

    BodyLimitAggregator(int maxBodyBytes) {
        super(maxBodyBytes);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
        if (!(oversized instanceof HttpRequest)) {
            super.handleOversizedMessage(ctx, oversized);
            return;
        }
        boolean keepAlive = HttpUtil.isKeepAlive(oversized);
        boolean closeAfter = oversized instanceof FullHttpMessage
                || (!HttpUtil.is100ContinueExpected(oversized) && !keepAlive);
        ctx.fireChannelRead(new OversizedRequest(keepAlive, closeAfter));
    }
}
