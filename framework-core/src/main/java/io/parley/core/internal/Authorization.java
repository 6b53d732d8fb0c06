package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Optional;

/**
 * Who may touch a conversation: the two users of a direct conversation, the members of a group (from the
 * {@link GroupService} cache, else the store). Every verb that names a conversation asks here first.
 *
 * <p>Thread-safe, stateless; called on core workers (group records may be read from the store on a cache miss).
 */
@Singleton
final class Authorization {
    private final GroupService groups;
    private final CurrentStore store;

    @Inject
    Authorization(GroupService groups, CurrentStore store) {
        this.groups = groups;
        this.store = store;
    }

    /** @return true if {@code conversation} is a group in which {@code user} is the owner or an admin */
    boolean managesGroup(String user, String conversation) {
        String groupId = Ids.groupIdOf(conversation);
        if (groupId == null) {
            return false;
        }
        return GroupService.member(groups.require(store.require(), groupId), user)
                .map(m -> m.getRole() == io.parley.core.proto.GroupRole.GROUP_ROLE_OWNER
                        || m.getRole() == io.parley.core.proto.GroupRole.GROUP_ROLE_ADMIN)
                .orElse(false);
    }

    /**
     * @return the record of the group behind {@code conversation} (empty for a direct conversation)
     * @throws ParleyException NOT_FOUND unless {@code user} is a member (also when it does not exist)
     */
    Optional<Group> group(String user, String conversation) {
        String groupId = Ids.groupIdOf(conversation);
        if (groupId == null) {
            authorize(user, conversation);
            return Optional.empty();
        }
        Group g = groups.require(store.require(), groupId);
        groups.requireMemberOf(g, user);
        return Optional.of(g);
    }

    /**
     * @return the members of {@code conversation}
     * @throws ParleyException INVALID_REQUEST if {@code conversation} is empty (the field is missing); NOT_FOUND
     *                         unless {@code user} is one of them (also when it does not exist)
     */
    List<String> authorize(String user, String conversation) {
        if (conversation.isEmpty()) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "conversation is required");
        }
        String groupId = Ids.groupIdOf(conversation);
        if (groupId != null) {
            Group g = groups.require(store.require(), groupId);
            groups.requireMemberOf(g, user);
            return groups.members(g);
        }
        List<String> members = Ids.directMembers(conversation);
        if (!members.contains(user)) {
            // one answer for malformed ids and other pairs' conversations, existing or not: nothing leaks
            throw new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such conversation");
        }
        return members;
    }
}
