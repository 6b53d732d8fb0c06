package io.parley.core.spi.transport;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.concurrent.CompletionStage;

/**
 * One client connection as a transport presents it to the core. Implemented by transports.
 *
 * <p>Threading: every method may be called from any thread and must not block. Frames sent from one thread
 * are written in the order sent. Transports coalesce flushes, so many {@link #send} calls in a burst cost one
 * system call.
 *
 * <p>Outbound memory is bounded: when the frames queued for a client that does not read exceed the transport's
 * limit, the transport sends {@code Notice.KIND_SLOW_CONSUMER} if it can and closes the connection; the device
 * catches up through sync after it reconnects.
 */
@ConsumerType
public interface Connection {

    /** Queue a frame for writing. Frames sent after {@link #close} are dropped. */
    void send(Frame frame);

    /**
     * Queue a frame and flush it; the stage completes when the frame has been written to the socket (or fails
     * when the connection closes first). Used to pace long streams such as a resume sync.
     */
    CompletionStage<Void> sendFlushed(Frame frame);

    /**
     * Send {@code notice} (if non-null) after what is queued, then close. Idempotent. The transport then calls
     * {@link InboundSession#onClosed()}.
     */
    void close(Notice notice);

    /** e.g. {@code "tcp"}, {@code "websocket"} */
    String transport();

    /** The peer's address for logs, e.g. {@code "127.0.0.1:53412"}. */
    String remoteAddress();
}
