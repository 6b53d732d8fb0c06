package io.parley.transport.http.internal;

import com.google.protobuf.Any;
import io.parley.type.text.proto.Text;
import com.google.protobuf.Descriptors;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.CommandResult;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import io.parley.core.spi.transport.CommandTypeInfo;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Explicit mapping between the wire protobuf messages and the API's JSON records ({@link Dto}). Stateless; every
 * method is a pure function.
 */
public final class ProtoMapping {

    /** Type URL of the {@code text} type's body, {@code parley.text.v1.Text { string text = 1; }}. */
    public static final String TEXT_TYPE_URL = "type.googleapis.com/parley.text.v1.Text";
    /** Type URL of a {@code group.event} system message's body. */
    public static final String GROUP_EVENT_TYPE_URL = "type.googleapis.com/parley.v1.GroupEvent";

    private ProtoMapping() {
    }

    /**
     * The body of a {@code text} message. {@code parley.text.v1.Text} is generated at build time from the text
     * bundle's own {@code .proto} (one definition) into a private copy, so this bundle does not depend on the text
     * bundle, which is hot-swapped.
     */
    public static Any textBody(String text) {
        return Any.pack(Text.newBuilder().setText(text).build());
    }

    /** @return the text of a {@code parley.text.v1.Text} body, or null if {@code body} is not one or does not parse */
    public static String textOf(Any body) {
        if (!TEXT_TYPE_URL.equals(body.getTypeUrl())) {
            return null;
        }
        try {
            return Text.parseFrom(body.getValue()).getText();
        } catch (InvalidProtocolBufferException e) {
            return null;
        }
    }

    /**
     * @throws ApiException 400 if a field is missing or the value is not base64
     */
    public static Any body(Dto.Body body) {
        return packed(body, "body");
    }

    /**
     * @param field the name of the packed value in the request, which error messages name (e.g. {@code payload_packed})
     * @throws ApiException 400 if {@code type_url} is missing or the value is not base64
     */
    public static Any packed(Dto.Body body, String field) {
        if (body.typeUrl() == null || body.typeUrl().isBlank()) {
            throw ApiException.invalid(field + ".type_url is required");
        }
        ByteString value;
        try {
            value = body.valueBase64() == null ? ByteString.EMPTY
                    : ByteString.copyFrom(Base64.getDecoder().decode(body.valueBase64()));
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field + ".value_base64 is not base64: " + e.getMessage());
        }
        return Any.newBuilder().setTypeUrl(body.typeUrl()).setValue(value).build();
    }

    public static Dto.Body body(Any any) {
        return new Dto.Body(any.getTypeUrl(), Base64.getEncoder().encodeToString(any.getValue().toByteArray()));
    }

    /**
     * @param result the answer's message from the core's catalog, if its handler names one: the answer is then also
     *               given as JSON (when it is packed as that message)
     */
    public static Dto.CommandResult commandResult(CommandResult r, Optional<Descriptors.Descriptor> result) {
        return new Dto.CommandResult(r.getType(), result.map(d -> BodyJson.toJson(r.getPayload(), d)).orElse(null),
                body(r.getPayload()));
    }

    /** A command of the core's catalog, with the fields of its payload and answer messages where it names them. */
    public static Dto.CommandView command(CommandTypeInfo c) {
        return new Dto.CommandView(c.type(),
                c.payload().map(Descriptors.Descriptor::getFullName).orElse(null),
                c.payload().map(BodyJson::typeUrl).orElse(null),
                c.payload().map(BodyJson::schema).orElse(null),
                c.result().map(Descriptors.Descriptor::getFullName).orElse(null),
                c.result().map(BodyJson::typeUrl).orElse(null),
                c.result().map(BodyJson::schema).orElse(null));
    }

    public static Dto.SendResult sendResult(SendAck ack) {
        return new Dto.SendResult(ack.getMessageId(), ack.getConversation(), ack.getSeq(), ack.getServerTime(),
                ack.getDuplicate());
    }

    public static Dto.MessageView message(Message m) {
        return message(m, Map.of());
    }

    /**
     * @param catalog type → its body message, from the core's catalog: a body of a known type is also given as JSON
     *                ({@code content})
     */
    public static Dto.MessageView message(Message m, Map<String, Descriptors.Descriptor> catalog) {
        Descriptors.Descriptor d = catalog.get(m.getType());
        return new Dto.MessageView(m.getId(), m.getClientMsgId(), m.getSender(), m.getSenderDevice(),
                m.getConversation(), m.getSeq(), m.getServerTime(), m.getType(), body(m.getBody()),
                d == null ? null : BodyJson.toJson(m.getBody(), d),
                textOf(m.getBody()), groupEvent(m.getBody()), m.getExtMap().isEmpty() ? null : Map.copyOf(m.getExtMap()));
    }

    public static List<Dto.MessageView> messages(List<Message> messages) {
        return messages(messages, Map.of());
    }

    public static List<Dto.MessageView> messages(List<Message> messages, Map<String, Descriptors.Descriptor> catalog) {
        List<Dto.MessageView> out = new ArrayList<>(messages.size());
        for (Message m : messages) {
            out.add(message(m, catalog));
        }
        return out;
    }

    /** @return the decoded {@code GroupEvent}, or null if {@code body} is not one or does not parse */
    public static Dto.GroupEventView groupEvent(Any body) {
        if (!GROUP_EVENT_TYPE_URL.equals(body.getTypeUrl())) {
            return null;
        }
        GroupEvent e;
        try {
            e = GroupEvent.parseFrom(body.getValue());
        } catch (InvalidProtocolBufferException ex) {
            return null;
        }
        return new Dto.GroupEventView(enumName(e.getKind().name(), "KIND_"), e.getActor(),
                e.getUsersList().isEmpty() ? null : List.copyOf(e.getUsersList()),
                e.getRole() == GroupRole.GROUP_ROLE_UNSPECIFIED ? null : role(e.getRole()),
                e.getKind() == GroupEvent.Kind.KIND_MEMBER_MUTED ? e.getMutedUntil() : null,
                e.getKind() == GroupEvent.Kind.KIND_GROUP_MUTED ? e.getMuted() : null,
                e.getName().isEmpty() ? null : e.getName());
    }

    public static Dto.ConversationView conversation(ConversationSummary c) {
        return new Dto.ConversationView(c.getConversation(), c.getTitle(), c.getHead(), c.getReadSeq(),
                c.getUnread(), c.hasLast() ? message(c.getLast()) : null);
    }

    public static Dto.GroupResult groupResult(GroupResponse r) {
        return new Dto.GroupResult(group(r.getGroup()), r.getEventSeq());
    }

    public static Dto.GroupView group(Group g) {
        List<Dto.MemberView> members = new ArrayList<>(g.getMembersCount());
        for (GroupMember m : g.getMembersList()) {
            members.add(new Dto.MemberView(m.getUser(), role(m.getRole()), m.getMutedUntil()));
        }
        return new Dto.GroupView(g.getId(), g.getConversation(), g.getName(), members, g.getMutedAll(),
                g.getDissolved(), g.getCreatedAt());
    }

    /** {@code GROUP_ROLE_ADMIN} → {@code admin}. */
    public static String role(GroupRole role) {
        return enumName(role.name(), "GROUP_ROLE_");
    }

    /**
     * {@code member} or {@code admin} (case-insensitive) → the wire role; owner is given by transfer only.
     *
     * @throws ApiException 400 for anything else
     */
    public static GroupRole parseRole(String role) {
        if (role != null) {
            switch (role.trim().toLowerCase(Locale.ROOT)) {
                case "member":
                    return GroupRole.GROUP_ROLE_MEMBER;
                case "admin":
                    return GroupRole.GROUP_ROLE_ADMIN;
                default:
                    break;
            }
        }
        throw ApiException.invalid("role must be \"member\" or \"admin\" (ownership moves with /transfer)");
    }

    private static String enumName(String name, String prefix) {
        String bare = name.startsWith(prefix) ? name.substring(prefix.length()) : name;
        return bare.toLowerCase(Locale.ROOT);
    }
}
