package io.parley.core.spi;

import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.concurrent.CompletionStage;

/**
 * One notification channel beside the core's own online delivery: offline push, webhooks, other nodes.
 * Registered as an OSGi service with {@value #CHANNEL} and optionally {@value #SCOPE} and {@value #CONCURRENCY}.
 *
 * <p>The core calls {@link #dispatch} after the message is stored and acknowledged, on a core worker, with at
 * most {@value #CONCURRENCY} uncompleted stages per dispatcher; further notifications wait in a bounded queue,
 * and overflow is logged and counted, never blocking delivery to online sessions or other channels.
 */
@ConsumerType
public interface NotificationDispatcher {

    /** Service property (String): the channel name, e.g. {@code "offline-push"}, {@code "webhook"}. */
    String CHANNEL = "parley.dispatch.channel";

    /**
     * Service property (String): {@value #SCOPE_OFFLINE} (default) — called for recipients with no online
     * session on this node; {@value #SCOPE_ALL} — called for every recipient of every message.
     */
    String SCOPE = "parley.dispatch.scope";
    String SCOPE_OFFLINE = "offline";
    String SCOPE_ALL = "all";

    /** Service property (Integer): maximum uncompleted dispatches; default 16. */
    String CONCURRENCY = "parley.dispatch.concurrency";

    /**
     * @param recipient the user to notify
     * @param message   the stored message, with its seq
     * @param preview   the processor's preview text
     * @return completed when the channel has taken responsibility for the notification
     */
    CompletionStage<Void> dispatch(String recipient, Message message, String preview);
}
