package io.parley.webhooks.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.type.TypeFactory;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.intercept.Verdict;
import io.parley.type.text.proto.Text;

import java.io.IOException;
import java.math.BigInteger;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The webhooks' JSON: the events this bundle sends and the before-send answers it reads (docs/webhooks.md). Uses
 * Jackson's tree model through a mapper with its own {@link TypeFactory}, so no Jackson-wide cache keeps this bundle's
 * classes alive after an update. Thread-safe.
 */
public final class EventJson {

    public static final String BEFORE_SEND = "message.before_send";
    public static final String STORED = "message.stored";
    /** Type URL of {@code parley.text.v1.Text} bodies, whose field 1 (the text) is copied to {@code message.text}. */
    public static final String TEXT_TYPE_URL = "type.googleapis.com/parley.text.v1.Text";
    /** Longest veto reason passed on to the client, in chars; longer ones are cut. */
    public static final int MAX_REASON_CHARS = 256;
    static final String DEFAULT_VETO_REASON = "refused by the before-send webhook";


    private final ObjectMapper mapper = JsonMapper.builder()
            .typeFactory(TypeFactory.createDefaultInstance())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** @return {@code {"event":"message.before_send","message":{...}}} as UTF-8 */
    public byte[] beforeSend(Message message) {
        ObjectNode event = mapper.createObjectNode();
        event.put("event", BEFORE_SEND);
        event.set("message", message(message));
        return write(event);
    }

    /** @return {@code {"event":"message.stored","message":{...},"recipients":[...]}} as UTF-8 */
    public byte[] stored(Notification notification) {
        ObjectNode event = mapper.createObjectNode();
        event.put("event", STORED);
        event.set("message", message(notification.message()));
        ArrayNode recipients = event.putArray("recipients");
        notification.recipients().forEach(recipients::add);
        return write(event);
    }

    /** @return the message's JSON object: snake_case fields, body as type URL + base64, and the text of text bodies */
    ObjectNode message(Message m) {
        ObjectNode json = mapper.createObjectNode();
        json.put("id", m.getId());
        json.put("client_msg_id", m.getClientMsgId());
        json.put("sender", m.getSender());
        json.put("sender_device", m.getSenderDevice());
        json.put("conversation", m.getConversation());
        if (m.getSeq() >= 0) {
            json.put("seq", m.getSeq());
        } else { // uint64 beyond Long.MAX_VALUE
            json.put("seq", new BigInteger(Long.toUnsignedString(m.getSeq())));
        }
        json.put("server_time", m.getServerTime());
        json.put("type", m.getType());
        if (m.hasBody()) {
            ObjectNode body = json.putObject("body");
            body.put("type_url", m.getBody().getTypeUrl());
            body.put("value_base64", Base64.getEncoder().encodeToString(m.getBody().getValue().toByteArray()));
        } else {
            json.putNull("body");
        }
        ObjectNode ext = json.putObject("ext");
        new TreeMap<>(m.getExtMap()).forEach(ext::put);
        String text = m.hasBody() ? text(m.getBody()) : null;
        if (text != null) {
            json.put("text", text);
        }
        return json;
    }

    /**
     * @return the text of a {@code parley.text.v1.Text} body (generated at build time from the text bundle's own
     *         {@code .proto} into a private copy), "" when absent, or null for another type or a body that does not
     *         parse
     */
    static String text(Any body) {
        if (!TEXT_TYPE_URL.equals(body.getTypeUrl())) {
            return null;
        }
        try {
            return Text.parseFrom(body.getValue()).getText();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            return null;
        }
    }

    /**
     * Reads a before-send answer: {@code {"action":"pass"}}, {@code {"action":"veto","reason":"..."}} or
     * {@code {"action":"rewrite","body":{"type_url":"...","value_base64":"..."},"ext":{"k":"v"}}} (body and ext each
     * optional). Other fields are ignored.
     *
     * @throws WebhookException when the answer is not one of these
     */
    public Verdict verdict(byte[] answer) {
        JsonNode root;
        try {
            root = mapper.readTree(answer);
        } catch (IOException e) {
            throw new WebhookException("malformed JSON answer: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject()) {
            throw new WebhookException("the answer must be a JSON object");
        }
        JsonNode action = root.get("action");
        if (action == null || !action.isTextual()) {
            throw new WebhookException("the answer has no \"action\" string");
        }
        switch (action.textValue()) {
            case "pass":
                return Verdict.pass();
            case "veto":
                return Verdict.veto(ErrorCode.ERROR_CODE_FORBIDDEN, reason(root.get("reason")));
            case "rewrite":
                return Verdict.rewrite(body(root.get("body")), ext(root.get("ext")));
            default:
                throw new WebhookException("unknown action \"" + cut(action.textValue(), 40)
                        + "\" (expected pass, veto or rewrite)");
        }
    }

    private static String reason(JsonNode reason) {
        if (reason == null || reason.isNull()) {
            return DEFAULT_VETO_REASON;
        }
        if (!reason.isTextual()) {
            throw new WebhookException("\"reason\" must be a string");
        }
        String text = reason.textValue().strip();
        return text.isEmpty() ? DEFAULT_VETO_REASON : cut(text, MAX_REASON_CHARS);
    }

    private static Any body(JsonNode body) {
        if (body == null || body.isNull()) {
            return null;
        }
        if (!body.isObject()) {
            throw new WebhookException("\"body\" must be an object with type_url and value_base64");
        }
        JsonNode typeUrl = body.get("type_url");
        JsonNode value = body.get("value_base64");
        if (typeUrl == null || !typeUrl.isTextual() || typeUrl.textValue().isBlank()) {
            throw new WebhookException("\"body.type_url\" must be a non-empty string");
        }
        if (value == null || !value.isTextual()) {
            throw new WebhookException("\"body.value_base64\" must be a string");
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(value.textValue());
        } catch (IllegalArgumentException e) {
            throw new WebhookException("\"body.value_base64\" is not base64: " + e.getMessage());
        }
        return Any.newBuilder().setTypeUrl(typeUrl.textValue()).setValue(ByteString.copyFrom(bytes)).build();
    }

    private static Map<String, String> ext(JsonNode ext) {
        if (ext == null || ext.isNull()) {
            return null;
        }
        if (!ext.isObject()) {
            throw new WebhookException("\"ext\" must be an object of strings");
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : ext.properties()) {
            if (!field.getValue().isTextual()) {
                throw new WebhookException("\"ext." + cut(field.getKey(), 40) + "\" must be a string");
            }
            map.put(field.getKey(), field.getValue().textValue());
        }
        return map;
    }

    private byte[] write(JsonNode node) {
        try {
            return mapper.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an event as JSON", e); // a tree of strings and numbers
        }
    }

    private static String cut(String s, int max) {
        if (s.length() <= max) {
            return s;
        }
        return s.substring(0, Character.isHighSurrogate(s.charAt(max - 1)) ? max - 1 : max);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
