package io.parley.webhooks.internal;

import io.parley.core.proto.Message;
import io.parley.core.spi.intercept.SendInterceptor;
import io.parley.core.spi.intercept.Verdict;

import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The before-send webhook: POSTs {@code message.before_send} for each message and turns the answer into a
 * {@link Verdict} ({@link EventJson#verdict}). A non-2xx status, an unusable answer, a transport error or the
 * request's own time-out (the interceptor's budget) completes the stage exceptionally, and the core applies the
 * configured policy (fail open or closed). One attempt per message: the budget leaves no room for retries.
 *
 * <p>Threading: {@link #beforeSend} only builds the JSON and hands the request to the {@link WebhookClient}; the stage
 * completes on the client's executor. Thread-safe.
 */
public final class BeforeSendWebhook implements SendInterceptor {

    /** Longest answer read, in bytes (a rewritten body is at most the core's max.body.bytes, 32 KiB by default). */
    public static final int MAX_ANSWER_BYTES = 1 << 20;

    private final WebhookClient client;
    private final EventJson json;
    private final URI url;
    private final Duration timeout;

    public BeforeSendWebhook(WebhookClient client, EventJson json, URI url, Duration timeout) {
        this.client = client;
        this.json = json;
        this.url = url;
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<Verdict> beforeSend(Message message) {
        byte[] body;
        try {
            body = json.beforeSend(message);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return client.post(url, EventJson.BEFORE_SEND, UUID.randomUUID().toString(), 1, body, timeout,
                        CappedBody.handler(MAX_ANSWER_BYTES))
                .thenApply(this::verdict);
    }

    private Verdict verdict(HttpResponse<byte[]> response) {
        int status = response.statusCode();
        if (status < 200 || status > 299) {
            throw new WebhookException("before-send webhook " + WebhookClient.redact(url) + " answered HTTP " + status);
        }
        try {
            return json.verdict(response.body());
        } catch (WebhookException e) {
            throw new WebhookException("before-send webhook " + WebhookClient.redact(url) + ": " + e.getMessage());
        }
    }
}
