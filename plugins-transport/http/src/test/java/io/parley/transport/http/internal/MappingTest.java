package io.parley.transport.http.internal;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JSON and protobuf mapping: request parsing, response shapes, bodies, error codes. */
class MappingTest {

    private final ApiJson json = new ApiJson();

    @Test
    void readsRequestsWithSnakeCaseNames() {
        Dto.SendRequest r = json.read(bytes("{\"from\":\"a\",\"conversation\":\"g:x\",\"type\":\"t\","
                + "\"body\":{\"type_url\":\"u\",\"value_base64\":\"AQI=\"},\"client_msg_id\":\"c\",\"ext\":{\"k\":\"v\"}}"),
                Dto.SendRequest.class);
        assertEquals("a", r.from());
        assertNull(r.to());
        assertEquals("g:x", r.conversation());
        assertEquals("c", r.clientMsgId());
        assertEquals(Map.of("k", "v"), r.ext());
        assertEquals("u", r.body().get("type_url").asText());
        assertEquals("AQI=", r.body().get("value_base64").asText());
        assertEquals(120L, json.read(bytes("{\"user\":\"u\",\"ttl_seconds\":120}"), Dto.TokenRequest.class).ttlSeconds());
    }

    @Test
    void refusesBadRequestBodiesWith400AndAUsefulMessage() {
        assertInvalid("{\"user\":\"u\",\"tll_seconds\":1}", Dto.TokenRequest.class, "unknown field 'tll_seconds' (known: device, ttl_seconds, user)");
        assertInvalid("{\"user\":\"u\",", Dto.TokenRequest.class, "malformed JSON");
        assertInvalid("{\"user\":\"u\"} {}", Dto.TokenRequest.class, "");
        assertInvalid("{\"user\":\"a\",\"user\":\"b\"}", Dto.TokenRequest.class, "Duplicate field");
        assertInvalid("{\"user\":\"u\",\"ttl_seconds\":\"soon\"}", Dto.TokenRequest.class, "field 'ttl_seconds'");
        assertInvalid("{\"actor\":\"a\",\"users\":\"bob\"}", Dto.AddMembersRequest.class, "field 'users'");
        assertInvalid("{\"actor\":\"a\",\"users\":[[1]]}", Dto.AddMembersRequest.class, "field 'users[0]'");
        assertInvalid("null", Dto.TokenRequest.class, "must be a JSON object");
        assertInvalid("42", Dto.TokenRequest.class, "must be a JSON object");
        assertInvalid("", Dto.TokenRequest.class, "must be a JSON object");
    }

    @Test
    void writesResponsesWithSnakeCaseNamesAndWithoutNulls() {
        String ack = new String(json.write(new Dto.SendResult("m1", "d:a:b", 3, 42, true)), StandardCharsets.UTF_8);
        assertEquals("{\"message_id\":\"m1\",\"conversation\":\"d:a:b\",\"seq\":3,\"server_time\":42,\"duplicate\":true}", ack);
        String error = new String(json.write(new Dto.ErrorBody(new Dto.ErrorView("FORBIDDEN", "no", false, 0))),
                StandardCharsets.UTF_8);
        assertEquals("{\"error\":{\"code\":\"FORBIDDEN\",\"message\":\"no\",\"retryable\":false}}", error);
        String retry = new String(json.write(new Dto.ErrorView("UNAVAILABLE", "later", true, 1000)), StandardCharsets.UTF_8);
        assertTrue(retry.contains("\"retry_after_ms\":1000"), retry);
        String token = new String(json.write(new Dto.TokenResult("t", "u", null, 5)), StandardCharsets.UTF_8);
        assertEquals("{\"token\":\"t\",\"user\":\"u\",\"expires_at\":5}", token);
    }

    @Test
    void textBodiesAreParleyTextV1() {
        Any body = ProtoMapping.textBody("héllo");
        assertEquals("type.googleapis.com/parley.text.v1.Text", body.getTypeUrl());
        byte[] utf8 = "héllo".getBytes(StandardCharsets.UTF_8);
        byte[] expected = new byte[utf8.length + 2];
        expected[0] = 0x0a; // field 1, length-delimited
        expected[1] = (byte) utf8.length;
        System.arraycopy(utf8, 0, expected, 2, utf8.length);
        assertArrayEquals(expected, body.getValue().toByteArray());
        assertEquals("héllo", ProtoMapping.textOf(body));
        assertEquals("", ProtoMapping.textOf(ProtoMapping.textBody("")));
        assertNull(ProtoMapping.textOf(Any.newBuilder().setTypeUrl("x").setValue(body.getValue()).build()));
        assertNull(ProtoMapping.textOf(Any.newBuilder().setTypeUrl(ProtoMapping.TEXT_TYPE_URL)
                .setValue(ByteString.copyFrom(new byte[]{0x0a, 0x7f})).build()), "truncated");
    }

    @Test
    void messagesShowTheirBodyAndDecodedTextOrGroupEvent() {
        Message text = Message.newBuilder().setId("m1").setClientMsgId("c").setSender("a").setSenderDevice("d")
                .setConversation("d:a:b").setSeq(1).setServerTime(9).setType("text")
                .setBody(ProtoMapping.textBody("hi")).build();
        Dto.MessageView v = ProtoMapping.message(text);
        assertEquals("hi", v.text());
        assertNull(v.groupEvent());
        assertNull(v.ext());
        assertEquals(Base64.getEncoder().encodeToString(text.getBody().getValue().toByteArray()), v.body().valueBase64());

        Message event = text.toBuilder().setType("group.event").setBody(Any.pack(GroupEvent.newBuilder()
                .setKind(GroupEvent.Kind.KIND_ROLE_CHANGED).setActor("a").addUsers("b")
                .setRole(GroupRole.GROUP_ROLE_ADMIN).build())).build();
        Dto.GroupEventView e = ProtoMapping.message(event).groupEvent();
        assertEquals("role_changed", e.kind());
        assertEquals("admin", e.role());
        assertEquals(List.of("b"), e.users());
        assertNull(e.mutedUntil());
        assertNull(ProtoMapping.message(event).text());
    }

    @Test
    void rolesParseLeniently() {
        assertEquals(GroupRole.GROUP_ROLE_ADMIN, ProtoMapping.parseRole(" Admin "));
        assertEquals(GroupRole.GROUP_ROLE_MEMBER, ProtoMapping.parseRole("member"));
        assertThrows(ApiException.class, () -> ProtoMapping.parseRole("owner"));
        assertThrows(ApiException.class, () -> ProtoMapping.parseRole(null));
        assertEquals("owner", ProtoMapping.role(GroupRole.GROUP_ROLE_OWNER));
    }

    @Test
    void wireErrorCodesMapToHttpStatuses() {
        Map<ErrorCode, Integer> expected = Map.ofEntries(
                Map.entry(ErrorCode.ERROR_CODE_UNAUTHENTICATED, 401), Map.entry(ErrorCode.ERROR_CODE_TOKEN_EXPIRED, 401),
                Map.entry(ErrorCode.ERROR_CODE_FORBIDDEN, 403), Map.entry(ErrorCode.ERROR_CODE_NOT_FOUND, 404),
                Map.entry(ErrorCode.ERROR_CODE_QUOTA_EXCEEDED, 403),
                Map.entry(ErrorCode.ERROR_CODE_CONFLICT, 409),
                Map.entry(ErrorCode.ERROR_CODE_INVALID_REQUEST, 400), Map.entry(ErrorCode.ERROR_CODE_INVALID_BODY, 400),
                Map.entry(ErrorCode.ERROR_CODE_BAD_FRAME, 400), Map.entry(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, 413),
                Map.entry(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE, 413), Map.entry(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, 422),
                Map.entry(ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, 422),
                Map.entry(ErrorCode.ERROR_CODE_RATE_LIMITED, 429), Map.entry(ErrorCode.ERROR_CODE_UNAVAILABLE, 503),
                Map.entry(ErrorCode.ERROR_CODE_INTERNAL, 500), Map.entry(ErrorCode.ERROR_CODE_UNSPECIFIED, 500),
                Map.entry(ErrorCode.ERROR_CODE_PROTOCOL_VERSION, 500), Map.entry(ErrorCode.ERROR_CODE_HANDSHAKE_TIMEOUT, 500));
        for (ErrorCode code : ErrorCode.values()) {
            if (code != ErrorCode.UNRECOGNIZED) {
                assertEquals(expected.get(code), ApiException.status(code), code.name());
            }
        }
        ApiException e = ApiException.fromWire(Error.newBuilder().setCode(ErrorCode.ERROR_CODE_RATE_LIMITED)
                .setMessage("slow down").setRetryable(true).setRetryAfterMs(250).build());
        assertEquals(429, e.status());
        assertEquals("RATE_LIMITED", e.code());
        assertTrue(e.retryable());
        assertEquals(250, e.retryAfterMs());
        ApiException p = ApiException.from(new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "bad"));
        assertEquals(400, p.status());
        assertFalse(p.retryable());
    }

    @Test
    void adminTokenComparison() {
        AdminToken token = new AdminToken("s3cret-s3cret-s3cret");
        assertTrue(token.matches("Bearer s3cret-s3cret-s3cret"));
        assertTrue(token.matches("bearer   s3cret-s3cret-s3cret "));
        assertFalse(token.matches("Bearer s3cret-s3cret-s3cre"));
        assertFalse(token.matches("s3cret-s3cret-s3cret"));
        assertFalse(token.matches(null));
        assertFalse(new AdminToken("").matches("Bearer "));
        assertFalse(new AdminToken(null).matches("Bearer null"));
    }

    private void assertInvalid(String body, Class<?> type, String fragment) {
        ApiException e = assertThrows(ApiException.class, () -> json.read(bytes(body), type));
        assertEquals(400, e.status());
        assertEquals("INVALID_REQUEST", e.code());
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
