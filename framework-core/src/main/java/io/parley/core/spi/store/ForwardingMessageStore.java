package io.parley.core.spi.store;

import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ConsumerType;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * A {@link MessageStore} that forwards every call to {@link #delegate()}: the usual shape of a store bundle's DS
 * component, which registers itself as the service and keeps the plain-Java store it opened on activation.
 */
@ConsumerType
public abstract class ForwardingMessageStore implements MessageStore {

    /** @return the store every call goes to; never null while the component is active */
    protected abstract MessageStore delegate();

    @Override
    public CompletionStage<Appended> append(Message draft, Collection<String> members) {
        return delegate().append(draft, members);
    }

    @Override
    public Optional<Message> findByClientId(String sender, String clientMsgId) {
        return delegate().findByClientId(sender, clientMsgId);
    }

    @Override
    public List<Message> range(String conversation, long fromSeq, long toSeq, int limit) {
        return delegate().range(conversation, fromSeq, toSeq, limit);
    }

    @Override
    public long head(String conversation) {
        return delegate().head(conversation);
    }

    @Override
    public boolean holdsSeq(String conversation, long seq) {
        return delegate().holdsSeq(conversation, seq);
    }

    @Override
    public boolean knownToHold(String conversation, long seq) {
        return delegate().knownToHold(conversation, seq);
    }

    @Override
    public boolean lookupBeforeAppend() {
        return delegate().lookupBeforeAppend();
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        return delegate().conversations(userId);
    }

    @Override
    public Map<String, Long> watermarks(String userId, String deviceId) {
        return delegate().watermarks(userId, deviceId);
    }

    @Override
    public void advanceWatermark(String userId, String deviceId, String conversation, long seq) {
        delegate().advanceWatermark(userId, deviceId, conversation, seq);
    }

    @Override
    public CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                      Collection<String> joined, Collection<String> left) {
        return delegate().appendGroupEvent(event, groupId, record, joined, left);
    }

    @Override
    public Optional<byte[]> groupRecord(String groupId) {
        return delegate().groupRecord(groupId);
    }

    @Override
    public void advanceReadCursor(String userId, String conversation, long seq) {
        delegate().advanceReadCursor(userId, conversation, seq);
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        return delegate().readCursors(userId);
    }

    @Override
    public Map<String, Long> readCursorsIn(String conversation, Collection<String> userIds) {
        return delegate().readCursorsIn(conversation, userIds);
    }

    @Override
    public Optional<String> writeFailure() {
        return delegate().writeFailure();
    }

    @Override
    public CompletionStage<Optional<Message>> replace(String conversation, long seq, String type,
                                                      com.google.protobuf.Any body, Map<String, String> ext) {
        return delegate().replace(conversation, seq, type, body, ext);
    }
}
