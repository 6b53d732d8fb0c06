package io.parley.store.mvstore;

import io.parley.core.proto.Message;
import io.parley.core.spi.MessageStore;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The OSGi face of {@link MvMessageStore}: a {@link MessageStore} service with {@code parley.store.name=mvstore},
 * configuration PID {@code parley.store.mvstore}. Activation opens the file and starts the writer thread;
 * deactivation (bundle stop or update, config change) completes every accepted append, closes the file and joins
 * the thread. A configuration change re-creates the component.
 */
@Component(service = MessageStore.class, configurationPid = "parley.store.mvstore",
        configurationPolicy = ConfigurationPolicy.OPTIONAL, property = MessageStore.NAME + "=mvstore")
@Designate(ocd = MvStoreConfig.class)
public final class MvStoreComponent implements MessageStore {

    private final MvMessageStore store;

    @Activate
    public MvStoreComponent(MvStoreConfig config) {
        MvStoreOptions options = new MvStoreOptions(
                MvStoreOptions.resolveDir(config.dir(), System.getProperty("parley.home")),
                config.commit_max_batch(), config.commit_max_delay_micros(), config.fsync(),
                config.dedupe_window_hours(), config.queue_max(), config.cache_mb(), config.compact_fill_rate(),
                config.housekeeping_seconds());
        this.store = MvMessageStore.open(options);
    }

    @Deactivate
    void deactivate() {
        store.close();
    }

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
