package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupRole;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.parley.core.internal.GroupService.requireMember;

/**
 * The rules of group management as pure functions: what a request changes, or why it is refused. Holds no state;
 * {@link GroupOps} applies the {@link Change} it computes (stores the event with the new record, tells the members).
 *
 * <p>Thread-safety: immutable.
 */
final class GroupRules {
    static final int MAX_NAME_LENGTH = 100;

    /** A computed change: the event, the new record and who joins or leaves the conversation list. */
    record Change(GroupEvent event, Group after, Collection<String> joined, Collection<String> left) {
    }

    private final int maxMembers;

    GroupRules(int maxMembers) {
        this.maxMembers = maxMembers;
    }

    /**
     * A group name as stored: stripped of surrounding white space; 1-{@value #MAX_NAME_LENGTH} UTF-16 units with at
     * least one visible character; no control characters (NUL, line breaks, tabs…), line or paragraph separators,
     * or bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which would let a name
     * reorder or break the text around it where it is shown.
     *
     * @throws io.parley.core.api.ParleyException INVALID_REQUEST otherwise
     */
    static String checkName(String raw) {
        String name = raw.strip();
        if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
            throw invalid("a group name has 1-" + MAX_NAME_LENGTH + " characters");
        }
        boolean visible = false;
        for (int i = 0; i < name.length(); ) {
            int c = name.codePointAt(i);
            int type = Character.getType(c);
            if (type == Character.CONTROL || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR
                    || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)) {
                throw invalid(String.format("a group name may not contain U+%04X (control characters, line breaks and "
                        + "bidirectional overrides are refused)", c));
            }
            visible |= !Character.isWhitespace(c) && !Character.isSpaceChar(c) && type != Character.FORMAT;
            i += Character.charCount(c);
        }
        if (!visible) {
            throw invalid("a group name needs at least one visible character");
        }
        return name;
    }

    /** The group a create request makes, before it has an event. */
    Change create(String groupId, String actor, GroupRequest.Create create, long now) {
        String name = checkName(create.getName());
        Set<String> users = new LinkedHashSet<>();
        users.add(actor);
        for (String u : create.getMembersList()) {
            users.add(Ids.checkUserId(u));
        }
        checkSize(users.size());
        Group.Builder g = Group.newBuilder().setId(groupId).setConversation(Ids.group(groupId)).setName(name).setCreatedAt(now);
        for (String u : users) {
            g.addMembers(GroupMember.newBuilder().setUser(u)
                    .setRole(u.equals(actor) ? GroupRole.GROUP_ROLE_OWNER : GroupRole.GROUP_ROLE_MEMBER));
        }
        GroupEvent event = GroupEvent.newBuilder().setKind(GroupEvent.Kind.KIND_CREATED).setActor(actor)
                .addAllUsers(users).setName(name).build();
        return new Change(event, g.build(), users, List.of());
    }

    /** The change a management request makes to {@code g}; @throws ParleyException if the actor may not make it */
    Change apply(Group g, String actor, GroupRequest request, long now) {
        GroupMember me = requireMember(g, actor);
        if (g.getDissolved()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "the group is dissolved");
        }
        Map<String, GroupMember> members = new LinkedHashMap<>();
        g.getMembersList().forEach(m -> members.put(m.getUser(), m));
        GroupEvent.Builder event = GroupEvent.newBuilder().setActor(actor);
        List<String> joined = new ArrayList<>();
        List<String> left = new ArrayList<>();
        Group.Builder after = g.toBuilder();
        switch (request.getOpCase()) {
            case ADD_MEMBERS -> {
                requireManager(me);
                for (String u : request.getAddMembers().getUsersList()) {
                    Ids.checkUserId(u);
                    if (!members.containsKey(u)) {
                        members.put(u, GroupMember.newBuilder().setUser(u).setRole(GroupRole.GROUP_ROLE_MEMBER).build());
                        joined.add(u);
                    }
                }
                if (joined.isEmpty()) {
                    throw invalid("every user is already a member");
                }
                checkSize(members.size());
                event.setKind(GroupEvent.Kind.KIND_MEMBERS_ADDED).addAllUsers(joined);
            }
            case REMOVE_MEMBERS -> {
                requireManager(me);
                for (String u : request.getRemoveMembers().getUsersList()) {
                    GroupMember target = members.get(u);
                    if (target == null) {
                        throw invalid(u + " is not a member");
                    }
                    requireOutranks(me, target, "remove");
                    members.remove(u);
                    left.add(u);
                }
                if (left.isEmpty()) {
                    throw invalid("no users to remove");
                }
                event.setKind(GroupEvent.Kind.KIND_MEMBERS_REMOVED).addAllUsers(left);
            }
            case LEAVE -> {
                if (me.getRole() == GroupRole.GROUP_ROLE_OWNER && members.size() > 1) {
                    // a permission (protocol.md §6a: "the owner only after transfer"), not a malformed request
                    throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN,
                            "the owner must transfer ownership before leaving");
                }
                members.remove(actor);
                left.add(actor);
                event.setKind(GroupEvent.Kind.KIND_MEMBER_LEFT).addUsers(actor);
                if (members.isEmpty()) {
                    after.setDissolved(true);
                }
            }
            case DISSOLVE -> {
                requireOwner(me);
                after.setDissolved(true);
                event.setKind(GroupEvent.Kind.KIND_DISSOLVED);
            }
            case SET_ROLE -> {
                requireOwner(me);
                GroupRequest.SetRole r = request.getSetRole();
                GroupMember target = requireTarget(members, r.getUser());
                if (r.getRole() != GroupRole.GROUP_ROLE_MEMBER && r.getRole() != GroupRole.GROUP_ROLE_ADMIN) {
                    throw invalid("role must be MEMBER or ADMIN; use transfer for the owner");
                }
                if (target.getRole() == GroupRole.GROUP_ROLE_OWNER) {
                    throw invalid("the owner's role changes only by transfer");
                }
                members.put(target.getUser(), target.toBuilder().setRole(r.getRole()).build());
                event.setKind(GroupEvent.Kind.KIND_ROLE_CHANGED).addUsers(target.getUser()).setRole(r.getRole());
            }
            case MUTE -> {
                requireManager(me);
                GroupRequest.Mute m = request.getMute();
                GroupMember target = requireTarget(members, m.getUser());
                requireOutranks(me, target, "mute");
                long until = Math.max(0, m.getUntil());
                members.put(target.getUser(), target.toBuilder().setMutedUntil(until).build());
                event.setKind(GroupEvent.Kind.KIND_MEMBER_MUTED).addUsers(target.getUser()).setMutedUntil(until);
            }
            case MUTE_ALL -> {
                requireManager(me);
                after.setMutedAll(request.getMuteAll().getMuted());
                event.setKind(GroupEvent.Kind.KIND_GROUP_MUTED).setMuted(request.getMuteAll().getMuted());
            }
            case TRANSFER -> {
                requireOwner(me);
                GroupMember target = requireTarget(members, request.getTransfer().getNewOwner());
                if (target.getUser().equals(actor)) {
                    throw invalid("you already own the group");
                }
                members.put(actor, me.toBuilder().setRole(GroupRole.GROUP_ROLE_ADMIN).build());
                members.put(target.getUser(), target.toBuilder().setRole(GroupRole.GROUP_ROLE_OWNER).build());
                event.setKind(GroupEvent.Kind.KIND_OWNER_CHANGED).addUsers(target.getUser());
            }
            default -> throw invalid("unknown group operation");
        }
        after.clearMembers().addAllMembers(members.values());
        return new Change(event.build(), after.build(), joined, left);
    }

    private void checkSize(int size) {
        if (size > maxMembers) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "a group has at most " + maxMembers + " members");
        }
    }

    private static GroupMember requireTarget(Map<String, GroupMember> members, String user) {
        GroupMember target = members.get(user);
        if (target == null) {
            throw invalid(user + " is not a member");
        }
        return target;
    }

    private static void requireManager(GroupMember me) {
        if (me.getRole() != GroupRole.GROUP_ROLE_OWNER && me.getRole() != GroupRole.GROUP_ROLE_ADMIN) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "only the owner and admins manage the group");
        }
    }

    private static void requireOwner(GroupMember me) {
        if (me.getRole() != GroupRole.GROUP_ROLE_OWNER) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "only the owner may do this");
        }
    }

    private static void requireOutranks(GroupMember me, GroupMember target, String what) {
        if (target.getRole().getNumber() >= me.getRole().getNumber()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "you may not " + what + " " + target.getUser());
        }
    }

    private static ParleyException invalid(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, message);
    }
}
