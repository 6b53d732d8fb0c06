package io.parley.core.spi.intercept;

import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.concurrent.CompletionStage;

/**
 * Sees every message before it is stored (after its type's processor accepted it; relayed messages and system events
 * are not intercepted) and decides: {@link Verdict#pass()}, {@link Verdict#rewrite} (body or ext) or
 * {@link Verdict#veto}. Registered as an OSGi service; interceptors run one after the other, highest
 * {@code service.ranking} first, each seeing the previous one's rewrite; the first veto ends the chain and the client
 * gets its code and reason, nothing is stored.
 *
 * <p>Each call has a time budget ({@value #TIMEOUT_MILLIS}, default 200 ms). An interceptor that does not answer in
 * time, or fails, is treated by its {@value #ON_FAILURE} policy: {@value #FAIL_OPEN} (default) lets the message pass
 * as it was, {@value #FAIL_CLOSED} refuses it with the retryable {@code UNAVAILABLE}. Either is counted and logged.
 *
 * <p>Threading: called on a core worker, never on a network thread; must not block (do I/O asynchronously). The
 * connection's next frame waits for the chain, so keep it fast.
 */
@ConsumerType
public interface SendInterceptor {

    /** Service property (String): the interceptor's name, for logs. */
    String NAME = "parley.intercept.name";

    /** Service property (Integer): the time budget of one call, in milliseconds; default 200. */
    String TIMEOUT_MILLIS = "parley.intercept.timeout.millis";

    /** Service property (String): {@value #FAIL_OPEN} (default) or {@value #FAIL_CLOSED}. */
    String ON_FAILURE = "parley.intercept.on.failure";
    String FAIL_OPEN = "open";
    String FAIL_CLOSED = "closed";

    /**
     * @param message the message as it would be stored (id, sender, sender_device, conversation, server_time, type,
     *                body, ext; seq not yet assigned)
     * @return the verdict; completing exceptionally counts as a failure (see the class comment)
     */
    CompletionStage<Verdict> beforeSend(Message message);
}
