package io.parley.push;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of the push bundle, PID {@value PushComponent#PID}, read by {@link PushComponent} (store, commands,
 * channel) and {@link FcmProviderComponent}; defaults mirror {@code conf/parley.push.cfg}. A change restarts both.
 */
@ObjectClassDefinition(id = PushComponent.PID, name = "Parley offline push")
public @interface PushConfig {

    @AttributeDefinition(description = "Directory of the token and mute store push.mv.db; a relative path is "
            + "resolved against system property parley.home if set, else the working directory")
    String dir() default "data/push";

    @AttributeDefinition(description = "Token and mute writes waiting for the store's writer before commands are "
            + "refused as retryable UNAVAILABLE")
    int queue_max() default 10000;

    @AttributeDefinition(description = "Show the message's preview as the notification text; false shows "
            + "preview.hidden.text instead")
    boolean preview() default true;

    @AttributeDefinition(description = "Notification text when preview is false or the message has no preview")
    String preview_hidden_text() default "New message";

    @AttributeDefinition(description = "Longest notification text in characters; longer previews are cut and "
            + "end with an ellipsis")
    int preview_max_chars() default 200;

    @AttributeDefinition(description = "FCM HTTP v1 API base URL; pushes are POSTed to "
            + "{endpoint}/v1/projects/{project}/messages:send")
    String fcm_endpoint() default "https://fcm.googleapis.com";

    @AttributeDefinition(description = "FCM project id; empty switches the FCM provider off")
    String fcm_project() default "";

    @AttributeDefinition(description = "Bearer token sent as Authorization with every FCM request",
            type = AttributeType.PASSWORD)
    String fcm_credential() default "";

    @AttributeDefinition(description = "Milliseconds to connect and to get an answer, per FCM request")
    long fcm_timeout_millis() default 10000;

    @AttributeDefinition(description = "Retries of a push that got 429, 5xx, a time-out or no connection")
    int fcm_retries() default 3;

    @AttributeDefinition(description = "Milliseconds before the first retry, doubled for each next one (a longer "
            + "Retry-After from FCM wins, up to 60 s)")
    long fcm_retry_base_millis() default 1000;

    @AttributeDefinition(description = "Most FCM requests in flight (or waiting to retry) at once")
    int fcm_max_in_flight() default 64;

    @AttributeDefinition(description = "Most pushes waiting for a free request slot; further pushes fail and are "
            + "counted")
    int fcm_queue_max() default 10000;
}
