package io.parley.client.internal;

import io.parley.core.proto.ErrorCode;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonTest {
    @Test
    void readsTheBlobEndpointsAnswers() {
        Object created = Json.parse(" {\"key\":\"f/alice/20261206/x\",\"size\":307200,\"content_type\":\"text/plain\","
                + "\"sha256\":\"ab12\"} ");
        assertEquals("f/alice/20261206/x", Json.string(created, "key"));
        assertEquals("307200", Json.string(created, "size"));
        assertEquals("ab12", Json.string(created, "sha256"));
        assertNull(Json.string(created, "missing"));
        assertNull(Json.string(created, "key", "deeper"));

        Object error = Json.parse("{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"gone \\\"x\\\" \\u00e9\\n\","
                + "\"retryable\":false,\"extra\":[1,{\"a\":null}]}}");
        assertEquals("NOT_FOUND", Json.string(error, "error", "code"));
        assertEquals("gone \"x\" é\n", Json.string(error, "error", "message"));
        assertEquals("false", Json.string(error, "error", "retryable"));
        List<?> extra = (List<?>) ((Map<?, ?>) ((Map<?, ?>) error).get("error")).get("extra");
        assertEquals("1", extra.get(0));
        assertTrue(((Map<?, ?>) extra.get(1)).containsKey("a"));
        assertNull(((Map<?, ?>) extra.get(1)).get("a"));
    }

    @Test
    void refusesWhatIsNotOneJsonValue() {
        for (String bad : List.of("", "{", "{\"a\":}", "{\"a\":1} x", "[1,]", "\"open", "{a:1}", "[".repeat(40)
                + "]".repeat(40))) {
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
        }
    }

    @Test
    void errorAnswersBecomeTheServersCodesOrTheStatusCode() {
        URI url = URI.create("http://127.0.0.1:7702/blobs/f/a/b?ticket=secret");
        var forbidden = BlobTransfer.error(403, "{\"error\":{\"code\":\"FORBIDDEN\",\"message\":\"another key\"}}", url);
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, forbidden.code());
        assertEquals("HTTP 403 from http://127.0.0.1:7702/blobs/f/a/b: another key", forbidden.getMessage());
        var conflict = BlobTransfer.error(409, "{\"error\":{\"code\":\"CONFLICT\"}}", url);
        assertEquals(ErrorCode.ERROR_CODE_CONFLICT, conflict.code(), "a code the wire has (since protocol.proto 1.6)");
        var bare409 = BlobTransfer.error(409, "", url);
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, bare409.code(), "no code: by the status");
        var unavailable = BlobTransfer.error(503, "<html>busy</html>", url);
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, unavailable.code());
        assertTrue(unavailable.retryable());
        assertFalse(unavailable.getMessage().contains("secret"), "the ticket stays out of messages");
    }
}
