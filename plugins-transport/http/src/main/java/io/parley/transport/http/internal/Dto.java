package io.parley.transport.http.internal;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;
import java.util.Map;

/**
 * The JSON shapes of the API, one record each, named exactly as {@code openapi.yaml} names them. Request records
 * are read strictly: an unknown field is a 400, so a misspelt {@code too} is not silently ignored. Absent optional
 * fields are null (hence boxed numbers). Response records leave out null fields.
 */
public final class Dto {

    private Dto() {
    }

    // ------------------------------------------------------------------------------------------------ requests

    /** {@code POST /v1/messages}. */
    public record SendRequest(
            @JsonProperty("from") String from,
            @JsonProperty("to") String to,
            @JsonProperty("conversation") String conversation,
            @JsonProperty("type") String type,
            @JsonProperty("text") String text,
            @JsonProperty("body") JsonNode body,
            @JsonProperty("client_msg_id") String clientMsgId,
            @JsonProperty("ext") Map<String, String> ext) {
    }

    /** A message body: a protobuf {@code Any}, its value base64-encoded (RFC 4648 standard alphabet). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Body(
            @JsonProperty("type_url") String typeUrl,
            @JsonProperty("value_base64") String valueBase64) {
    }

    /** {@code POST /v1/groups}. */
    public record CreateGroupRequest(
            @JsonProperty("owner") String owner,
            @JsonProperty("name") String name,
            @JsonProperty("members") List<String> members,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/groups/{group}/members}. */
    public record AddMembersRequest(
            @JsonProperty("actor") String actor,
            @JsonProperty("users") List<String> users,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/groups/{group}/leave}. */
    public record LeaveRequest(
            @JsonProperty("user") String user,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/groups/{group}/roles}. */
    public record RoleRequest(
            @JsonProperty("actor") String actor,
            @JsonProperty("user") String user,
            @JsonProperty("role") String role,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/groups/{group}/mute}. */
    public record MuteRequest(
            @JsonProperty("actor") String actor,
            @JsonProperty("user") String user,
            @JsonProperty("until") Long until,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/groups/{group}/mute-all}. */
    public record MuteAllRequest(
            @JsonProperty("actor") String actor,
            @JsonProperty("muted") Boolean muted,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/groups/{group}/transfer}. */
    public record TransferRequest(
            @JsonProperty("actor") String actor,
            @JsonProperty("new_owner") String newOwner,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /**
     * {@code POST /v1/commands/{type}}: at most one of {@code payload} (the fields of the command's payload message as
     * JSON) and {@code payloadPacked}; {@code user} defaults to the system account.
     */
    public record CommandRequest(
            @JsonProperty("user") String user,
            @JsonProperty("payload") JsonNode payload,
            @JsonProperty("payload_packed") Body payloadPacked,
            @JsonProperty("client_request_id") String clientRequestId) {
    }

    /** {@code POST /v1/users/{user}/kick}: one device (null: every device) and the text the clients are shown. */
    public record KickRequest(
            @JsonProperty("device") String device,
            @JsonProperty("reason") String reason) {
    }

    /** {@code POST /v1/tokens}. */
    public record TokenRequest(
            @JsonProperty("user") String user,
            @JsonProperty("device") String device,
            @JsonProperty("ttl_seconds") Long ttlSeconds) {
    }

    // ------------------------------------------------------------------------------------------------ responses

    public record Health(@JsonProperty("status") String status, @JsonProperty("problems") List<String> problems) {
    }

    /** The answer to a kick: how many sessions on this node were ended. */
    public record KickResult(
            @JsonProperty("user") String user,
            @JsonProperty("device") String device,
            @JsonProperty("kicked") int kicked) {
    }

    /** The engine's {@code SendAck}. */
    public record SendResult(
            @JsonProperty("message_id") String messageId,
            @JsonProperty("conversation") String conversation,
            @JsonProperty("seq") long seq,
            @JsonProperty("server_time") long serverTime,
            @JsonProperty("duplicate") boolean duplicate) {
    }

    /**
     * A stored message. {@code text} is set for bodies of type {@code parley.text.v1.Text}, {@code group_event}
     * for {@code parley.v1.GroupEvent}; {@code body} is always set.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record MessageView(
            @JsonProperty("id") String id,
            @JsonProperty("client_msg_id") String clientMsgId,
            @JsonProperty("sender") String sender,
            @JsonProperty("sender_device") String senderDevice,
            @JsonProperty("conversation") String conversation,
            @JsonProperty("seq") long seq,
            @JsonProperty("server_time") long serverTime,
            @JsonProperty("type") String type,
            @JsonProperty("body") Body body,
            @JsonProperty("content") JsonNode content,
            @JsonProperty("text") String text,
            @JsonProperty("group_event") GroupEventView groupEvent,
            @JsonProperty("ext") Map<String, String> ext) {
    }

    /** {@code GET /v1/types}: the message types and the commands deployed right now. */
    public record Types(
            @JsonProperty("types") List<TypeView> types,
            @JsonProperty("commands") List<CommandView> commands) {
    }

    /**
     * One deployed type; {@code body}, {@code typeUrl} and {@code fields} are null for a type whose processor names
     * no body message (its bodies are sent packed).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TypeView(
            @JsonProperty("type") String type,
            @JsonProperty("body") String body,
            @JsonProperty("type_url") String typeUrl,
            @JsonProperty("fields") JsonNode fields) {
    }

    /**
     * One deployed command; the {@code payload*} fields are null when its handler names no payload message (its
     * payloads are sent packed), the {@code result*} fields when it names no answer message (answers come packed only).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record CommandView(
            @JsonProperty("type") String type,
            @JsonProperty("payload") String payload,
            @JsonProperty("payload_type_url") String payloadTypeUrl,
            @JsonProperty("payload_fields") JsonNode payloadFields,
            @JsonProperty("result") String result,
            @JsonProperty("result_type_url") String resultTypeUrl,
            @JsonProperty("result_fields") JsonNode resultFields) {
    }

    /**
     * {@code POST /v1/commands/{type}}: the handler's answer, always packed; also as JSON ({@code result}) when the
     * catalog names the answer's message and the answer is one.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record CommandResult(
            @JsonProperty("type") String type,
            @JsonProperty("result") JsonNode result,
            @JsonProperty("result_packed") Body resultPacked) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record GroupEventView(
            @JsonProperty("kind") String kind,
            @JsonProperty("actor") String actor,
            @JsonProperty("users") List<String> users,
            @JsonProperty("role") String role,
            @JsonProperty("muted_until") Long mutedUntil,
            @JsonProperty("muted") Boolean muted,
            @JsonProperty("name") String name) {
    }

    /** {@code GET /v1/conversations/{conversation}/messages}. */
    public record History(
            @JsonProperty("conversation") String conversation,
            @JsonProperty("messages") List<MessageView> messages,
            @JsonProperty("has_more") boolean hasMore) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ConversationView(
            @JsonProperty("conversation") String conversation,
            @JsonProperty("title") String title,
            @JsonProperty("head") long head,
            @JsonProperty("read_seq") long readSeq,
            @JsonProperty("unread") long unread,
            @JsonProperty("last") MessageView last) {
    }

    /** {@code GET /v1/users/{user}/conversations}. */
    public record Conversations(
            @JsonProperty("user") String user,
            @JsonProperty("conversations") List<ConversationView> conversations) {
    }

    public record MemberView(
            @JsonProperty("user") String user,
            @JsonProperty("role") String role,
            @JsonProperty("muted_until") long mutedUntil) {
    }

    public record GroupView(
            @JsonProperty("id") String id,
            @JsonProperty("conversation") String conversation,
            @JsonProperty("name") String name,
            @JsonProperty("members") List<MemberView> members,
            @JsonProperty("muted_all") boolean mutedAll,
            @JsonProperty("dissolved") boolean dissolved,
            @JsonProperty("created_at") long createdAt) {
    }

    /** Every group endpoint: the group after the operation and the seq of the event it appended (0 for a read). */
    public record GroupResult(
            @JsonProperty("group") GroupView group,
            @JsonProperty("event_seq") long eventSeq) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TokenResult(
            @JsonProperty("token") String token,
            @JsonProperty("user") String user,
            @JsonProperty("device") String device,
            @JsonProperty("expires_at") long expiresAt) {
    }

    /** {@code PATCH /blobs/<key>} that completed the object (201): what was stored. */
    public record BlobCreated(
            @JsonProperty("key") String key,
            @JsonProperty("size") long size,
            @JsonProperty("content_type") String contentType,
            @JsonProperty("sha256") String sha256) {
    }

    public record ErrorBody(@JsonProperty("error") ErrorView error) {
    }

    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    public record ErrorView(
            @JsonProperty("code") String code,
            @JsonProperty("message") String message,
            @JsonProperty("retryable") @JsonInclude(JsonInclude.Include.ALWAYS) boolean retryable,
            @JsonProperty("retry_after_ms") int retryAfterMs) {
    }
}
