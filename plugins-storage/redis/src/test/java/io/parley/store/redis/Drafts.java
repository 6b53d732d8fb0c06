package io.parley.store.redis;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.Message;

import java.util.concurrent.atomic.AtomicLong;

/** Message drafts as the core hands them to the store. */
final class Drafts {

    private static final AtomicLong IDS = new AtomicLong();

    private Drafts() {
    }

    /** A draft with a fresh server message id (as every attempt of a send gets one). */
    static Message draft(String sender, String clientMsgId, String conversation, String text) {
        return Message.newBuilder()
                .setId("m" + IDS.incrementAndGet())
                .setClientMsgId(clientMsgId)
                .setSender(sender)
                .setSenderDevice("phone")
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType("text")
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.test.Text")
                        .setValue(ByteString.copyFromUtf8(text)))
                .build();
    }
}
