package io.parley.push.internal;

import io.parley.core.proto.Message;
import io.parley.core.spi.delivery.Notification;
import io.parley.push.internal.TokenStore.DeviceToken;
import io.parley.push.spi.Push;
import io.parley.push.spi.PushProvider;
import io.parley.push.spi.Result;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Turns one notification into pushes: for each recipient that has not muted the conversation, one {@link Push} per
 * device with a token, handed to the provider of the token's platform. {@link #dispatch} returns once every push is
 * handed off (providers must not block); outcomes arrive later on the providers' threads: a bad token is removed
 * from the store, failures are counted and logged through a {@link RateLimitedLog}. Nothing is thrown at the caller.
 *
 * <p>Title: the sender's user id (group names are not known here). Text: the message's preview, or
 * {@link Settings#hiddenText()} when previews are off or empty, cut to {@link Settings#maxChars()}.
 *
 * <p>Thread-safe; no state but counters.
 */
public final class PushDispatcher {

    private static final Logger LOG = LoggerFactory.getLogger(PushDispatcher.class);

    /**
     * @param preview    show the message preview as the notification text
     * @param hiddenText the text when not showing the preview, or when it is empty
     * @param maxChars   the longest text, in chars (at least 2)
     */
    public record Settings(boolean preview, String hiddenText, int maxChars) {
        public Settings {
            maxChars = Math.max(2, maxChars);
        }
    }

    /** Counters since creation; each push handed off ends in exactly one of sent, badTokens, failed. */
    public record Counts(long notifications, long pushes, long sent, long badTokens, long failed, long muted,
                         long noToken, long noProvider) {
    }

    private final TokenStore store;
    private final Function<String, PushProvider> providers;
    private final Settings settings;
    private final LongSupplier clock;
    private final RateLimitedLog log;

    private final LongAdder notifications = new LongAdder();
    private final LongAdder pushes = new LongAdder();
    private final LongAdder sent = new LongAdder();
    private final LongAdder badTokens = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder muted = new LongAdder();
    private final LongAdder noToken = new LongAdder();
    private final LongAdder noProvider = new LongAdder();

    /**
     * @param providers the provider of a platform, or null
     * @param clock     wall clock in epoch milliseconds (mute expiry)
     */
    public PushDispatcher(TokenStore store, Function<String, PushProvider> providers, Settings settings,
                          LongSupplier clock, RateLimitedLog log) {
        this.store = store;
        this.providers = providers;
        this.settings = settings;
        this.clock = clock;
        this.log = log;
    }

    /** Hands one push per unmuted recipient device to its provider; returns without waiting for any. */
    public void dispatch(Notification notification) {
        notifications.increment();
        Message message = notification.message();
        String conversation = message.getConversation();
        String body = body(notification.preview());
        long now = clock.getAsLong();
        for (String user : notification.recipients()) {
            try {
                if (store.muted(user, conversation, now)) {
                    muted.increment();
                    continue;
                }
                var tokens = store.tokens(user);
                if (tokens.isEmpty()) {
                    noToken.increment();
                    continue;
                }
                for (DeviceToken token : tokens) {
                    send(user, token, message, body);
                }
            } catch (RuntimeException e) {
                failed.increment();
                log.warn("store", () -> "Push: reading the push store failed: " + e);
            }
        }
    }

    private void send(String user, DeviceToken token, Message message, String body) {
        PushProvider provider = providers.apply(token.platform());
        if (provider == null) {
            noProvider.increment();
            log.warn("no-provider:" + token.platform(), () -> "Push: no provider for platform '" + token.platform()
                    + "': its pushes are dropped");
            return;
        }
        Push push = Push.builder().platform(token.platform()).token(token.token()).userId(user)
                .deviceId(token.deviceId()).conversation(message.getConversation()).seq(message.getSeq())
                .messageId(message.getId()).title(message.getSender()).body(body).build();
        pushes.increment();
        CompletionStage<Result> outcome;
        try {
            outcome = provider.send(push);
        } catch (RuntimeException e) {
            outcome(push, null, e);
            return;
        }
        if (outcome == null) {
            outcome(push, null, new NullPointerException("the provider returned no stage"));
            return;
        }
        outcome.whenComplete((result, error) -> outcome(push, result, error));
    }

    private void outcome(Push push, Result result, Throwable error) {
        if (error != null || result == null) {
            failed.increment();
            log.warn("failed:" + push.platform(), () -> "Push: provider '" + push.platform() + "' failed for "
                    + push + ": " + (error != null ? error : "no result"));
            return;
        }
        switch (result.status()) {
            case SENT -> sent.increment();
            case BAD_TOKEN -> {
                badTokens.increment();
                LOG.info("Push: {} token of {}/{} refused ({}): removing it", push.platform(), push.userId(),
                        push.deviceId(), result.detail());
                store.removeIfToken(push.userId(), push.deviceId(), push.platform(), push.token())
                        .whenComplete((removed, e) -> {
                            if (e != null) {
                                log.warn("remove", () -> "Push: could not remove a refused token: " + e);
                            }
                        });
            }
            case FAILED -> {
                failed.increment();
                log.warn("failed:" + push.platform(), () -> "Push: " + push + " not sent: " + result.detail());
            }
        }
    }

    /** The notification text: the preview (or the neutral text) cut to the configured length. */
    String body(String preview) {
        String text = settings.preview() && !preview.isBlank() ? preview : settings.hiddenText();
        int max = settings.maxChars();
        if (text.length() <= max) {
            return text;
        }
        int cut = max - 1;
        if (Character.isHighSurrogate(text.charAt(cut - 1))) {
            cut--;
        }
        return text.substring(0, cut) + '…';
    }

    public Counts counts() {
        return new Counts(notifications.sum(), pushes.sum(), sent.sum(), badTokens.sum(), failed.sum(), muted.sum(),
                noToken.sum(), noProvider.sum());
    }
}
