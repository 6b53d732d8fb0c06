package io.parley.store.memory;

import io.parley.core.proto.Message;
import io.parley.core.spi.MessageStore;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The OSGi face of {@link MemoryMessageStore}: a {@link MessageStore} service with
 * {@code parley.store.name=memory}, configuration PID {@code parley.store.memory} (no keys yet). Each activation
 * starts empty; deactivation discards everything (durability policy: none).
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.memory",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=memory")
public final class MemoryStoreComponent implements MessageStore {

    private final MemoryMessageStore store = new MemoryMessageStore();

    @Override
    public CompletionStage<Appended> append(Message draft, Collection<String> members) {
        return store.append(draft, members);
    }

    @Override
    public Optional<Message> findByClientId(String sender, String clientMsgId) {
        return store.findByClientId(sender, clientMsgId);
    }

    @Override
    public List<Message> range(String conversation, long fromSeq, long toSeq, int limit) {
        return store.range(conversation, fromSeq, toSeq, limit);
    }

    @Override
    public long head(String conversation) {
        return store.head(conversation);
    }

    @Override
    public List<ConversationHead> conversations(String userId) {
        return store.conversations(userId);
    }

    @Override
    public Map<String, Long> watermarks(String userId, String deviceId) {
        return store.watermarks(userId, deviceId);
    }

    @Override
    public void advanceWatermark(String userId, String deviceId, String conversation, long seq) {
        store.advanceWatermark(userId, deviceId, conversation, seq);
    }

    @Override
    public CompletionStage<Appended> appendGroupEvent(Message event, String groupId, byte[] record,
                                                      Collection<String> joined, Collection<String> left) {
        return store.appendGroupEvent(event, groupId, record, joined, left);
    }

    @Override
    public Optional<byte[]> groupRecord(String groupId) {
        return store.groupRecord(groupId);
    }

    @Override
    public void advanceReadCursor(String userId, String conversation, long seq) {
        store.advanceReadCursor(userId, conversation, seq);
    }

    @Override
    public Map<String, Long> readCursors(String userId) {
        return store.readCursors(userId);
    }
}
