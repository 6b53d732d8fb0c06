package io.parley.webhooks.internal;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Validated webhook settings. Immutable.
 *
 * @param secret          the HMAC-SHA256 key (its UTF-8 bytes), at least {@value #MIN_SECRET_CHARS} characters
 * @param beforeUrl       where the before-send event goes; null: no before-send webhook
 * @param beforeTimeout   the interceptor's budget and the before-send request's time-out
 * @param beforeFailClosed refuse the message when the webhook fails or is late (else let it pass)
 * @param beforeRanking   the interceptor's service ranking
 * @param afterUrls       where every stored message goes; empty: no after-send webhook
 * @param afterTimeout    time-out of one after-send request
 * @param retry           attempts and back-off of after-send deliveries
 * @param afterQueueMax   after-send deliveries held at once (sending, waiting or backing off)
 * @param afterMaxInFlight after-send requests in flight at once
 * @param threads         threads of the component's executor
 */
public record WebhookSettings(String secret, URI beforeUrl, Duration beforeTimeout, boolean beforeFailClosed,
                              int beforeRanking, List<URI> afterUrls, Duration afterTimeout, Backoff retry,
                              int afterQueueMax, int afterMaxInFlight, int threads) {

    public static final int MIN_SECRET_CHARS = 32;

    public WebhookSettings {
        Objects.requireNonNull(secret, "secret");
        if (secret.length() < MIN_SECRET_CHARS) {
            throw new IllegalArgumentException("secret must have at least " + MIN_SECRET_CHARS + " characters");
        }
        afterUrls = List.copyOf(afterUrls);
        if (beforeUrl == null && afterUrls.isEmpty()) {
            throw new IllegalArgumentException("no webhook URL");
        }
        positive(beforeTimeout, "beforeTimeout");
        positive(afterTimeout, "afterTimeout");
        Objects.requireNonNull(retry, "retry");
        if (afterQueueMax < 1 || afterMaxInFlight < 1 || threads < 1) {
            throw new IllegalArgumentException("afterQueueMax, afterMaxInFlight and threads must be at least 1");
        }
    }

    @Override
    public String toString() { // never the secret
        return "WebhookSettings[before=" + (beforeUrl == null ? "none" : WebhookClient.redact(beforeUrl)) + " ("
                + beforeTimeout.toMillis() + " ms, fail " + (beforeFailClosed ? "closed" : "open") + "), after="
                + afterUrls.stream().map(WebhookClient::redact).toList() + "]";
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive");
        }
    }
}
