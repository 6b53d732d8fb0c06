package io.parley.transport.http.internal;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Request bodies of the wrong JSON type are refused, not coerced (an outside attacker's {@code "from": 5}). */
class ApiJsonStrictTest {

    private final ApiJson json = new ApiJson();

    private ApiException refused(String body, Class<?> type) {
        return assertThrows(ApiException.class, () -> json.read(body.getBytes(StandardCharsets.UTF_8), type), body);
    }

    @Test
    void scalarsOfTheWrongTypeAreRefused() {
        for (String body : new String[]{"{\"from\":5,\"to\":\"bob\",\"text\":\"x\"}",
                "{\"from\":true,\"to\":\"bob\",\"text\":\"x\"}", "{\"from\":\"a\",\"to\":\"bob\",\"text\":1.5}"}) {
            ApiException e = refused(body, Dto.SendRequest.class);
            assertEquals(400, e.status(), body);
            assertTrue(e.getMessage().contains("from") || e.getMessage().contains("text"), e.getMessage());
        }
        assertEquals(400, refused("{\"user\":\"alice\",\"ttl_seconds\":\"60\"}", Dto.TokenRequest.class).status());
        assertEquals(400, refused("{\"device\":7}", Dto.KickRequest.class).status());
    }

    @Test
    void aLoneSurrogateIsRefusedAndAPairIsRead() {
        for (String body : new String[]{"{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\\ud800y\"}",
                "{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\\udc00\"}",
                "{\"from\":\"a\",\"to\":\"b\",\"text\":\"\\ud800\"}",
                "{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ext\":{\"k\\ud800\":\"v\"}}",
                "{\"from\":\"a\",\"to\":\"b\",\"text\":\"x\",\"ext\":{\"k\\udfff\":\"v\"}}"}) {
            ApiException e = refused(body, Dto.SendRequest.class);
            assertEquals(400, e.status(), body);
            assertTrue(e.getMessage().contains("surrogate"), e.getMessage()); // (the parser refuses some itself)
        }
        Dto.SendRequest pair = json.read("{\"from\":\"a\",\"to\":\"b\",\"text\":\"\\ud83d\\ude00\"}"
                .getBytes(StandardCharsets.UTF_8), Dto.SendRequest.class);
        assertEquals("\uD83D\uDE00", pair.text());
    }

    @Test
    void theRightTypesAreRead() {
        Dto.TokenRequest r = json.read("{\"user\":\"alice\",\"ttl_seconds\":60}".getBytes(StandardCharsets.UTF_8),
                Dto.TokenRequest.class);
        assertEquals(60L, r.ttlSeconds());
    }
}
