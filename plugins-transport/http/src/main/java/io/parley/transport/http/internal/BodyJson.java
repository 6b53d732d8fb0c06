package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;

import java.math.BigInteger;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Message bodies as JSON, for any type whose protobuf message the core's catalog knows: the body message's fields
 * by their JSON names (lowerCamelCase; the proto names are accepted too), following protobuf's JSON mapping for the
 * common cases — 64-bit integers written as strings (numbers accepted), bytes as base64, enums by name (numbers
 * accepted), nested messages as objects, repeated fields as arrays, map fields as objects. Fields at their default
 * value are left out on output. Well-known types get no special form. Stateless.
 */
final class BodyJson {

    static final String TYPE_URL_PREFIX = "type.googleapis.com/";
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final int MAX_DEPTH = 32;
    /** The longest integer given as a string: 20 digits are a 64-bit integer; room for a sign and leading zeros. */
    private static final int MAX_INTEGER_CHARS = 64;
    private static final BigInteger INT32_MAX = BigInteger.valueOf(Integer.MAX_VALUE);
    private static final BigInteger INT32_MIN = BigInteger.valueOf(Integer.MIN_VALUE);
    private static final BigInteger UINT32_MAX = BigInteger.valueOf(0xFFFF_FFFFL);
    private static final BigInteger INT64_MAX = BigInteger.valueOf(Long.MAX_VALUE);
    private static final BigInteger INT64_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private BodyJson() {
    }

    /**
     * @return the body packed as the type's message
     * @throws ApiException 400 naming the field that is unknown or of the wrong kind
     */
    static Any fromJson(JsonNode json, Descriptor type) {
        return fromJson(json, type, "body");
    }

    /**
     * @param path the name of the JSON value in the request, which error messages start with (e.g. {@code payload})
     * @return the value packed as a {@code type} message
     * @throws ApiException 400 naming the field (below {@code path}) that is unknown or of the wrong kind
     */
    static Any fromJson(JsonNode json, Descriptor type, String path) {
        Message message = read(json, type, path, 0);
        return Any.newBuilder().setTypeUrl(typeUrl(type)).setValue(message.toByteString()).build();
    }

    /** {@code type.googleapis.com/<full name>}: the type URL a {@code type} message is packed with. */
    static String typeUrl(Descriptor type) {
        return TYPE_URL_PREFIX + type.getFullName();
    }

    /** @return the body as JSON, or null if it is not a {@code type} message or does not parse */
    static ObjectNode toJson(Any body, Descriptor type) {
        if (!body.getTypeUrl().equals(typeUrl(type))) {
            return null;
        }
        try {
            return write(DynamicMessage.parseFrom(type, body.getValue()));
        } catch (InvalidProtocolBufferException e) {
            return null;
        }
    }

    /** The type's fields, for the catalog: name, JSON name, number, kind, repeated, and nested messages' fields. */
    static ArrayNode schema(Descriptor type) {
        return schema(type, 0);
    }

    private static ArrayNode schema(Descriptor type, int depth) {
        ArrayNode fields = NODES.arrayNode();
        for (FieldDescriptor f : type.getFields()) {
            ObjectNode field = fields.addObject()
                    .put("name", f.getName())
                    .put("json_name", f.getJsonName())
                    .put("number", f.getNumber())
                    .put("type", f.getType().name().toLowerCase())
                    .put("repeated", f.isRepeated() && !f.isMapField());
            if (f.getJavaType() == FieldDescriptor.JavaType.ENUM) {
                ArrayNode values = field.putArray("enum");
                f.getEnumType().getValues().forEach(v -> values.add(v.getName()));
            } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                field.put("message", f.getMessageType().getFullName());
                if (depth < 4 && !f.getMessageType().equals(type)) {
                    field.set("fields", schema(f.getMessageType(), depth + 1));
                }
            }
        }
        return fields;
    }

    // ------------------------------------------------------------------------------------------------ reading

    private static Message read(JsonNode json, Descriptor type, String path, int depth) {
        if (depth > MAX_DEPTH) {
            throw ApiException.invalid(path + " is nested too deeply");
        }
        if (json == null || !json.isObject()) {
            throw ApiException.invalid(path + " must be an object (a " + type.getFullName() + ")");
        }
        DynamicMessage.Builder b = DynamicMessage.newBuilder(type);
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            FieldDescriptor f = field(type, e.getKey());
            String fieldPath = path + "." + e.getKey();
            if (f == null) {
                throw ApiException.invalid(fieldPath + " is not a field of " + type.getFullName());
            }
            JsonNode value = e.getValue();
            if (value.isNull()) {
                continue;
            }
            if (f.isMapField()) {
                if (!value.isObject()) {
                    throw ApiException.invalid(fieldPath + " must be an object");
                }
                Descriptor entry = f.getMessageType();
                FieldDescriptor keyField = entry.findFieldByNumber(1);
                FieldDescriptor valueField = entry.findFieldByNumber(2);
                for (Iterator<Map.Entry<String, JsonNode>> m = value.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    DynamicMessage.Builder entryBuilder = DynamicMessage.newBuilder(entry);
                    entryBuilder.setField(keyField, scalar(keyField, NODES.textNode(kv.getKey()), fieldPath, depth));
                    entryBuilder.setField(valueField, scalar(valueField, kv.getValue(), fieldPath + "." + kv.getKey(),
                            depth));
                    b.addRepeatedField(f, entryBuilder.build());
                }
            } else if (f.isRepeated()) {
                if (!value.isArray()) {
                    throw ApiException.invalid(fieldPath + " must be an array");
                }
                int i = 0;
                for (JsonNode item : value) {
                    b.addRepeatedField(f, scalar(f, item, fieldPath + "[" + i++ + "]", depth));
                }
            } else {
                b.setField(f, scalar(f, value, fieldPath, depth));
            }
        }
        return b.build();
    }

    private static FieldDescriptor field(Descriptor type, String name) {
        for (FieldDescriptor f : type.getFields()) {
            if (f.getJsonName().equals(name) || f.getName().equals(name)) {
                return f;
            }
        }
        return null;
    }

    private static Object scalar(FieldDescriptor f, JsonNode v, String path, int depth) {
        try {
            switch (f.getJavaType()) {
                case INT:
                    // an unsigned value above 2^31 is kept in the int's bits, as protobuf stores it
                    return (int) bigInteger(v, path, unsigned32(f) ? UINT32_MAX : INT32_MAX,
                            unsigned32(f) ? BigInteger.ZERO : INT32_MIN).longValue();
                case LONG:
                    return bigInteger(v, path, unsigned64(f) ? UINT64_MAX : INT64_MAX,
                            unsigned64(f) ? BigInteger.ZERO : INT64_MIN).longValue();
                case BOOLEAN:
                    if (!v.isBoolean()) {
                        throw ApiException.invalid(path + " must be true or false");
                    }
                    return v.booleanValue();
                case FLOAT:
                    return (float) number(v, path);
                case DOUBLE:
                    return number(v, path);
                case STRING:
                    if (!v.isTextual()) {
                        throw ApiException.invalid(path + " must be a string");
                    }
                    return v.textValue();
                case BYTE_STRING:
                    if (!v.isTextual()) {
                        throw ApiException.invalid(path + " must be a base64 string");
                    }
                    return ByteString.copyFrom(Base64.getDecoder().decode(v.textValue()));
                case ENUM: {
                    EnumValueDescriptor e = v.isTextual() ? f.getEnumType().findValueByName(v.textValue())
                            : v.canConvertToInt() ? f.getEnumType().findValueByNumber(v.intValue()) : null;
                    if (e == null) {
                        throw ApiException.invalid(path + " must be one of " + f.getEnumType().getValues().stream()
                                .map(EnumValueDescriptor::getName).toList());
                    }
                    return e;
                }
                case MESSAGE:
                    return read(v, f.getMessageType(), path, depth + 1);
                default:
                    throw ApiException.invalid(path + " has an unsupported kind");
            }
        } catch (IllegalArgumentException | ArithmeticException e) {
            if (e instanceof ApiException api) {
                throw api;
            }
            throw ApiException.invalid(path + ": " + e.getMessage());
        }
    }

    private static boolean unsigned32(FieldDescriptor f) {
        return f.getType() == FieldDescriptor.Type.UINT32 || f.getType() == FieldDescriptor.Type.FIXED32;
    }

    private static boolean unsigned64(FieldDescriptor f) {
        return f.getType() == FieldDescriptor.Type.UINT64 || f.getType() == FieldDescriptor.Type.FIXED64;
    }

    private static BigInteger bigInteger(JsonNode v, String path, BigInteger max, BigInteger min) {
        BigInteger n;
        if (v.isIntegralNumber()) {
            n = v.bigIntegerValue();
        } else if (v.isTextual()) {
            String text = v.textValue().trim();
            if (text.length() > MAX_INTEGER_CHARS) { // BigInteger's parse is quadratic in the digits
                throw ApiException.invalid(path + " is out of range");
            }
            try {
                n = new BigInteger(text);
            } catch (NumberFormatException e) {
                throw ApiException.invalid(path + " must be an integer");
            }
        } else {
            throw ApiException.invalid(path + " must be an integer");
        }
        if (n.compareTo(max) > 0 || n.compareTo(min) < 0) {
            throw ApiException.invalid(path + " is out of range");
        }
        return n;
    }

    private static double number(JsonNode v, String path) {
        if (v.isNumber()) {
            return v.doubleValue();
        }
        if (v.isTextual()) {
            try {
                return Double.parseDouble(v.textValue());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(path + " must be a number");
            }
        }
        throw ApiException.invalid(path + " must be a number");
    }

    // ------------------------------------------------------------------------------------------------ writing

    private static ObjectNode write(Message m) {
        ObjectNode out = NODES.objectNode();
        for (Map.Entry<FieldDescriptor, Object> e : m.getAllFields().entrySet()) {
            FieldDescriptor f = e.getKey();
            if (f.isMapField()) {
                ObjectNode map = out.putObject(f.getJsonName());
                for (Object entry : (List<?>) e.getValue()) {
                    Message em = (Message) entry;
                    FieldDescriptor k = em.getDescriptorForType().findFieldByNumber(1);
                    FieldDescriptor val = em.getDescriptorForType().findFieldByNumber(2);
                    map.set(String.valueOf(em.getField(k)), value(val, em.getField(val)));
                }
            } else if (f.isRepeated()) {
                ArrayNode array = out.putArray(f.getJsonName());
                for (Object item : (List<?>) e.getValue()) {
                    array.add(value(f, item));
                }
            } else {
                out.set(f.getJsonName(), value(f, e.getValue()));
            }
        }
        return out;
    }

    private static JsonNode value(FieldDescriptor f, Object v) {
        return switch (f.getJavaType()) {
            case INT -> unsigned32(f) ? NODES.numberNode(Integer.toUnsignedLong((Integer) v)) : NODES.numberNode((Integer) v);
            case LONG -> NODES.textNode(unsigned64(f) ? Long.toUnsignedString((Long) v) : Long.toString((Long) v));
            case BOOLEAN -> NODES.booleanNode((Boolean) v);
            case FLOAT -> NODES.numberNode((Float) v);
            case DOUBLE -> NODES.numberNode((Double) v);
            case STRING -> NODES.textNode((String) v);
            case BYTE_STRING -> NODES.textNode(Base64.getEncoder().encodeToString(((ByteString) v).toByteArray()));
            case ENUM -> NODES.textNode(((EnumValueDescriptor) v).getName());
            case MESSAGE -> write((Message) v);
        };
    }
}
