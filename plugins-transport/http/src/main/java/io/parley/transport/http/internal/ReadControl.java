package io.parley.transport.http.internal;

import io.netty.channel.Channel;

/**
 * Whether one connection reads: it does unless {@link HttpApiHandler} is answering a request (so pipelined requests
 * are paced and answered in order) or {@link BlobUploadHandler} holds an upload's body back until the upload's head
 * has been checked — but always while it lingers before closing. Confined to the channel's event loop.
 */
final class ReadControl {

    private final Channel channel;
    private boolean answering;
    private boolean holding;
    private boolean lingering;

    ReadControl(Channel channel) {
        this.channel = channel;
    }

    /** The API handler is answering a request (true) or is idle (false). */
    void answering(boolean busy) {
        answering = busy;
        apply();
    }

    boolean answering() {
        return answering;
    }

    /** The upload handler holds the body back (true) or lets it come (false). */
    void holding(boolean hold) {
        holding = hold;
        apply();
    }

    /**
     * The connection is closing ({@link io.parley.transport.support.LingeringClose}): it reads (and discards)
     * whatever still comes, whatever an upload's late completion asks for afterwards.
     */
    void lingering() {
        lingering = true;
        apply();
    }

    private void apply() {
        channel.config().setAutoRead(lingering || !answering && !holding);
    }
}
