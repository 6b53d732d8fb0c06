package io.parley.transport.http.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import io.parley.core.proto.ConversationList;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;

import com.google.protobuf.Any;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test double of the core engine for the adapter's tests: trusted sessions answer send, range sync, conversation
 * list and group requests from a worker thread with the engine's rules in miniature (1:1 membership, idempotent
 * sends, per-conversation seq, group roles). Type {@code text} is the only message type; type {@code blackhole} is
 * never answered (for timeouts). Records how many sessions were opened and closed.
 */
final class FakeCore implements Receiver {

    final AtomicInteger opened = new AtomicInteger();
    final AtomicInteger closed = new AtomicInteger();
    final List<Principal> principals = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "fake-core-worker"));
    // state below is only touched on the worker thread
    private final Map<String, List<Message>> conversations = new LinkedHashMap<>();
    private final Map<String, Message> byClientId = new HashMap<>();
    private final Map<String, Group> groups = new HashMap<>();
    private int nextId;

    @Override
    public InboundSession open(Connection connection) {
        throw new UnsupportedOperationException("the HTTP API only opens trusted sessions");
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, Principal principal) {
        opened.incrementAndGet();
        principals.add(principal);
        return new InboundSession() {
            @Override
            public void onFrame(Frame frame) {
                worker.execute(() -> {
                    Frame answer;
                    try {
                        answer = handle(principal.userId(), frame);
                    } catch (ParleyException e) {
                        answer = Frame.newBuilder().setRequestId(frame.getRequestId()).setError(e.toError()).build();
                    }
                    if (answer != null) {
                        connection.send(answer);
                    }
                });
            }

            @Override
            public void onClosed() {
                closed.incrementAndGet();
            }

            @Override
            public boolean isAuthenticated() {
                return true;
            }
        };
    }

    @Override
    public int maxFrameBytes() {
        return 65536;
    }

    void shutdown() throws InterruptedException {
        worker.shutdownNow();
        worker.awaitTermination(5, TimeUnit.SECONDS);
    }

    private Frame handle(String user, Frame frame) {
        Frame.Builder out = Frame.newBuilder().setRequestId(frame.getRequestId());
        switch (frame.getOpCase()) {
            case SEND:
                if (frame.getSend().getType().equals("blackhole")) {
                    return null;
                }
                return out.setSendAck(send(user, frame.getSend())).build();
            case SYNC: {
                SyncRequest.Range r = frame.getSync().getRange();
                authorize(user, r.getConversation());
                int limit = r.getLimit() == 0 ? 200 : Math.min(200, r.getLimit());
                long to = r.getToSeq() == 0 ? Long.MAX_VALUE : r.getToSeq();
                List<Message> hits = new ArrayList<>();
                for (Message m : conversations.getOrDefault(r.getConversation(), List.of())) {
                    if (m.getSeq() >= Math.max(1, r.getFromSeq()) && m.getSeq() <= to) {
                        hits.add(m);
                    }
                }
                boolean more = hits.size() > limit;
                return out.setSyncResponse(SyncResponse.newBuilder()
                        .addAllMessages(more ? hits.subList(0, limit) : hits).setHasMore(more)).build();
            }
            case CONVERSATION_LIST: {
                ConversationList.Builder list = ConversationList.newBuilder();
                conversations.forEach((id, messages) -> {
                    if (members(id).contains(user)) {
                        Message last = messages.get(messages.size() - 1);
                        list.addConversations(ConversationSummary.newBuilder().setConversation(id)
                                .setHead(last.getSeq()).setUnread(last.getSeq()).setLast(last)
                                .setTitle(Ids.groupIdOf(id) != null ? groups.get(Ids.groupIdOf(id)).getName()
                                        : members(id).stream().filter(u -> !u.equals(user)).findFirst().orElse(user)));
                    }
                });
                return out.setConversationListResponse(list).build();
            }
            case GROUP:
                return out.setGroupResponse(group(user, frame.getGroup())).build();
            default:
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "not supported: " + frame.getOpCase());
        }
    }

    private SendAck send(String user, Send send) {
        if (send.getClientMsgId().isEmpty()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "client_msg_id must have 1-64 characters");
        }
        String conversation;
        if (send.hasPeer()) {
            if (!Ids.isValidId(send.getPeer())) {
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "invalid peer user id");
            }
            conversation = Ids.direct(user, send.getPeer());
        } else {
            conversation = send.getConversation();
            authorize(user, conversation);
            Group g = groups.get(String.valueOf(Ids.groupIdOf(conversation)));
            if (g != null && g.getDissolved()) {
                throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "the group is dissolved");
            }
        }
        Message original = byClientId.get(user + "/" + send.getClientMsgId());
        if (original != null) {
            return ack(original, true);
        }
        if (!send.getType().equals("text")) {
            throw new ParleyException(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, "no processor for type " + send.getType());
        }
        Message m = append(Message.newBuilder().setClientMsgId(send.getClientMsgId()).setSender(user)
                .setSenderDevice("http-api").setConversation(conversation).setType(send.getType())
                .setBody(send.getBody()).putAllExt(send.getExtMap()));
        byClientId.put(user + "/" + send.getClientMsgId(), m);
        return ack(m, false);
    }

    private Message append(Message.Builder m) {
        List<Message> list = conversations.computeIfAbsent(m.getConversation(), k -> new ArrayList<>());
        Message stored = m.setId("m" + (++nextId)).setSeq(list.size() + 1L).setServerTime(1_700_000_000_000L + nextId)
                .build();
        list.add(stored);
        return stored;
    }

    private static SendAck ack(Message m, boolean duplicate) {
        return SendAck.newBuilder().setMessageId(m.getId()).setConversation(m.getConversation()).setSeq(m.getSeq())
                .setServerTime(m.getServerTime()).setDuplicate(duplicate).build();
    }

    private GroupResponse group(String actor, GroupRequest r) {
        if (r.getOpCase() == GroupRequest.OpCase.CREATE) {
            String id = "grp" + (groups.size() + 1);
            Group.Builder g = Group.newBuilder().setId(id).setConversation("g:" + id).setName(r.getCreate().getName())
                    .setCreatedAt(1_700_000_000_000L)
                    .addMembers(GroupMember.newBuilder().setUser(actor).setRole(GroupRole.GROUP_ROLE_OWNER));
            for (String u : r.getCreate().getMembersList()) {
                if (!u.equals(actor)) {
                    g.addMembers(GroupMember.newBuilder().setUser(Ids.checkUserId(u)).setRole(GroupRole.GROUP_ROLE_MEMBER));
                }
            }
            return changed(g.build(), actor, GroupEvent.Kind.KIND_CREATED, r.getCreate().getMembersList());
        }
        String id = switch (r.getOpCase()) {
            case GET -> r.getGet().getGroupId();
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
        Group g = groups.get(id);
        if (g == null) {
            throw new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such group");
        }
        GroupRole role = role(g, actor);
        if (role == null) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "not a member of this group");
        }
        boolean manager = role != GroupRole.GROUP_ROLE_MEMBER;
        Group.Builder b = g.toBuilder();
        switch (r.getOpCase()) {
            case GET:
                return GroupResponse.newBuilder().setGroup(g).build();
            case ADD_MEMBERS:
                requireThat(manager);
                for (String u : r.getAddMembers().getUsersList()) {
                    if (role(g, u) == null) {
                        b.addMembers(GroupMember.newBuilder().setUser(Ids.checkUserId(u)).setRole(GroupRole.GROUP_ROLE_MEMBER));
                    }
                }
                return changed(b.build(), actor, GroupEvent.Kind.KIND_MEMBERS_ADDED, r.getAddMembers().getUsersList());
            case REMOVE_MEMBERS:
                requireThat(manager);
                return changed(without(g, r.getRemoveMembers().getUsersList()), actor,
                        GroupEvent.Kind.KIND_MEMBERS_REMOVED, r.getRemoveMembers().getUsersList());
            case LEAVE:
                if (role == GroupRole.GROUP_ROLE_OWNER) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "the owner must transfer first");
                }
                return changed(without(g, List.of(actor)), actor, GroupEvent.Kind.KIND_MEMBER_LEFT, List.of(actor));
            case DISSOLVE:
                requireThat(role == GroupRole.GROUP_ROLE_OWNER);
                return changed(b.setDissolved(true).build(), actor, GroupEvent.Kind.KIND_DISSOLVED, List.of());
            case SET_ROLE:
                requireThat(role == GroupRole.GROUP_ROLE_OWNER);
                return changed(withRole(g, r.getSetRole().getUser(), r.getSetRole().getRole()), actor,
                        GroupEvent.Kind.KIND_ROLE_CHANGED, List.of(r.getSetRole().getUser()));
            case MUTE: {
                requireThat(manager);
                Group.Builder m = g.toBuilder().clearMembers();
                for (GroupMember gm : g.getMembersList()) {
                    m.addMembers(gm.getUser().equals(r.getMute().getUser())
                            ? gm.toBuilder().setMutedUntil(r.getMute().getUntil()).build() : gm);
                }
                return changed(m.build(), actor, GroupEvent.Kind.KIND_MEMBER_MUTED, List.of(r.getMute().getUser()));
            }
            case MUTE_ALL:
                requireThat(manager);
                return changed(b.setMutedAll(r.getMuteAll().getMuted()).build(), actor, GroupEvent.Kind.KIND_GROUP_MUTED,
                        List.of());
            case TRANSFER: {
                requireThat(role == GroupRole.GROUP_ROLE_OWNER);
                String to = r.getTransfer().getNewOwner();
                if (role(g, to) == null) {
                    throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "the new owner must be a member");
                }
                Group t = withRole(withRole(g, actor, GroupRole.GROUP_ROLE_ADMIN), to, GroupRole.GROUP_ROLE_OWNER);
                return changed(t, actor, GroupEvent.Kind.KIND_OWNER_CHANGED, List.of(to));
            }
            default:
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "unsupported");
        }
    }

    private GroupResponse changed(Group after, String actor, GroupEvent.Kind kind, List<String> users) {
        groups.put(after.getId(), after);
        Message event = append(Message.newBuilder().setClientMsgId("group:" + nextId).setSender(actor)
                .setSenderDevice("http-api").setConversation(after.getConversation()).setType("group.event")
                .setBody(Any.pack(GroupEvent.newBuilder().setKind(kind).setActor(actor).addAllUsers(users)
                        .setName(kind == GroupEvent.Kind.KIND_CREATED ? after.getName() : "").build())));
        return GroupResponse.newBuilder().setGroup(after).setEventSeq(event.getSeq()).build();
    }

    private static Group without(Group g, List<String> users) {
        Group.Builder b = g.toBuilder().clearMembers();
        g.getMembersList().stream().filter(m -> !users.contains(m.getUser())).forEach(b::addMembers);
        return b.build();
    }

    private static Group withRole(Group g, String user, GroupRole role) {
        Group.Builder b = g.toBuilder().clearMembers();
        for (GroupMember m : g.getMembersList()) {
            b.addMembers(m.getUser().equals(user) ? m.toBuilder().setRole(role).build() : m);
        }
        return b.build();
    }

    private static GroupRole role(Group g, String user) {
        return g.getMembersList().stream().filter(m -> m.getUser().equals(user)).map(GroupMember::getRole)
                .findFirst().orElse(null);
    }

    private static void requireThat(boolean allowed) {
        if (!allowed) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "not allowed in this group");
        }
    }

    private void authorize(String user, String conversation) {
        List<String> members = members(conversation);
        if (members.isEmpty()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such conversation");
        }
        if (!members.contains(user)) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "not a member of this conversation");
        }
    }

    private List<String> members(String conversation) {
        String groupId = Ids.groupIdOf(conversation);
        if (groupId != null) {
            Group g = groups.get(groupId);
            return g == null ? List.of() : g.getMembersList().stream().map(GroupMember::getUser).toList();
        }
        return Ids.directMembers(conversation);
    }

    /** An {@code Error} frame as the engine sends it. */
    static Frame error(long requestId, ErrorCode code, String message) {
        return Frame.newBuilder().setRequestId(requestId)
                .setError(Error.newBuilder().setCode(code).setMessage(message)).build();
    }
}
