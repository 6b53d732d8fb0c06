package io.parley.webhooks.internal;

/** A webhook answered with a non-2xx status or an answer this bundle cannot use. The message says which. */
public final class WebhookException extends RuntimeException {

    public WebhookException(String message) {
        super(message, null, false, false); // expected and logged by message: no stack trace
    }
}
