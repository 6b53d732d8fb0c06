package io.parley.push.spi;

import org.osgi.annotation.versioning.ConsumerType;

import java.util.concurrent.CompletionStage;

/**
 * Sends push notifications for one platform (FCM, APNs, a vendor's service). Registered as an OSGi service with
 * {@value #PLATFORM} naming the platform, the value clients give as {@code platform} in {@code push.register}; when
 * several services name the same platform the highest {@code service.ranking} wins (then the lowest
 * {@code service.id}). Providers are tracked dynamically: one may come, go or be replaced while the server runs.
 *
 * <p>Threading: {@link #send} is called on a core worker, once per device to notify, and must not block: do the
 * I/O asynchronously and bound your own queue (refuse with {@link Result#failed} when it is full). Retries of
 * temporary failures are the provider's business; the returned stage completes with the final outcome.
 */
@ConsumerType
public interface PushProvider {

    /** Service property (String): the platform served, e.g. {@code "fcm"}. */
    String PLATFORM = "parley.push.platform";

    /**
     * @param push what to show on one device, and the token to reach it with
     * @return completed with {@link Result#sent()}, {@link Result#badToken} (the token is no longer valid: the push
     *         bundle forgets it) or {@link Result#failed}; completing exceptionally counts as failed
     */
    CompletionStage<Result> send(Push push);
}
