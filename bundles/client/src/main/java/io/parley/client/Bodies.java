package io.parley.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.Message;
import io.parley.type.emoji.proto.Emoji;
import io.parley.type.text.proto.Text;

/**
 * Builds and reads message bodies of the standard types. The body messages are generated at build time from the
 * same {@code .proto} files the types' bundles ship (one definition, as for the web client and the HTTP API), into
 * a private copy here, so the SDK does not depend on a bundle that is hot-swapped.
 *
 * <p>Text: type {@value #TEXT_TYPE}, body an {@link Any} packing {@code parley.text.v1.Text { string text = 1; }}
 * with type URL {@value #TEXT_TYPE_URL}. Emoji: type {@value #EMOJI_TYPE}, {@code parley.emoji.v1.Emoji { string
 * emoji = 1; }} with type URL {@value #EMOJI_TYPE_URL}. Stateless and thread-safe.
 */
public final class Bodies {
    /** The message type (routing key) of text messages. */
    public static final String TEXT_TYPE = "text";
    /** The {@link Any#getTypeUrl() type URL} of a packed {@code parley.text.v1.Text}. */
    public static final String TEXT_TYPE_URL = "type.googleapis.com/parley.text.v1.Text";
    /** The message type (routing key) of emoji messages (the optional emoji bundle). */
    public static final String EMOJI_TYPE = "emoji";
    /** The type URL of a packed {@code parley.emoji.v1.Emoji}. */
    public static final String EMOJI_TYPE_URL = "type.googleapis.com/parley.emoji.v1.Emoji";

    private Bodies() {
    }

    /** @return an {@link Any} packing {@code parley.text.v1.Text{text}} */
    public static Any text(String text) {
        if (text == null) {
            throw new NullPointerException("text");
        }
        return Any.pack(Text.newBuilder().setText(text).build());
    }

    /** @return true if {@code body} packs a {@code parley.text.v1.Text} */
    public static boolean isText(Any body) {
        return body != null && TEXT_TYPE_URL.equals(body.getTypeUrl());
    }

    /**
     * @return the text of a packed {@code parley.text.v1.Text} (unknown fields are skipped)
     * @throws IllegalArgumentException if {@code body} is not a text body or does not parse
     */
    public static String textOf(Any body) {
        if (!isText(body)) {
            throw new IllegalArgumentException("not a text body: " + (body == null ? null : body.getTypeUrl()));
        }
        try {
            return Text.parseFrom(body.getValue()).getText();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("malformed text body", e);
        }
    }

    /**
     * @return the text of a text message
     * @throws IllegalArgumentException if its body is not a text body
     */
    public static String textOf(Message message) {
        return textOf(message.getBody());
    }

    /**
     * @return an {@link Any} packing {@code parley.emoji.v1.Emoji{emoji}}
     * @since 1.4
     */
    public static Any emoji(String emoji) {
        if (emoji == null) {
            throw new NullPointerException("emoji");
        }
        return Any.pack(Emoji.newBuilder().setEmoji(emoji).build());
    }

    /**
     * @return the emoji of a packed {@code parley.emoji.v1.Emoji}
     * @throws IllegalArgumentException if {@code body} is not an emoji body or does not parse
     * @since 1.4
     */
    public static String emojiOf(Any body) {
        if (body == null || !EMOJI_TYPE_URL.equals(body.getTypeUrl())) {
            throw new IllegalArgumentException("not an emoji body: " + (body == null ? null : body.getTypeUrl()));
        }
        try {
            return Emoji.parseFrom(body.getValue()).getEmoji();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("malformed emoji body", e);
        }
    }
}
