package io.parley.store.rocksdb;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.Message;

import java.util.concurrent.atomic.AtomicLong;

/** Message drafts as the core hands them to the store: every core field but seq set. */
final class Drafts {
    private static final AtomicLong IDS = new AtomicLong();

    private Drafts() {
    }

    static Message draft(String sender, String clientMsgId, String conversation) {
        return draft(sender, clientMsgId, conversation, ByteString.copyFromUtf8("hello " + clientMsgId));
    }

    static Message draft(String sender, String clientMsgId, String conversation, ByteString body) {
        return Message.newBuilder()
                .setId("m" + IDS.incrementAndGet() + "-" + System.nanoTime())
                .setClientMsgId(clientMsgId)
                .setSender(sender)
                .setSenderDevice("phone")
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType("text")
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.test.Text").setValue(body))
                .build();
    }
}
