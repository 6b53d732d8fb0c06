package io.parley.push.spi;

import java.util.Objects;

/**
 * One push notification for one device: the token to reach it, what to show and which message it is about.
 * Immutable; built by the push bundle with {@link #builder()}.
 */
public final class Push {

    private final String platform;
    private final String token;
    private final String userId;
    private final String deviceId;
    private final String conversation;
    private final long seq;
    private final String messageId;
    private final String title;
    private final String body;

    private Push(Builder b) {
        this.platform = Objects.requireNonNull(b.platform, "platform");
        this.token = Objects.requireNonNull(b.token, "token");
        this.userId = Objects.requireNonNull(b.userId, "userId");
        this.deviceId = Objects.requireNonNull(b.deviceId, "deviceId");
        this.conversation = Objects.requireNonNull(b.conversation, "conversation");
        this.seq = b.seq;
        this.messageId = Objects.requireNonNull(b.messageId, "messageId");
        this.title = Objects.requireNonNull(b.title, "title");
        this.body = Objects.requireNonNull(b.body, "body");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The platform of the token, e.g. {@code "fcm"}: the provider's {@value PushProvider#PLATFORM}. */
    public String platform() {
        return platform;
    }

    /** The device's token as the client registered it. */
    public String token() {
        return token;
    }

    /** The recipient. */
    public String userId() {
        return userId;
    }

    /** The recipient's device the token belongs to. */
    public String deviceId() {
        return deviceId;
    }

    /** The conversation of the message, e.g. {@code "d:alice:bob"}. */
    public String conversation() {
        return conversation;
    }

    /** The message's seq in its conversation (the app fetches from there on). */
    public long seq() {
        return seq;
    }

    /** The server's message id. */
    public String messageId() {
        return messageId;
    }

    /** The notification's title: the sender's user id. */
    public String title() {
        return title;
    }

    /** The notification's text: the message's preview (or the configured neutral text), possibly shortened. */
    public String body() {
        return body;
    }

    @Override
    public String toString() {
        // the token is a credential of sorts: never logged in full
        return "Push{" + platform + " " + userId + "/" + deviceId + " " + conversation + "#" + seq + "}";
    }

    /** Builds a {@link Push}; every String is required, {@code seq} defaults to 0. */
    public static final class Builder {
        private String platform;
        private String token;
        private String userId;
        private String deviceId;
        private String conversation;
        private long seq;
        private String messageId = "";
        private String title = "";
        private String body = "";

        private Builder() {
        }

        public Builder platform(String platform) {
            this.platform = platform;
            return this;
        }

        public Builder token(String token) {
            this.token = token;
            return this;
        }

        public Builder userId(String userId) {
            this.userId = userId;
            return this;
        }

        public Builder deviceId(String deviceId) {
            this.deviceId = deviceId;
            return this;
        }

        public Builder conversation(String conversation) {
            this.conversation = conversation;
            return this;
        }

        public Builder seq(long seq) {
            this.seq = seq;
            return this;
        }

        public Builder messageId(String messageId) {
            this.messageId = messageId;
            return this;
        }

        public Builder title(String title) {
            this.title = title;
            return this;
        }

        public Builder body(String body) {
            this.body = body;
            return this;
        }

        /** @throws NullPointerException if platform, token, user, device or conversation is missing */
        public Push build() {
            return new Push(this);
        }
    }
}
