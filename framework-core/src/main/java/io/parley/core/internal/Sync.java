package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ConversationState;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;

/**
 * Reading history: {@code SyncRequest.range} (one page of one conversation, answered in the session's frame order)
 * and {@code SyncRequest.resume} (everything a device missed since its watermarks, streamed page by page while
 * {@link ServerSession} holds back the live deliveries of the conversations being streamed, so the device gets each
 * conversation in seq order). Pages are bounded by {@code page.size} messages and {@code page.max.bytes}.
 *
 * <p>Threading: {@link #sync} runs on a core worker; a resume then runs beside the session's frame queue on the
 * workers, one page in flight at a time (the next is read once the previous reached the socket). Stateless apart
 * from its collaborators; the per-session resume state lives in {@link ServerSession}.
 */
@Singleton
final class Sync {
    private static final Logger LOG = LoggerFactory.getLogger(Sync.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private final EngineConfig config;
    private final ExecutorService workers;
    private final CurrentStore store;
    private final Authorization authorization;

    @Inject
    Sync(EngineConfig config, @Named("workers") ExecutorService workers, CurrentStore store,
         Authorization authorization) {
        this.config = config;
        this.workers = workers;
        this.store = store;
        this.authorization = authorization;
    }

    /**
     * Answers a range now; starts a resume on a worker.
     *
     * @throws ParleyException when the request is refused (no store, not a member, neither range nor resume)
     */
    void sync(ServerSession session, long rid, SyncRequest request) {
        MessageStore s = store.require();
        switch (request.getKindCase()) {
            case RANGE -> range(session, rid, s, request.getRange());
            case RESUME -> workers.execute(() -> resume(session, rid, s, request.getResume().getPageSize()));
            default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "sync needs resume or range");
        }
    }

    private void range(ServerSession session, long rid, MessageStore s, SyncRequest.Range range) {
        authorization.authorize(session.userId(), range.getConversation());
        int limit = pageLimit(range.getLimit());
        // uint64 on the wire: 2^63 and more arrive negative here, and no seq is that large
        long from = range.getFromSeq() < 0 ? Long.MAX_VALUE : Math.max(1, range.getFromSeq());
        long to = range.getToSeq() <= 0 ? Long.MAX_VALUE : range.getToSeq();
        SyncResponse.Builder response = SyncResponse.newBuilder();
        if (from <= to) {
            List<Message> messages = s.range(range.getConversation(), from, to, limit + 1);
            List<Message> page = capBytes(messages.size() > limit ? messages.subList(0, limit) : messages);
            response.setHasMore(messages.size() > page.size());
            response.addAllMessages(page);
        }
        session.send(Frame.newBuilder().setRequestId(rid).setSyncResponse(response).build());
    }

    /**
     * Lists the user's conversations with this device's watermarks, then streams what the device missed one page
     * at a time, each page sent only after the previous one reached the socket, so memory stays bounded whatever
     * the backlog. Runs beside the session's frame queue: the client may send while it catches up.
     */
    private void resume(ServerSession session, long rid, MessageStore s, int requestedPage) {
        if (!session.beginResume()) {
            session.reject(rid, new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                    "a resume is already running on this connection"));
            return;
        }
        try {
            int page = pageLimit(requestedPage);
            List<MessageStore.ConversationHead> heads = s.conversations(session.userId());
            Map<String, Long> watermarks = s.watermarks(session.userId(), session.deviceId());
            Map<String, Long> targets = new LinkedHashMap<>(); // conversation -> last seq to stream
            Map<String, Long> headOf = new LinkedHashMap<>();
            for (MessageStore.ConversationHead h : heads) {
                headOf.put(h.conversation(), h.head());
                if (h.head() > watermarks.getOrDefault(h.conversation(), 0L)) {
                    targets.put(h.conversation(), h.head());
                }
            }
            // from here on live deliveries of the targets wait for the pages; any that came meanwhile join them
            session.resumeTargets(targets);
            targets.forEach((conversation, last) -> headOf.merge(conversation, last, Math::max));
            SyncResponse.Builder states = SyncResponse.newBuilder();
            headOf.forEach((conversation, head) -> states.addConversations(ConversationState.newBuilder()
                    .setConversation(conversation).setWatermark(watermarks.getOrDefault(conversation, 0L))
                    .setHead(head)));
            session.send(Frame.newBuilder().setRequestId(rid).setSyncResponse(states).build());
            streamPages(session, s, new ArrayList<>(targets.keySet()).iterator(), watermarks, targets, null, 0, 0, page)
                    .whenComplete((v, e) -> {
                        if (e == null) {
                            session.send(Frame.newBuilder().setRequestId(rid)
                                    .setSyncResponse(SyncResponse.newBuilder().setDone(true)).build());
                        } else {
                            session.resumeAbandoned();
                            Throwable cause = e instanceof CompletionException && e.getCause() != null
                                    ? e.getCause() : e;
                            if (session.isClosed() || cause instanceof PageNotWritten) {
                                // the client went away mid-resume (its next connection resumes again): not a fault
                                LOG.debug("{}: resume ended with the connection: {}", session,
                                        cause instanceof PageNotWritten ? cause.getCause() : cause);
                            } else {
                                LOG.warn("{}: resume failed", session, e);
                                session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "resume failed"));
                            }
                        }
                    });
        } catch (ParleyException e) {
            session.resumeAbandoned();
            session.reject(rid, e);
        } catch (RuntimeException e) {
            session.resumeAbandoned();
            LOG.error("{}: resume failed", session, e);
            session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "resume failed"));
        }
    }

    /**
     * Streams one page of {@code conversation} from {@code from} to {@code to}, then (once it reached the socket)
     * the next. When a conversation is done up to {@code to}, the session says whether live deliveries brought more
     * meanwhile ({@link ServerSession#resumeReached}): then the stream goes on to that seq, else to the next
     * conversation, and that conversation's live deliveries go out directly from then on.
     */
    private CompletionStage<Void> streamPages(ServerSession session, MessageStore s, Iterator<String> ids,
                                              Map<String, Long> watermarks, Map<String, Long> targets,
                                              String conversation, long from, long to, int page) {
        while (conversation == null || from > to) {
            if (conversation != null) {
                long more = session.resumeReached(conversation, to);
                if (more > to) {
                    to = more;
                    continue;
                }
            }
            if (!ids.hasNext()) {
                return DONE;
            }
            conversation = ids.next();
            from = watermarks.getOrDefault(conversation, 0L) + 1;
            to = targets.get(conversation);
        }
        if (session.isClosed()) {
            return DONE;
        }
        List<Message> messages = capBytes(s.range(conversation, from, to, page));
        if (messages.isEmpty()) {
            return streamPages(session, s, ids, watermarks, targets, conversation, to + 1, to, page);
        }
        long next = messages.get(messages.size() - 1).getSeq() + 1;
        String conv = conversation;
        long end = to;
        return session.sendFlushed(Frame.newBuilder().setDeliver(Deliver.newBuilder().addAllMessages(messages)).build())
                .exceptionally(e -> {
                    throw new PageNotWritten(e);
                })
                .thenComposeAsync(v -> streamPages(session, s, ids, watermarks, targets, conv, next, end, page), workers);
    }

    /**
     * @return the longest prefix of {@code messages} whose serialized size stays within {@code page.max.bytes}, and at
     *         least one message: a page must fit a connection's outbound bound, or the device could never catch up
     */
    private List<Message> capBytes(List<Message> messages) {
        long budget = config.page_max_bytes();
        long used = 0;
        for (int i = 0; i < messages.size(); i++) {
            used += messages.get(i).getSerializedSize() + 8;
            if (used > budget && i > 0) {
                return messages.subList(0, i);
            }
        }
        return messages;
    }

    /**
     * @param requested a client's page size or limit: a protobuf uint32, so values of 2^31 and more arrive negative
     * @return it, bounded by {@code page.size}; {@code page.size} for 0
     */
    private int pageLimit(int requested) {
        long unsigned = Integer.toUnsignedLong(requested);
        return unsigned == 0 ? config.page_size() : (int) Math.min(unsigned, config.page_size());
    }

    /**
     * A page of a resume did not reach the socket: the connection failed or closed under it, which ends the resume
     * (the client's next connection resumes again). Carries the write's failure; no stack trace of its own.
     */
    private static final class PageNotWritten extends RuntimeException {
        PageNotWritten(Throwable writeFailure) {
            super("a resume page was not written", writeFailure, false, false);
        }
    }
}
