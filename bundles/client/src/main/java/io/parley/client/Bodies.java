package io.parley.client;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.parley.core.proto.Message;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Builds and reads message bodies of the standard types without depending on their bundles.
 *
 * <p>Text: type {@value #TEXT_TYPE}, body an {@link Any} packing {@code parley.text.v1.Text { string text = 1; }}
 * with type URL {@value #TEXT_TYPE_URL}. Stateless and thread-safe.
 */
public final class Bodies {
    /** The message type (routing key) of text messages. */
    public static final String TEXT_TYPE = "text";
    /** The {@link Any#getTypeUrl() type URL} of a packed {@code parley.text.v1.Text}. */
    public static final String TEXT_TYPE_URL = "type.googleapis.com/parley.text.v1.Text";

    private static final int TEXT_TAG = (1 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;

    private Bodies() {
    }

    /** @return an {@link Any} packing {@code parley.text.v1.Text{text}} */
    public static Any text(String text) {
        if (text == null) {
            throw new NullPointerException("text");
        }
        if (text.isEmpty()) {
            return Any.newBuilder().setTypeUrl(TEXT_TYPE_URL).build();
        }
        int size = CodedOutputStream.computeStringSize(1, text);
        byte[] bytes = new byte[size];
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        try {
            out.writeString(1, text);
            out.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Any.newBuilder().setTypeUrl(TEXT_TYPE_URL).setValue(ByteString.copyFrom(bytes)).build();
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
            CodedInputStream in = body.getValue().newCodedInput();
            String text = "";
            int tag;
            while ((tag = in.readTag()) != 0) {
                if (tag == TEXT_TAG) {
                    text = in.readStringRequireUtf8();
                } else if (!in.skipField(tag)) {
                    break;
                }
            }
            return text;
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("malformed text body", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @return the text of a text message
     * @throws IllegalArgumentException if its body is not a text body
     */
    public static String textOf(Message message) {
        return textOf(message.getBody());
    }
}
