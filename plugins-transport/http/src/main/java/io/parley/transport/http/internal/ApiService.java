package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import io.parley.core.proto.Command;
import io.parley.core.proto.ConversationListRequest;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.transport.CommandTypeInfo;
import io.parley.transport.http.internal.Router.Endpoint;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;

/**
 * What each endpoint does, without HTTP plumbing: validates the request, turns it into one protocol request for the
 * acting user, runs it through the {@link CoreGateway} and maps the answer to JSON. Authentication of the caller
 * (the admin token) is done before this class is reached.
 *
 * <p>Threading: {@link #handle} may be called on an event loop; it parses and validates synchronously (bounded
 * CPU work, no I/O) and returns a future that the core completes on its own threads. Thread-safe.
 */
public final class ApiService {

    /** The sender of messages posted without {@code from}. */
    public static final String SYSTEM_USER = "system";

    /**
     * One API call as parsed from HTTP.
     *
     * @param query         query parameters (decoded); first value wins
     * @param body          the request body, possibly empty
     * @param remoteAddress the caller, for logs
     */
    public record Call(Map<String, List<String>> query, byte[] body, String remoteAddress) {

        String query(String name) {
            List<String> values = query.get(name);
            return values == null || values.isEmpty() ? null : values.get(0);
        }
    }

    /**
     * The answer: either a JSON value or raw bytes of {@code contentType}.
     *
     * @param status      HTTP status
     * @param json        written as JSON when not null
     * @param raw         sent as is when {@code json} is null
     * @param contentType of {@code raw}
     */
    public record Reply(int status, Object json, byte[] raw, String contentType) {

        static Reply ok(Object json) {
            return new Reply(200, json, null, null);
        }
    }

    private final CoreGateway gateway;
    private final TokenIssuer tokens;
    private final ApiJson json;
    private final Duration timeout;
    private final byte[] openApi;

    /**
     * @param timeout how long a call waits for the core
     * @param openApi the OpenAPI document served at {@code GET /v1/openapi.yaml}
     */
    public ApiService(CoreGateway gateway, TokenIssuer tokens, ApiJson json, Duration timeout, byte[] openApi) {
        this.gateway = gateway;
        this.tokens = tokens;
        this.json = json;
        this.timeout = timeout;
        this.openApi = openApi.clone();
    }

    /**
     * @return the reply; completes exceptionally with {@link ApiException} for every refusal (an unexpected
     *         exception means a bug and is answered with 500 by the caller)
     */
    public CompletableFuture<Reply> handle(Router.Match match, Call call, ScheduledExecutorService timer) {
        try {
            return dispatch(match, call, timer);
        } catch (ApiException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Longest kick reason shown to the clients, in characters. */
    static final int MAX_KICK_REASON = 200;

    private Dto.KickResult kick(String user, Call call) {
        Dto.KickRequest r = json.read(call.body(), Dto.KickRequest.class);
        if (!io.parley.core.api.Ids.isValidId(user)) {
            throw ApiException.invalid("user is not a valid id");
        }
        if (r.device() != null && !io.parley.core.api.Ids.isValidId(r.device())) {
            throw ApiException.invalid("device is not a valid id");
        }
        String reason = r.reason() == null || r.reason().isBlank() ? "signed out by the operator" : r.reason().strip();
        if (reason.length() > MAX_KICK_REASON || reason.chars().anyMatch(Character::isISOControl)) {
            throw ApiException.invalid("reason has at most " + MAX_KICK_REASON + " characters and no control characters");
        }
        return new Dto.KickResult(user, r.device(), gateway.kick(user, r.device(), reason));
    }

    private CompletableFuture<Reply> dispatch(Router.Match match, Call call, ScheduledExecutorService timer) {
        Endpoint endpoint = match.endpoint();
        switch (endpoint) {
            case HEALTH: {
                List<String> problems = gateway.problems();
                return CompletableFuture.completedFuture(problems.isEmpty()
                        ? Reply.ok(new Dto.Health("UP", problems)) : new Reply(503, new Dto.Health("DOWN", problems), null, null));
            }
            case OPENAPI:
                return CompletableFuture.completedFuture(new Reply(200, null, openApi, "application/yaml"));
            case TYPES: {
                List<Dto.TypeView> types = gateway.messageTypes().stream()
                        .map(t -> new Dto.TypeView(t.type(), t.body().map(d -> d.getFullName()).orElse(null),
                                t.typeUrl().orElse(null), t.body().map(BodyJson::schema).orElse(null)))
                        .toList();
                List<Dto.CommandView> commands = gateway.commandTypes().stream().map(ProtoMapping::command).toList();
                return CompletableFuture.completedFuture(Reply.ok(new Dto.Types(types, commands)));
            }
            case COMMAND:
                return command(match.param("type"), call, timer);
            case MINT_TOKEN: {
                Dto.TokenRequest r = json.read(call.body(), Dto.TokenRequest.class);
                return CompletableFuture.completedFuture(Reply.ok(tokens.mint(r.user(), r.device(), r.ttlSeconds())));
            }
            case SEND_MESSAGE:
                return send(call, timer);
            case HISTORY:
                return history(match.param("conversation"), call, timer);
            case CONVERSATIONS: {
                ConversationListRequest.Builder list = ConversationListRequest.newBuilder();
                list.setLimit((int) Math.min(Integer.MAX_VALUE, number(call, "limit", 0)));
                String user = match.param("user");
                return ask(user, Frame.newBuilder().setConversationList(list), call, timer, Frame.OpCase.CONVERSATION_LIST_RESPONSE,
                        f -> new Dto.Conversations(user, f.getConversationListResponse().getConversationsList().stream()
                                .map(ProtoMapping::conversation).toList()));
            }
            case KICK_USER:
                return CompletableFuture.completedFuture(Reply.ok(kick(match.param("user"), call)));
            default:
                return group(endpoint, match, call, timer);
        }
    }

    private CompletableFuture<Reply> send(Call call, ScheduledExecutorService timer) {
        Dto.SendRequest r = json.read(call.body(), Dto.SendRequest.class);
        String from = r.from() == null ? SYSTEM_USER : r.from();
        Send.Builder send = Send.newBuilder();
        if ((r.to() == null) == (r.conversation() == null)) {
            throw ApiException.invalid("exactly one of to (a user id) and conversation is required");
        }
        if (r.to() != null) {
            send.setPeer(r.to());
        } else {
            send.setConversation(r.conversation());
        }
        Any body;
        String type;
        if (r.text() != null) {
            if (r.body() != null) {
                throw ApiException.invalid("give either text or body, not both");
            }
            type = r.type() == null ? "text" : r.type();
            if (!type.equals("text")) {
                throw ApiException.invalid("text is only for type \"text\"; send other types with body");
            }
            body = ProtoMapping.textBody(r.text());
        } else if (r.body() != null) {
            type = required(r.type(), "type");
            body = body(type, r.body());
        } else {
            throw ApiException.invalid("text or body is required");
        }
        send.setType(type).setBody(body)
                .setClientMsgId(r.clientMsgId() == null ? "http-" + UUID.randomUUID() : r.clientMsgId());
        if (r.ext() != null) {
            for (Map.Entry<String, String> e : r.ext().entrySet()) {
                if (e.getValue() == null) {
                    throw ApiException.invalid("ext." + e.getKey() + " must be a string");
                }
                send.putExt(e.getKey(), e.getValue());
            }
        }
        return ask(from, Frame.newBuilder().setSend(send), call, timer, Frame.OpCase.SEND_ACK,
                f -> ProtoMapping.sendResult(f.getSendAck()));
    }

    /**
     * One {@code Command} frame for the acting user ({@code user}, default the system account) on a trusted session,
     * so the handler sees {@code CommandContext.trusted()}. The payload is {@code payload_packed} as given, or
     * {@code payload} read as the command's payload message from the core's catalog (422 if the command is not
     * deployed or names none), or, with neither, an empty message of that type (an empty {@code Any} if it names
     * none). The answer is given packed, and as JSON when the catalog names its message.
     */
    private CompletableFuture<Reply> command(String type, Call call, ScheduledExecutorService timer) {
        Dto.CommandRequest r = json.read(call.body(), Dto.CommandRequest.class);
        String user = r.user() == null ? SYSTEM_USER : r.user();
        boolean jsonPayload = r.payload() != null && !r.payload().isNull();
        if (jsonPayload && r.payloadPacked() != null) {
            throw ApiException.invalid("give either payload (JSON) or payload_packed, not both");
        }
        CommandTypeInfo info = gateway.commandType(type);
        Any payload;
        if (r.payloadPacked() != null) {
            payload = ProtoMapping.packed(r.payloadPacked(), "payload_packed");
        } else if (jsonPayload) {
            if (info == null) {
                throw new ApiException(422, "UNSUPPORTED_COMMAND", "command '" + type + "' is not deployed "
                        + "(GET /v1/types lists the commands)", false, 0);
            }
            Descriptors.Descriptor d = info.payload().orElseThrow(() -> new ApiException(422, "UNSUPPORTED_COMMAND",
                    "command '" + type + "' does not describe its payload, so it cannot be given as JSON; send it "
                            + "packed as payload_packed {type_url, value_base64}", false, 0));
            payload = BodyJson.fromJson(r.payload(), d, "payload");
        } else {
            payload = info == null || info.payload().isEmpty() ? Any.getDefaultInstance()
                    : Any.newBuilder().setTypeUrl(BodyJson.typeUrl(info.payload().get())).build();
        }
        Command.Builder command = Command.newBuilder().setType(type).setPayload(payload);
        if (r.clientRequestId() != null) {
            command.setClientRequestId(r.clientRequestId());
        }
        return ask(user, Frame.newBuilder().setCommand(command), call, timer, Frame.OpCase.COMMAND_RESULT, f -> {
            // the catalog as it is now: the handler that answered may be a newer version than the one asked about
            CommandTypeInfo answered = gateway.commandType(type);
            return ProtoMapping.commandResult(f.getCommandResult(),
                    answered == null ? Optional.empty() : answered.result());
        });
    }

    private CompletableFuture<Reply> history(String conversation, Call call, ScheduledExecutorService timer) {
        String user = required(call.query("user"), "query parameter user");
        SyncRequest.Range range = SyncRequest.Range.newBuilder()
                .setConversation(conversation)
                .setFromSeq(number(call, "from_seq", 1))
                .setToSeq(number(call, "to_seq", 0))
                .setLimit((int) Math.min(Integer.MAX_VALUE, number(call, "limit", 0)))
                .build();
        return ask(user, Frame.newBuilder().setSync(SyncRequest.newBuilder().setRange(range)), call, timer,
                Frame.OpCase.SYNC_RESPONSE, f -> new Dto.History(conversation,
                        ProtoMapping.messages(f.getSyncResponse().getMessagesList(), gateway.bodyCatalog()),
                        f.getSyncResponse().getHasMore()));
    }

    private CompletableFuture<Reply> group(Endpoint endpoint, Router.Match match, Call call,
                                           ScheduledExecutorService timer) {
        String groupId = match.param("group");
        GroupRequest.Builder g = GroupRequest.newBuilder();
        String actor;
        String requestId;
        switch (endpoint) {
            case CREATE_GROUP: {
                Dto.CreateGroupRequest r = json.read(call.body(), Dto.CreateGroupRequest.class);
                actor = required(r.owner(), "owner");
                requestId = r.clientRequestId();
                g.setCreate(GroupRequest.Create.newBuilder().setName(r.name() == null ? "" : r.name())
                        .addAllMembers(users(r.members(), "members", false)));
                break;
            }
            case GET_GROUP:
                actor = required(call.query("user"), "query parameter user");
                requestId = null;
                g.setGet(GroupRequest.Get.newBuilder().setGroupId(groupId));
                break;
            case DISSOLVE_GROUP:
                actor = required(call.query("actor"), "query parameter actor");
                requestId = call.query("client_request_id");
                g.setDissolve(GroupRequest.Dissolve.newBuilder().setGroupId(groupId));
                break;
            case ADD_MEMBERS: {
                Dto.AddMembersRequest r = json.read(call.body(), Dto.AddMembersRequest.class);
                actor = required(r.actor(), "actor");
                requestId = r.clientRequestId();
                g.setAddMembers(GroupRequest.Members.newBuilder().setGroupId(groupId)
                        .addAllUsers(users(r.users(), "users", true)));
                break;
            }
            case REMOVE_MEMBER:
                actor = required(call.query("actor"), "query parameter actor");
                requestId = call.query("client_request_id");
                g.setRemoveMembers(GroupRequest.Members.newBuilder().setGroupId(groupId).addUsers(match.param("user")));
                break;
            case LEAVE_GROUP: {
                Dto.LeaveRequest r = json.read(call.body(), Dto.LeaveRequest.class);
                actor = required(r.user(), "user");
                requestId = r.clientRequestId();
                g.setLeave(GroupRequest.Leave.newBuilder().setGroupId(groupId));
                break;
            }
            case SET_ROLE: {
                Dto.RoleRequest r = json.read(call.body(), Dto.RoleRequest.class);
                actor = required(r.actor(), "actor");
                requestId = r.clientRequestId();
                g.setSetRole(GroupRequest.SetRole.newBuilder().setGroupId(groupId).setUser(required(r.user(), "user"))
                        .setRole(ProtoMapping.parseRole(r.role())));
                break;
            }
            case MUTE_MEMBER: {
                Dto.MuteRequest r = json.read(call.body(), Dto.MuteRequest.class);
                actor = required(r.actor(), "actor");
                requestId = r.clientRequestId();
                if (r.until() == null || r.until() < 0) {
                    throw ApiException.invalid("until (epoch ms; 0 unmutes) is required");
                }
                g.setMute(GroupRequest.Mute.newBuilder().setGroupId(groupId).setUser(required(r.user(), "user"))
                        .setUntil(r.until()));
                break;
            }
            case MUTE_ALL: {
                Dto.MuteAllRequest r = json.read(call.body(), Dto.MuteAllRequest.class);
                actor = required(r.actor(), "actor");
                requestId = r.clientRequestId();
                if (r.muted() == null) {
                    throw ApiException.invalid("muted (true or false) is required");
                }
                g.setMuteAll(GroupRequest.MuteAll.newBuilder().setGroupId(groupId).setMuted(r.muted()));
                break;
            }
            case TRANSFER_GROUP: {
                Dto.TransferRequest r = json.read(call.body(), Dto.TransferRequest.class);
                actor = required(r.actor(), "actor");
                requestId = r.clientRequestId();
                g.setTransfer(GroupRequest.Transfer.newBuilder().setGroupId(groupId)
                        .setNewOwner(required(r.newOwner(), "new_owner")));
                break;
            }
            default:
                throw new IllegalStateException("no handler for " + endpoint);
        }
        if (requestId != null) {
            g.setClientRequestId(requestId);
        }
        return ask(actor, Frame.newBuilder().setGroup(g), call, timer, Frame.OpCase.GROUP_RESPONSE,
                f -> ProtoMapping.groupResult(f.getGroupResponse()));
    }

    private CompletableFuture<Reply> ask(String user, Frame.Builder request, Call call, ScheduledExecutorService timer,
                                         Frame.OpCase expected, Function<Frame, Object> map) {
        return gateway.call(user, request.build(), call.remoteAddress(), timeout, timer).thenApply(answer -> {
            if (answer.getOpCase() != expected) {
                throw ApiException.internal("unexpected answer from the core: " + answer.getOpCase());
            }
            return Reply.ok(map.apply(answer));
        });
    }

    /**
     * A request's body: packed ({@code {"type_url", "value_base64"}}) for any type, or the fields of the type's body
     * message as JSON for a type the core's catalog describes.
     */
    private Any body(String type, JsonNode json) {
        if (!json.isObject()) {
            throw ApiException.invalid("body must be an object");
        }
        if (json.has("type_url")) {
            for (java.util.Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!name.equals("type_url") && !name.equals("value_base64")) {
                    throw ApiException.invalid("unknown field 'body." + name + "' in a packed body");
                }
            }
            JsonNode value = json.get("value_base64");
            return ProtoMapping.body(new Dto.Body(json.get("type_url").asText(), value == null ? null : value.asText()));
        }
        Descriptors.Descriptor d = gateway.bodyCatalog().get(type);
        if (d == null) {
            throw new ApiException(422, "UNSUPPORTED_TYPE", "type '" + type + "' is not deployed or does not describe "
                    + "its body (GET /v1/types); send the body packed as {type_url, value_base64}", false, 0);
        }
        return BodyJson.fromJson(json, d);
    }

    private static String required(String value, String name) {
        if (value == null || value.isEmpty()) {
            throw ApiException.invalid(name + " is required");
        }
        return value;
    }

    private static List<String> users(List<String> users, String name, boolean required) {
        if (users == null || users.isEmpty()) {
            if (required) {
                throw ApiException.invalid(name + " must list at least one user");
            }
            return List.of();
        }
        for (String u : users) {
            if (u == null) {
                throw ApiException.invalid(name + " must not contain null");
            }
        }
        return users;
    }

    /** A non-negative integer query parameter, or {@code absent} if it is not given. */
    private static long number(Call call, String name, long absent) {
        String value = call.query(name);
        if (value == null || value.isEmpty()) {
            return absent;
        }
        try {
            long n = Long.parseLong(value);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw ApiException.invalid("query parameter " + name + " must be a non-negative integer");
    }
}
