package io.parley.webhooks.internal;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.parley.core.proto.Message;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Test messages, with text bodies encoded by hand as {@code parley.text.v1.Text} (field 1, a string). */
public final class Messages {

    private Messages() {
    }

    public static Any textBody(String text) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        try {
            out.writeString(1, text);
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Any.newBuilder().setTypeUrl(EventJson.TEXT_TYPE_URL).setValue(ByteString.copyFrom(bytes.toByteArray()))
                .build();
    }

    public static Message text(String id, String text) {
        return Message.newBuilder()
                .setId(id)
                .setClientMsgId("c-" + id)
                .setSender("alice")
                .setSenderDevice("laptop")
                .setConversation("d:alice:bob")
                .setServerTime(1_765_000_000_000L)
                .setType("text")
                .setBody(textBody(text))
                .putExt("lang", "en")
                .build();
    }
}
