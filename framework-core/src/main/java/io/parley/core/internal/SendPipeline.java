package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The send pipeline: validate ids, type, ext and size → authorize (member of the conversation?) → dedupe by
 * {@code (sender, client_msg_id)} (a repeat gets the original's ack) → the type's processor (held during an update)
 * → {@link Interceptors} → {@link MessageStore#append} → ack to the sender → {@link Delivery#dispatch}. Relayed
 * results skip the store: acked with seq 0 and delivered to online devices only.
 *
 * <p>Threading: {@link #send} runs on a core worker and {@link #sendOnLoop} on the connection's event loop, one frame
 * at a time per session; the send is <em>admitted</em> (the session's next frame may start) once it was handed to
 * the store, so a session's sends keep their order. The ack and the deliveries are sent from the append's
 * completion, which a store signals when the message is durable and in seq order per conversation. Stateless apart
 * from its collaborators; never blocks.
 */
@Singleton
final class SendPipeline {
    private static final Logger LOG = LoggerFactory.getLogger(SendPipeline.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    private static final int MAX_CLIENT_MSG_ID = 64;
    private static final int MAX_TYPE_LENGTH = 64;
    /** Limits of a message's {@code ext} map: entries, characters of a key, characters of all keys and values. */
    static final int MAX_EXT_ENTRIES = 32;
    static final int MAX_EXT_KEY = 64;
    static final int MAX_EXT_CHARS = 4096;

    private final Whiteboard<MessageProcessor> processors;
    private final Interceptors interceptors;
    private final MessageIds ids;
    private final GroupService groups;
    private final Authorization authorization;
    private final CurrentStore store;
    private final Delivery delivery;
    private final ExecutorService workers;
    private final int maxBodyBytes;
    private final Limits limits;
    private final ScheduledExecutorService timer;
    private final EngineMetrics metrics;
    private final CurrentLink link;

    @Inject
    SendPipeline(EngineConfig config, Whiteboard<MessageProcessor> processors, Interceptors interceptors,
                 MessageIds ids, GroupService groups, Authorization authorization, CurrentStore store,
                 Delivery delivery, @Named("workers") ExecutorService workers, Limits limits,
                 ScheduledExecutorService timer, EngineMetrics metrics, CurrentLink link) {
        this.metrics = metrics;
        this.link = link;
        this.workers = workers;
        this.limits = limits;
        this.timer = timer;
        this.maxBodyBytes = config.max_body_bytes();
        this.processors = processors;
        this.interceptors = interceptors;
        this.ids = ids;
        this.groups = groups;
        this.authorization = authorization;
        this.store = store;
        this.delivery = delivery;
    }

    /**
     * @return completed when the send is admitted
     * @throws ParleyException when the send is refused before its processor runs
     */
    CompletionStage<Void> send(ServerSession session, long rid, Send send) {
        long received = System.nanoTime(); // the latency metric's start
        long wait = limits.send(session); // limit.sends.per.user: refused (RateLimited) before anything is stored
        if (wait > 0) {
            // the token is reserved: the send runs when it is there, the session's next frame waits with it
            return DelayedAdmission.after(wait, timer, workers, session, rid,
                    () -> sendNow(session, rid, send, received), LOG);
        }
        return sendNow(session, rid, send, received);
    }

    /**
     * The event-loop fast path: handles the send where it was decoded when nothing in it can block or wait — a
     * {@linkplain MessageProcessor#pure() pure} processor registered now, no interceptor, no cluster link, a 1:1
     * conversation or a group whose record is cached, and both rate-limit tokens there now. It then runs exactly as
     * on a worker up to the store's append (which never blocks); the ack and the deliveries come from the append's
     * completion as ever.
     *
     * @return the send's admission (complete unless the processor broke its promise), or null, having done nothing, if
     *         the send needs a worker ({@link #send})
     * @throws ParleyException when the send is refused; its tokens were taken, as on a worker
     */
    CompletionStage<Void> sendOnLoop(ServerSession session, long rid, Send send) {
        MessageProcessor processor = processors.lookupNow(send.getType());
        if (processor == null || !processor.pure() || !interceptors.isEmpty() || store.get() == null
                || link.get() != null) { // a relay would reach the link from this thread, which is not a core thread
            return null;
        }
        Group group = null;
        switch (send.getToCase()) {
            case PEER -> {
            }
            case CONVERSATION -> {
                String groupId = Ids.groupIdOf(send.getConversation());
                group = groupId == null ? null : groups.cached(groupId);
                if (group == null) {
                    return null;
                }
            }
            default -> {
                return null;
            }
        }
        if (!limits.sendNow(session)) {
            return null;
        }
        long received = System.nanoTime();
        Target target = target(session.userId(), send, group);
        Message draft = draft(session, target.conversation(), send);
        return process(session, rid, draft, target, processor.process(context(session, target), draft),
                store.require().lookupBeforeAppend(), received);
    }

    private CompletionStage<Void> sendNow(ServerSession session, long rid, Send send, long received) {
        String sender = session.userId();
        Target target = target(sender, send, null);
        MessageStore s = store.require();
        MessageProcessor known = processors.lookupNow(send.getType()); // null while the type is held
        boolean pure = known != null && known.pure();
        if (s.lookupBeforeAppend() && !pure) {
            Optional<Message> original = s.findByClientId(sender, send.getClientMsgId());
            if (original.isPresent()) {
                session.send(ack(rid, original.get(), true));
                return DONE;
            }
        }
        Message draft = draft(session, target.conversation(), send);
        MessageContext context = context(session, target);
        CompletionStage<ProcessResult> processed = known != null ? known.process(context, draft)
                : processors.lookup(send.getType()).thenCompose(p -> p.process(context, draft));
        return process(session, rid, draft, target, processed, s.lookupBeforeAppend() && pure, received);
    }

    /**
     * Where a send goes: its conversation, the members it is delivered to, and the users the store lists it for
     * (empty for a group: its members were listed when they joined).
     */
    private record Target(String conversation, List<String> members, List<String> indexFor) {
    }

    /**
     * Checks the send's fields and resolves where it goes.
     *
     * @param cached the group's cached record when the caller has it, else null (a group is then read through the
     *               store, which may block)
     * @throws ParleyException when the send is refused
     */
    private Target target(String sender, Send send, Group cached) {
        String clientMsgId = send.getClientMsgId();
        if (clientMsgId.isEmpty() || clientMsgId.length() > MAX_CLIENT_MSG_ID) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_msg_id must have 1-64 characters");
        }
        if (clientMsgId.startsWith(GroupOps.KEY_PREFIX) || clientMsgId.startsWith(Commands.KEY_PREFIX)) {
            // group operations and commands keep their idempotency keys in the same index, under these prefixes
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_msg_id may not start with \""
                    + GroupOps.KEY_PREFIX + "\" or \"" + Commands.KEY_PREFIX + "\" (reserved)");
        }
        if (send.getType().isEmpty() || send.getType().length() > MAX_TYPE_LENGTH) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "type must have 1-64 characters");
        }
        if (send.getExtCount() > 0) { // (an empty map costs a MapField and iterators per message otherwise)
            checkExt(send.getExtMap());
        }
        Target target;
        switch (send.getToCase()) {
            case PEER -> {
                if (!Ids.isValidId(send.getPeer())) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "invalid peer user id");
                }
                String conversation = Ids.direct(sender, send.getPeer());
                List<String> members = Ids.directMembers(conversation);
                target = new Target(conversation, members, members);
            }
            case CONVERSATION -> {
                String conversation = send.getConversation();
                String groupId = Ids.groupIdOf(conversation);
                if (groupId != null) {
                    Group g = cached != null ? cached : groups.require(store.require(), groupId);
                    GroupService.checkMaySend(g, sender, System.currentTimeMillis());
                    target = new Target(conversation, groups.members(g), List.of());
                } else {
                    List<String> members = authorization.authorize(sender, conversation);
                    target = new Target(conversation, members, members);
                }
            }
            default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "send needs a peer or a conversation");
        }
        if (send.getBody().getSerializedSize() > maxBodyBytes) {
            throw new ParleyException(ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                    "body is larger than " + maxBodyBytes + " bytes");
        }
        return target;
    }

    private Message draft(ServerSession session, String conversation, Send send) {
        Message.Builder builder = Message.newBuilder()
                .setId(ids.next())
                .setClientMsgId(send.getClientMsgId())
                .setSender(session.userId())
                .setSenderDevice(session.deviceId())
                .setConversation(conversation)
                .setServerTime(System.currentTimeMillis())
                .setType(send.getType())
                .setBody(send.getBody());
        if (send.getExtCount() > 0) {
            builder.putAllExt(send.getExtMap());
        }
        return builder.build();
    }

    private static MessageContext context(ServerSession session, Target target) {
        return new Context(session, target.conversation(), target.members(), Instant.now());
    }

    /**
     * Acts on the processor's result when {@code processed} completes (on the thread that completes it): stores it
     * (through the interceptors), relays it, or answers the rejection.
     *
     * @param unchecked true if the send was not looked up before processing although the store could have been (a
     *                  pure type): a refusal is then checked against a stored original, which gets its ack instead
     * @return completed when the send is admitted
     */
    private CompletionStage<Void> process(ServerSession session, long rid, Message draft, Target target,
                                          CompletionStage<ProcessResult> processed, boolean unchecked,
                                          long received) {
        List<String> members = target.members();
        CompletableFuture<Void> admitted = new CompletableFuture<>();
        processed.whenComplete((result, error) -> {
            try {
                if (error != null) {
                    fail(session, rid, error, draft);
                } else if (result == null) {
                    fail(session, rid, new IllegalStateException("processor returned null"), draft);
                } else if (result.isRejected()) {
                    ParleyException refusal = new ParleyException(result.code(), result.reason());
                    if (unchecked) {
                        refuseUnlessRepeated(session, rid, draft, refusal, admitted);
                        return;
                    }
                    session.reject(rid, refusal);
                } else if (result.isRelay()) {
                    Message relayed = restoreCoreFields(result.message(), draft);
                    session.send(ack(rid, relayed, false));
                    metrics.sent(relayed.getType(), received);
                    delivery.dispatch(session, relayed, members, null);
                } else {
                    Message toStore = restoreCoreFields(result.message(), draft);
                    if (interceptors.isEmpty()) {
                        append(session, rid, toStore, members, target.indexFor(), result.preview(), received);
                    } else {
                        // the next frame waits for the chain too (it is part of admitting this send)
                        intercepted(session, rid, draft, toStore, members, target.indexFor(), result.preview(),
                                admitted, received);
                        return;
                    }
                }
            } catch (RuntimeException e) {
                fail(session, rid, e, draft);
            }
            admitted.complete(null);
        });
        return admitted;
    }

    /**
     * A pure type refused a send it was not looked up for: it may repeat one stored before (under other rules, say),
     * and the same {@code client_msg_id} always gets the same ack (protocol.md). On a worker, since the lookup may read
     * the store; the send is admitted once it is answered.
     */
    private void refuseUnlessRepeated(ServerSession session, long rid, Message draft, ParleyException refusal,
                                      CompletableFuture<Void> admitted) {
        workers.execute(() -> {
            try {
                Optional<Message> original = store.require().findByClientId(draft.getSender(), draft.getClientMsgId());
                if (original.isPresent()) {
                    session.send(ack(rid, original.get(), true));
                } else {
                    session.reject(rid, refusal);
                }
            } catch (RuntimeException e) {
                fail(session, rid, e, draft);
            } finally {
                admitted.complete(null);
            }
        });
    }

    private void intercepted(ServerSession session, long rid, Message draft, Message toStore, List<String> members,
                             List<String> indexFor, String preview, CompletableFuture<Void> admitted, long received) {
        interceptors.apply(toStore, rewritten -> {
            Message restored = restoreCoreFields(rewritten, draft);
            checkExt(restored.getExtMap());
            return restored;
        }).whenCompleteAsync((message, error) -> { // back on a core worker: the stage may end on a plugin's thread
            try {
                if (error != null) {
                    fail(session, rid, error, draft);
                } else {
                    append(session, rid, message, members, indexFor, preview, received);
                }
            } finally {
                admitted.complete(null);
            }
        }, workers);
    }

    /** @param received {@link System#nanoTime()} when the send arrived (metrics) */
    private void append(ServerSession origin, long rid, Message message, List<String> members, List<String> indexFor,
                        String preview, long received) {
        MessageStore s = store.get();
        if (s == null) {
            origin.reject(rid, CurrentStore.unavailable());
            return;
        }
        long submitted = System.nanoTime();
        s.append(message, indexFor).whenComplete((appended, error) -> {
            if (error != null) {
                fail(origin, rid, error, message);
                return;
            }
            metrics.stored(submitted);
            origin.send(ack(rid, appended.message(), appended.duplicate()));
            if (!appended.duplicate()) {
                metrics.sent(message.getType(), received);
                delivery.dispatch(origin, appended.message(), members, preview);
            }
        });
    }

    private static Message restoreCoreFields(Message processed, Message draft) {
        if (processed == draft) {
            return draft;
        }
        return processed.toBuilder()
                .setId(draft.getId()).setClientMsgId(draft.getClientMsgId())
                .setSender(draft.getSender()).setSenderDevice(draft.getSenderDevice())
                .setConversation(draft.getConversation()).setSeq(0)
                .setServerTime(draft.getServerTime()).setType(draft.getType())
                .build();
    }

    private static Frame ack(long rid, Message m, boolean duplicate) {
        return Frame.newBuilder().setRequestId(rid).setSendAck(SendAck.newBuilder()
                .setMessageId(m.getId()).setConversation(m.getConversation()).setSeq(m.getSeq())
                .setServerTime(m.getServerTime()).setDuplicate(duplicate)).build();
    }

    private static void fail(ServerSession session, long rid, Throwable error, Message draft) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof ParleyException pe) {
            session.reject(rid, pe);
        } else {
            LOG.error("{}: send of {} message {} failed", session, draft.getType(), draft.getClientMsgId(), cause);
            session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
        }
    }

    /** @throws ParleyException INVALID_REQUEST if {@code ext} is over the limits above */
    static void checkExt(Map<String, String> ext) {
        if (ext.isEmpty()) {
            return;
        }
        if (ext.size() > MAX_EXT_ENTRIES) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "ext has " + ext.size() + " entries; at most " + MAX_EXT_ENTRIES);
        }
        long chars = 0;
        for (Map.Entry<String, String> e : ext.entrySet()) {
            if (e.getKey().isEmpty() || e.getKey().length() > MAX_EXT_KEY) {
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "ext keys must have 1-" + MAX_EXT_KEY + " characters");
            }
            chars += e.getKey().length() + e.getValue().length();
        }
        if (chars > MAX_EXT_CHARS) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "ext has " + chars + " characters in its keys and values; at most " + MAX_EXT_CHARS);
        }
    }

    private record Context(ServerSession session, String conversation, List<String> members, Instant receivedAt)
            implements MessageContext {
        @Override
        public String senderUserId() {
            return session.userId();
        }

        @Override
        public String senderDeviceId() {
            return session.deviceId();
        }

        @Override
        public List<String> recipients() {
            List<String> r = new ArrayList<>(members);
            r.remove(session.userId());
            return r;
        }
    }
}
