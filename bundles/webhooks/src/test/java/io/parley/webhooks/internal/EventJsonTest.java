package io.parley.webhooks.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.intercept.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventJsonTest {

    private final EventJson json = new EventJson();
    private final ObjectMapper mapper = new ObjectMapper();

    @Test
    void beforeSendEventCarriesEveryMessageFieldInSnakeCaseAndTheTextOfATextBody() throws Exception {
        Message m = Messages.text("m1", "héllo 👋").toBuilder().putExt("a", "1").build();
        JsonNode event = mapper.readTree(json.beforeSend(m));
        assertEquals(Set.of("event", "message"), fieldNames(event));
        assertEquals("message.before_send", event.get("event").asText());
        JsonNode msg = event.get("message");
        assertEquals(Set.of("id", "client_msg_id", "sender", "sender_device", "conversation", "seq", "server_time",
                "type", "body", "ext", "text"), fieldNames(msg));
        assertEquals("m1", msg.get("id").asText());
        assertEquals("c-m1", msg.get("client_msg_id").asText());
        assertEquals("alice", msg.get("sender").asText());
        assertEquals("laptop", msg.get("sender_device").asText());
        assertEquals("d:alice:bob", msg.get("conversation").asText());
        assertEquals(0, msg.get("seq").asLong(), "not assigned before the store");
        assertEquals(1_765_000_000_000L, msg.get("server_time").asLong());
        assertEquals("text", msg.get("type").asText());
        assertEquals(EventJson.TEXT_TYPE_URL, msg.get("body").get("type_url").asText());
        assertEquals(m.getBody().getValue(),
                ByteString.copyFrom(Base64.getDecoder().decode(msg.get("body").get("value_base64").asText())));
        assertEquals(Map.of("a", "1", "lang", "en"), mapper.convertValue(msg.get("ext"), Map.class));
        assertEquals("héllo 👋", msg.get("text").asText());
    }

    @Test
    void storedEventNamesTheRecipientsAndTheSeq() throws Exception {
        Message m = Messages.text("m2", "hi").toBuilder().setSeq(42).build();
        Notification n = new Notification(m, "hi", List.of("bob", "carol"), Set.of("bob"));
        JsonNode event = mapper.readTree(json.stored(n));
        assertEquals(Set.of("event", "message", "recipients"), fieldNames(event));
        assertEquals("message.stored", event.get("event").asText());
        assertEquals(42, event.get("message").get("seq").asLong());
        assertEquals(List.of("bob", "carol"), mapper.convertValue(event.get("recipients"), List.class));
    }

    @Test
    void onlyTextBodiesGetAText() throws Exception {
        Any emoji = Any.newBuilder().setTypeUrl("type.googleapis.com/parley.emoji.v1.Emoji")
                .setValue(ByteString.copyFromUtf8("\n\u0004😀")).build();
        JsonNode msg = mapper.readTree(json.beforeSend(Messages.text("m3", "x").toBuilder().setType("emoji")
                .setBody(emoji).build())).get("message");
        assertFalse(msg.has("text"));
        Any broken = Any.newBuilder().setTypeUrl(EventJson.TEXT_TYPE_URL)
                .setValue(ByteString.copyFrom(new byte[]{10, 9})).build();
        assertNull(EventJson.text(broken), "a truncated body has no text");
        assertEquals("", EventJson.text(Any.newBuilder().setTypeUrl(EventJson.TEXT_TYPE_URL).build()));
        JsonNode noBody = mapper.readTree(json.beforeSend(Message.newBuilder().setId("m4").build())).get("message");
        assertTrue(noBody.get("body").isNull());
        assertFalse(noBody.has("text"));
    }

    @Test
    void answersBecomeVerdicts() {
        assertSame(Verdict.pass(), verdict("{\"action\":\"pass\",\"later\":\"ignored\"}"));
        Verdict veto = verdict("{\"action\":\"veto\",\"reason\":\"no links, please\"}");
        assertTrue(veto.isVeto());
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, veto.code());
        assertEquals("no links, please", veto.reason());
        assertEquals(EventJson.DEFAULT_VETO_REASON, verdict("{\"action\":\"veto\"}").reason());
        assertEquals(EventJson.MAX_REASON_CHARS,
                verdict("{\"action\":\"veto\",\"reason\":\"" + "x".repeat(1000) + "\"}").reason().length());

        Any body = Messages.textBody("***");
        Verdict rewrite = verdict("{\"action\":\"rewrite\",\"body\":{\"type_url\":\"" + body.getTypeUrl()
                + "\",\"value_base64\":\"" + Base64.getEncoder().encodeToString(body.getValue().toByteArray())
                + "\"},\"ext\":{\"moderated\":\"yes\"}}");
        assertEquals(body, rewrite.body());
        assertEquals(Map.of("moderated", "yes"), rewrite.ext());
        Verdict extOnly = verdict("{\"action\":\"rewrite\",\"ext\":{}}");
        assertNull(extOnly.body());
        assertEquals(Map.of(), extOnly.ext(), "an empty ext clears it");
        assertSame(Verdict.pass(), verdict("{\"action\":\"rewrite\"}"), "nothing to rewrite");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "not json", "[]", "\"pass\"", "{}", "{\"action\":1}", "{\"action\":\"explode\"}",
            "{\"action\":\"pass\"} trailing", "{\"action\":\"pass\",\"action\":\"veto\"}",
            "{\"action\":\"veto\",\"reason\":5}", "{\"action\":\"rewrite\",\"body\":\"x\"}",
            "{\"action\":\"rewrite\",\"body\":{\"value_base64\":\"\"}}",
            "{\"action\":\"rewrite\",\"body\":{\"type_url\":\"t\",\"value_base64\":\"!!\"}}",
            "{\"action\":\"rewrite\",\"ext\":{\"k\":1}}", "{\"action\":\"rewrite\",\"ext\":[]}"})
    void unusableAnswersAreRefused(String answer) {
        assertThrows(WebhookException.class, () -> verdict(answer));
    }

    private Verdict verdict(String answer) {
        return json.verdict(answer.getBytes(StandardCharsets.UTF_8));
    }

    private static Set<String> fieldNames(JsonNode node) {
        java.util.Set<String> names = new java.util.HashSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
