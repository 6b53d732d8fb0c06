package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * {@code GroupRequest} frames: get, and the operations that change a group (create, add and remove members, leave,
 * dissolve, roles, mutes, transfer). The rules and the record cache are {@link GroupService}'s; this class makes each
 * operation idempotent by {@code client_request_id}, appends its event with the new record, answers, delivers the
 * event to every device of every member (those who just left included) and tells {@link ReadCounter} who joined or
 * left. With a cluster link, every other node is told to drop its cached record before the event reaches it.
 *
 * <p>Threading: {@link #group} runs on a core worker; operations on one group run one after another in the group's
 * chain ({@link GroupService#serialize}), completing on the store's thread. Stateless apart from its collaborators.
 */
@Singleton
final class GroupOps {
    private static final Logger LOG = LoggerFactory.getLogger(GroupOps.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    private static final int MAX_CLIENT_REQUEST_ID = 64;
    /** Prefix of a group operation's idempotency key in the store's (sender, client_msg_id) index. */
    static final String KEY_PREFIX = "group:";

    private final CurrentStore store;
    private final GroupService groups;
    private final GroupRules rules;
    private final MessageIds ids;
    private final ReadCounter readCounts;
    private final Delivery delivery;
    private final CurrentLink link;
    private final Limits limits;

    @Inject
    GroupOps(CurrentStore store, GroupService groups, GroupRules rules, MessageIds ids, ReadCounter readCounts,
             Delivery delivery, CurrentLink link, Limits limits) {
        this.store = store;
        this.limits = limits;
        this.groups = groups;
        this.rules = rules;
        this.ids = ids;
        this.readCounts = readCounts;
        this.delivery = delivery;
        this.link = link;
    }

    /**
     * Runs a group operation in the group's chain: compute the change from the current record, append its event with
     * the new record, then answer and deliver the event to every member, including those who just left. Admitted
     * when done, so a client's next frame sees the change.
     *
     * @throws ParleyException when the request is refused before it enters the chain
     */
    CompletionStage<Void> group(ServerSession session, long rid, GroupRequest request) {
        MessageStore s = store.require();
        String actor = session.userId();
        String clientRequestId = request.getClientRequestId().isEmpty() ? ids.next() : request.getClientRequestId();
        if (clientRequestId.length() > MAX_CLIENT_REQUEST_ID) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_request_id has at most 64 characters");
        }
        String eventKey = KEY_PREFIX + clientRequestId;
        if (request.getOpCase() == GroupRequest.OpCase.GET) {
            Group g = groups.require(s, request.getGet().getGroupId());
            GroupService.requireMember(g, actor);
            session.send(Frame.newBuilder().setRequestId(rid).setGroupResponse(GroupResponse.newBuilder().setGroup(g)).build());
            return DONE;
        }
        Optional<Message> repeat = s.findByClientId(actor, eventKey);
        if (repeat.isPresent()) {
            String groupId = Ids.groupIdOf(repeat.get().getConversation());
            if (groupId == null || !repeat.get().getType().equals(GroupService.EVENT_TYPE)) {
                // stored before group keys got their own namespace (sends now refuse the prefix): not a group op
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                        "client_request_id " + clientRequestId + " was already used for a message");
            }
            session.send(Frame.newBuilder().setRequestId(rid).setGroupResponse(GroupResponse.newBuilder()
                    .setGroup(groups.require(s, groupId)).setEventSeq(repeat.get().getSeq())).build());
            return DONE;
        }
        if (addsOthers(request, actor)) {
            limits.groupAdd(session); // limit.group.adds.per.user (a repeat answered above is not counted)
        }
        String groupId = request.getOpCase() == GroupRequest.OpCase.CREATE ? newGroupId() : targetGroup(request);
        Ids.group(groupId); // validates the id
        CompletableFuture<Void> admitted = groups.serialize(groupId, () -> {
            long now = System.currentTimeMillis();
            GroupRules.Change change = request.getOpCase() == GroupRequest.OpCase.CREATE
                    ? rules.create(groupId, actor, request.getCreate(), now)
                    : rules.apply(groups.require(s, groupId), actor, request, now);
            Message event = GroupService.eventMessage(ids.next(), eventKey, actor, session.deviceId(), groupId, change.event(), now);
            return s.appendGroupEvent(event, groupId, change.after().toByteArray(), change.joined(), change.left())
                    .thenApply(appended -> {
                        Group current = change.after();
                        if (!appended.duplicate()) {
                            groups.updated(current);
                            link.groupChanged(groupId); // before the event: a node must not act on the old record
                            readCounts.membersChanged(groupId, current, change.joined(), change.left());
                            List<String> audience = new ArrayList<>(GroupService.memberIds(current));
                            audience.addAll(change.left());
                            // every device of every member, the actor's included: group changes are part of
                            // each device's timeline (a device's own sends are not delivered back, events are)
                            delivery.dispatch(null, appended.message(), audience, null);
                        } else {
                            // a repeat that raced its original past the lookup above: the original's group, which
                            // for a create is not the id this attempt drew
                            current = groups.require(s, Ids.groupIdOf(appended.message().getConversation()));
                        }
                        session.send(Frame.newBuilder().setRequestId(rid).setGroupResponse(GroupResponse.newBuilder()
                                .setGroup(current).setEventSeq(appended.message().getSeq())).build());
                        return (Void) null;
                    }).toCompletableFuture();
        });
        return admitted.handle((v, e) -> {
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (cause instanceof ParleyException pe) {
                    session.reject(rid, pe);
                } else {
                    LOG.error("{}: group operation {} failed", session, request.getOpCase(), cause);
                    session.send(ServerSession.error(rid, ErrorCode.ERROR_CODE_INTERNAL, "internal error"));
                }
            }
            return null;
        });
    }

    private String newGroupId() {
        return ids.next().replace('-', '.');
    }

    /** @return true if {@code r} adds users other than {@code actor} to a group (counted by {@link Limits#groupAdd}) */
    private static boolean addsOthers(GroupRequest r, String actor) {
        switch (r.getOpCase()) {
            case CREATE:
                return r.getCreate().getMembersList().stream().anyMatch(u -> !u.equals(actor));
            case ADD_MEMBERS:
                return true;
            default:
                return false;
        }
    }

    private static String targetGroup(GroupRequest r) {
        return switch (r.getOpCase()) {
            case ADD_MEMBERS -> r.getAddMembers().getGroupId();
            case REMOVE_MEMBERS -> r.getRemoveMembers().getGroupId();
            case LEAVE -> r.getLeave().getGroupId();
            case DISSOLVE -> r.getDissolve().getGroupId();
            case SET_ROLE -> r.getSetRole().getGroupId();
            case MUTE -> r.getMute().getGroupId();
            case MUTE_ALL -> r.getMuteAll().getGroupId();
            case TRANSFER -> r.getTransfer().getGroupId();
            default -> throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "group request needs an operation");
        };
    }
}
