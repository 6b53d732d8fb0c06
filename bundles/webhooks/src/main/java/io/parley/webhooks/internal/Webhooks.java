package io.parley.webhooks.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;

/**
 * The running webhooks of one configuration: one {@link WebhookClient} (executor + HTTP client) shared by the
 * before-send interceptor and the after-send channel. Plain Java; the DS component registers the two parts and
 * {@link #close()}s this on deactivation.
 */
public final class Webhooks implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Webhooks.class);

    private final WebhookClient client;
    private final BeforeSendWebhook beforeSend;
    private final AfterSendWebhooks afterSend;

    public Webhooks(WebhookSettings settings, Clock clock) {
        this.client = new WebhookClient(settings.secret(), settings.threads(), clock);
        EventJson json = new EventJson();
        this.beforeSend = settings.beforeUrl() == null ? null
                : new BeforeSendWebhook(client, json, settings.beforeUrl(), settings.beforeTimeout());
        this.afterSend = settings.afterUrls().isEmpty() ? null
                : new AfterSendWebhooks(client, json, settings.afterUrls(), settings.afterTimeout(), settings.retry(),
                settings.afterQueueMax(), settings.afterMaxInFlight());
    }

    /** @return the interceptor, or null without before.url */
    public BeforeSendWebhook beforeSend() {
        return beforeSend;
    }

    /** @return the notification channel, or null without after.urls */
    public AfterSendWebhooks afterSend() {
        return afterSend;
    }

    /** Stops every thread this started; after-send deliveries still held are abandoned (and logged). */
    @Override
    public void close() {
        int abandoned = afterSend == null ? 0 : afterSend.held();
        client.close();
        if (abandoned > 0) {
            LOG.warn("Webhooks stopped with {} after-send deliveries not yet done; they are abandoned", abandoned);
        }
    }
}
