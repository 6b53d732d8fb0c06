package io.parley.core.spi.delivery;

import org.osgi.annotation.versioning.ConsumerType;

import java.util.concurrent.CompletionStage;

/**
 * One notification channel beside the core's own online delivery: offline push, webhooks, other nodes. Registered as
 * an OSGi service with {@value #CHANNEL} and optionally {@value #SCOPE} and {@value #CONCURRENCY}.
 *
 * <p>The core calls {@link #dispatch} <b>once per stored message</b> (never per recipient: a message to a
 * 10,000-member group is one call), after the message is durable and acknowledged, on a core worker, with at most
 * {@value #CONCURRENCY} uncompleted stages per dispatcher; further notifications wait in a bounded queue, and overflow
 * is logged and counted, never blocking delivery to online sessions, acknowledgements or other channels. Group events
 * and other system messages are not dispatched.
 *
 * <p>Threading: {@code dispatch} must not block; do I/O asynchronously and complete the stage when done.
 */
@ConsumerType
public interface NotificationDispatcher {

    /** Service property (String): the channel name, e.g. {@code "offline-push"}, {@code "webhook"}. */
    String CHANNEL = "parley.dispatch.channel";

    /**
     * Service property (String): {@value #SCOPE_OFFLINE} (default) — the recipients are the members with no online
     * session on this node (with a cluster link: on no node of the cluster), and a message with none is not
     * dispatched; {@value #SCOPE_ALL} — every member but the sender, with those online named in
     * {@link Notification#online()}. In a cluster only the node that stored the message dispatches it.
     */
    String SCOPE = "parley.dispatch.scope";
    String SCOPE_OFFLINE = "offline";
    String SCOPE_ALL = "all";

    /** Service property (Integer): maximum uncompleted dispatches; default 16. */
    String CONCURRENCY = "parley.dispatch.concurrency";

    /**
     * @param notification the stored message, its preview and its recipients for this channel's scope
     * @return completed when the channel has taken responsibility for the notification
     */
    CompletionStage<Void> dispatch(Notification notification);
}
