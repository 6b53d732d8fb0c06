package io.parley.core.internal;

import com.google.protobuf.Any;
import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.Command;
import io.parley.core.proto.CommandResult;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Runs {@code Command} frames: finds the handler for the type on the {@link Whiteboard} (held during an update,
 * {@code UNSUPPORTED_COMMAND} when none), runs it with a {@link CommandContext} whose facade authorizes every call
 * for the calling user, and answers {@code CommandResult} or the error. The command itself is never stored.
 *
 * <p>Threading: {@link #run} is called on a core worker; handlers complete on any thread. Thread-safe.
 */
@Singleton
final class Commands {

    private static final Logger LOG = LoggerFactory.getLogger(Commands.class);
    static final int MAX_TYPE_LENGTH = 64;
    static final int MAX_REQUEST_ID = 64;
    /** Prefix of the idempotency key of what a command appends, in the store's (sender, client_msg_id) index. */
    static final String KEY_PREFIX = "command:";

    private final Whiteboard<CommandHandler> handlers;
    private final Whiteboard<MessageProcessor> processors;
    private final MessageIds ids;
    private final Authorization authorization;
    private final CurrentStore store;
    private final Events events;

    @Inject
    Commands(Whiteboard<CommandHandler> handlers, Whiteboard<MessageProcessor> processors, MessageIds ids, Authorization authorization, CurrentStore store,
             Events events) {
        this.handlers = handlers;
        this.processors = processors;
        this.ids = ids;
        this.authorization = authorization;
        this.store = store;
        this.events = events;
    }

    Whiteboard<CommandHandler> handlers() {
        return handlers;
    }

    /** @return completed when the command has been answered, so the session's next frame waits for it */
    CompletionStage<Void> run(ServerSession session, long rid, Command command) {
        String type = command.getType();
        if (type.isEmpty() || type.length() > MAX_TYPE_LENGTH) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "command type must have 1-64 characters");
        }
        if (command.getClientRequestId().length() > MAX_REQUEST_ID) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_request_id has at most 64 characters");
        }
        Context context = new Context(session, type, command.getClientRequestId(), Instant.now());
        CompletableFuture<Void> answered = new CompletableFuture<>();
        handlers.lookup(type)
                .thenCompose(handler -> handler.execute(context, command.getPayload()))
                .whenComplete((payload, error) -> {
                    try {
                        if (error == null) {
                            session.send(Frame.newBuilder().setRequestId(rid).setCommandResult(CommandResult.newBuilder()
                                    .setType(type).setPayload(payload == null ? Any.getDefaultInstance() : payload))
                                    .build());
                        } else {
                            Throwable cause = error instanceof CompletionException && error.getCause() != null
                                    ? error.getCause() : error;
                            if (cause instanceof ParleyException pe) {
                                session.reject(rid, pe);
                            } else {
                                LOG.error("{}: command '{}' failed", session, type, cause);
                                session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
                            }
                        }
                    } finally {
                        answered.complete(null);
                    }
                });
        return answered;
    }

    /**
     * Tells the processor of a replaced message's type that its content is gone ({@link MessageProcessor#released}),
     * waiting for it if its bundle is being updated. Never fails the caller: a type no longer deployed has nothing to
     * release here, and a failure is logged.
     */
    private void release(Message original) {
        processors.lookup(original.getType())
                .thenCompose(processor -> processor.released(original))
                .whenComplete((ignored, error) -> {
                    if (error != null) {
                        Throwable cause = error instanceof CompletionException && error.getCause() != null
                                ? error.getCause() : error;
                        if (cause instanceof ParleyException) {
                            LOG.debug("{} of {} seq {}: no processor to release it ({})", original.getType(),
                                    original.getConversation(), original.getSeq(), cause.getMessage());
                        } else {
                            LOG.warn("Releasing the content of {} seq {} ({}) failed", original.getConversation(),
                                    original.getSeq(), original.getType(), cause);
                        }
                    }
                });
    }

    /** The facade: every call is authorized for the calling user by the engine's own rules ({@link Authorization}). */
    private final class Context implements CommandContext {
        private final ServerSession session;
        private final String type;
        private final String clientRequestId;
        private final Instant receivedAt;
        /** How many events this execution appended so far: the n-th gets its own key. */
        private final java.util.concurrent.atomic.AtomicInteger appends = new java.util.concurrent.atomic.AtomicInteger();

        Context(ServerSession session, String type, String clientRequestId, Instant receivedAt) {
            this.session = session;
            this.type = type;
            this.clientRequestId = clientRequestId;
            this.receivedAt = receivedAt;
        }

        @Override
        public String userId() {
            return session.userId();
        }

        @Override
        public String deviceId() {
            return session.deviceId();
        }

        @Override
        public String commandType() {
            return type;
        }

        @Override
        public String clientRequestId() {
            return clientRequestId;
        }

        @Override
        public Instant receivedAt() {
            return receivedAt;
        }

        @Override
        public boolean trusted() {
            return session.isTrusted();
        }

        @Override
        public List<String> members(String conversation) {
            return List.copyOf(authorization.authorize(session.userId(), conversation));
        }

        @Override
        public Optional<Group> group(String conversation) {
            return authorization.group(session.userId(), conversation);
        }

        @Override
        public Optional<Message> message(String conversation, long seq) {
            authorization.authorize(session.userId(), conversation);
            if (seq <= 0) {
                return Optional.empty();
            }
            List<Message> found = store.require().range(conversation, seq, seq, 1);
            return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
        }

        @Override
        public CompletionStage<Message> replace(String conversation, long seq, String newType, Any body) {
            try {
                authorization.authorize(session.userId(), conversation);
                if (newType == null || newType.isEmpty() || newType.length() > MAX_TYPE_LENGTH) {
                    throw new IllegalArgumentException("type must have 1-64 characters");
                }
                Message existing = message(conversation, seq).orElseThrow(() ->
                        new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no message " + seq + " in " + conversation));
                if (!existing.getSender().equals(session.userId()) && !authorization.managesGroup(session.userId(),
                        conversation)) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN,
                            "only its sender (or a group's owner or admins) may replace a message");
                }
                return store.require().replace(conversation, seq, newType, body, java.util.Map.of())
                        .thenApply(replaced -> {
                            Message done = replaced.orElseThrow(() -> new ParleyException(
                                    ErrorCode.ERROR_CODE_NOT_FOUND, "no message " + seq + " in " + conversation));
                            release(existing);
                            return done;
                        });
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public CompletionStage<Message> appendEvent(String conversation, String eventType, Any body) {
            return appendEvent(conversation, eventType, body, null);
        }

        @Override
        public CompletionStage<Message> appendEvent(String conversation, String eventType, Any body,
                                                    String pushPreview) {
            try {
                int n = appends.getAndIncrement();
                String key = KEY_PREFIX + type + ":" + (clientRequestId.isEmpty() ? ids.next() : clientRequestId)
                        + (n == 0 || clientRequestId.isEmpty() ? "" : "#" + n);
                return events.appendKeyed(conversation, session.userId(), session.deviceId(), eventType, body, key,
                        pushPreview);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public void relayTo(String conversation, String relayType, Any body,
                            java.util.Collection<io.parley.core.spi.command.DeviceAddress> devices) {
            events.relay(conversation, session.userId(), session.deviceId(), relayType, body, devices);
        }
    }
}
