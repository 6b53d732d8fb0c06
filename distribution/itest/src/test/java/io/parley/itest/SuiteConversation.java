package io.parley.itest;

import io.parley.core.api.Ids;
import io.parley.core.proto.Send;

import java.util.List;

/**
 * A conversation of the delivery fault suite: its id, its members, and how a member addresses a send to it: a 1:1
 * conversation by peer, a group by {@link Send.Builder#setConversation conversation id}.
 */
interface SuiteConversation {
    /** @return the conversation id the server assigns (and puts into acks and deliveries) */
    String id();

    /** @return every member, the sender included; each device of each member must end with the full history */
    List<String> members();

    /** @return {@code send} addressed to this conversation on behalf of {@code sender} (a member) */
    Send.Builder address(Send.Builder send, String sender);

    /** A 1:1 conversation, addressed by peer user id. */
    record Direct(String a, String b) implements SuiteConversation {
        @Override
        public String id() {
            return Ids.direct(a, b);
        }

        @Override
        public List<String> members() {
            return List.of(a, b);
        }

        @Override
        public Send.Builder address(Send.Builder send, String sender) {
            if (!sender.equals(a) && !sender.equals(b)) {
                throw new IllegalArgumentException(sender + " is not in " + id());
            }
            return send.setPeer(sender.equals(a) ? b : a);
        }
    }

    /**
     * A group conversation that already exists on the server ({@code "g:<group id>"}); its membership does not
     * change during the suite. Its {@code group.event} messages are part of every member device's history.
     */
    record Group(String id, List<String> members) implements SuiteConversation {
        public Group {
            members = List.copyOf(members);
        }

        @Override
        public Send.Builder address(Send.Builder send, String sender) {
            if (!members.contains(sender)) {
                throw new IllegalArgumentException(sender + " is not in " + id);
            }
            return send.setConversation(id);
        }
    }
}
