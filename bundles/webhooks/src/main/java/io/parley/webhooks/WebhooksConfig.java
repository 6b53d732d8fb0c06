package io.parley.webhooks;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/**
 * Configuration of PID {@code parley.webhooks}. Method names map to keys with {@code _} read as {@code .} (e.g.
 * {@code before_url()} is {@code before.url}). The shipped {@code parley.webhooks.cfg} lists every key with its
 * default; docs/webhooks.md describes the events and the signature.
 */
@ObjectClassDefinition(id = WebhooksComponent.PID, name = "Parley webhooks",
        description = "Before-send (pass, rewrite or veto) and after-send (stored message) HTTP callbacks, signed")
public @interface WebhooksConfig {

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "HMAC-SHA256 key signing every request; at "
            + "least 32 characters; required when before.url or after.urls is set")
    String secret() default "";

    @AttributeDefinition(description = "URL the before-send event is POSTed to; its answer passes, rewrites or vetoes "
            + "the message; empty: no before-send webhook")
    String before_url() default "";

    @AttributeDefinition(description = "Budget of one before-send call in milliseconds, the request's time-out too")
    int before_timeout_millis() default 200;

    @AttributeDefinition(description = "When the before-send webhook fails or is late: open lets the message pass, "
            + "closed refuses it (retryable UNAVAILABLE)",
            options = {@Option(value = "open", label = "open"), @Option(value = "closed", label = "closed")})
    String before_on_failure() default "open";

    @AttributeDefinition(description = "service.ranking of the before-send interceptor (higher runs first)")
    int before_ranking() default 0;

    @AttributeDefinition(description = "Comma-separated URLs every stored message is POSTed to; empty: none")
    String after_urls() default "";

    @AttributeDefinition(description = "Time-out of one after-send request in milliseconds")
    int after_timeout_millis() default 10_000;

    @AttributeDefinition(description = "Attempts per after-send delivery (the first one included)")
    int after_max_attempts() default 5;

    @AttributeDefinition(description = "Back-off before the first retry, in milliseconds; doubled per retry")
    long after_backoff_initial_millis() default 500;

    @AttributeDefinition(description = "Longest back-off between two attempts, in milliseconds")
    long after_backoff_max_millis() default 30_000;

    @AttributeDefinition(description = "After-send deliveries held at once (sending, waiting to send or to retry); "
            + "beyond it new ones are dropped and logged")
    int after_queue_max() default 10_000;

    @AttributeDefinition(description = "After-send requests in flight at once, over every URL")
    int after_max_in_flight() default 32;

    @AttributeDefinition(description = "Threads of the webhooks' own executor (HTTP client callbacks and timers)")
    int threads() default 2;
}
