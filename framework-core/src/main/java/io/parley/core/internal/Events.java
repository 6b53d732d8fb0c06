package io.parley.core.internal;

import com.google.protobuf.Any;
import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.ConversationEvents;
import io.parley.core.spi.command.DeviceAddress;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Appends and relays that a bundle makes as a member, authorized by {@link Authorization}: the implementation behind
 * a command's {@code CommandContext.appendEvent}/{@code relayTo} ({@link Commands}) and behind the
 * {@link ConversationEvents} service a bundle uses outside commands (timers). Appended events are delivered to every
 * device of every member (the acting one's included) and, with a preview, notified like a stored message.
 *
 * <p>Thread-safe, stateless; called on core workers or a bundle's own threads (a group record may be read from the
 * store on a cache miss: never from a network thread).
 */
@Singleton
final class Events implements ConversationEvents {
    static final int MAX_TYPE_LENGTH = 64;
    static final int MAX_KEY_LENGTH = 128;

    private final MessageIds ids;
    private final Authorization authorization;
    private final CurrentStore store;
    private final Delivery delivery;

    @Inject
    Events(MessageIds ids, Authorization authorization, CurrentStore store, Delivery delivery) {
        this.ids = ids;
        this.authorization = authorization;
        this.store = store;
        this.delivery = delivery;
    }

    @Override
    public CompletionStage<Message> append(String conversation, String asUser, String asDevice, String type, Any body,
                                           String key, String pushPreview) {
        try {
            if (key == null || key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
                throw new IllegalArgumentException("an event key has 1-" + MAX_KEY_LENGTH + " characters");
            }
            return appendKeyed(conversation, asUser, asDevice == null ? "" : asDevice, type, body,
                    Commands.KEY_PREFIX + key, pushPreview);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * @param clientMsgId the full idempotency key (with its {@code command:} prefix)
     * @throws ParleyException NOT_FOUND unless {@code asUser} is a member
     */
    CompletionStage<Message> appendKeyed(String conversation, String asUser, String asDevice, String type, Any body,
                                         String clientMsgId, String preview) {
        List<String> members = authorization.authorize(asUser, conversation);
        checkType(type);
        Message draft = Message.newBuilder()
                .setId(ids.next())
                .setClientMsgId(clientMsgId)
                .setSender(asUser)
                .setSenderDevice(asDevice)
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType(type)
                .setBody(body)
                .build();
        MessageStore s = store.require();
        // group members were listed when they joined; a 1:1 conversation lists both users
        List<String> indexFor = Ids.groupIdOf(conversation) != null ? List.of() : members;
        return s.append(draft, indexFor).thenApply(appended -> {
            if (!appended.duplicate()) {
                // every device of every member, the acting one's included: the event is part of each timeline
                delivery.dispatch(null, appended.message(), members, preview);
            }
            return appended.message();
        });
    }

    @Override
    public void relay(String conversation, String asUser, String asDevice, String type, Any body,
                      Collection<DeviceAddress> devices) {
        List<String> members = authorization.authorize(asUser, conversation);
        checkType(type);
        for (DeviceAddress d : devices) {
            if (!members.contains(d.user())) {
                throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN,
                        d.user() + " is not a member of " + conversation);
            }
        }
        Message message = Message.newBuilder()
                .setId(ids.next())
                .setSender(asUser)
                .setSenderDevice(asDevice == null ? "" : asDevice)
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType(type)
                .setBody(body)
                .build();
        delivery.relayToDevices(message, devices);
    }

    @Override
    public List<String> members(String conversation, String asUser) {
        return List.copyOf(authorization.authorize(asUser, conversation));
    }

    private static void checkType(String type) {
        if (type == null || type.isEmpty() || type.length() > MAX_TYPE_LENGTH) {
            throw new IllegalArgumentException("event type must have 1-" + MAX_TYPE_LENGTH + " characters");
        }
    }
}
