package io.parley.transport.http.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.KeyDeserializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.deser.std.StringDeserializer;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.TypeFactory;

import java.io.IOException;
import java.util.Collection;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Reads request bodies into {@link Dto} records, strictly, and writes responses. One instance per server; it owns
 * its own Jackson {@link TypeFactory} so no JVM-wide Jackson cache keeps this bundle's classes (and class loader)
 * alive after the bundle is updated or removed. Thread-safe.
 */
public final class ApiJson {

    private final ObjectMapper mapper = JsonMapper.builder()
            .typeFactory(TypeFactory.createDefaultInstance())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // no scalar coercion: "from": 5 is not the user "5", "muted": 1 not true, "limit": "5" not 5
            .disable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .withCoercionConfig(com.fasterxml.jackson.databind.type.LogicalType.Textual, c -> {
                for (var shape : new com.fasterxml.jackson.databind.cfg.CoercionInputShape[]{
                        com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer,
                        com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float,
                        com.fasterxml.jackson.databind.cfg.CoercionInputShape.Boolean}) {
                    c.setCoercion(shape, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail);
                }
            })
            .addModule(new com.fasterxml.jackson.databind.module.SimpleModule("well-formed-strings")
                    .addDeserializer(String.class, new WellFormedString())
                    .addKeyDeserializer(String.class, new WellFormedKey()))
            .build();

    /**
     * Strings as the default deserializer reads them, refused when they hold a lone UTF-16 surrogate (JSON's
     * {@code \\ud800} escape without its pair): that is no Unicode text, and would be stored as {@code ?}.
     */
    private static final class WellFormedString extends StdScalarDeserializer<String> {
        WellFormedString() {
            super(String.class);
        }

        @Override
        public String deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            return checked(StringDeserializer.instance.deserialize(p, ctxt), ctxt);
        }
    }

    /** Map keys ({@code ext}) likewise. */
    private static final class WellFormedKey extends KeyDeserializer {
        @Override
        public Object deserializeKey(String key, DeserializationContext ctxt) throws IOException {
            return checked(key, ctxt);
        }
    }

    private static String checked(String s, DeserializationContext ctxt) throws IOException {
        for (int i = 0; s != null && i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw ctxt.weirdStringException(s, String.class, LONE_SURROGATE);
            }
        }
        return s;
    }

    private static final String LONE_SURROGATE = "a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape) is not text";

    /**
     * Parses a request body.
     *
     * @throws ApiException 400 with a message naming the problem (malformed JSON with its position, an unknown
     *                      field, a field of the wrong type, an empty body or one that is not an object)
     */
    public <T> T read(byte[] body, Class<T> type) {
        if (body == null || body.length == 0) {
            throw ApiException.invalid("request body must be a JSON object");
        }
        T value;
        try {
            value = mapper.readValue(body, type);
        } catch (UnrecognizedPropertyException e) {
            throw ApiException.invalid("unknown field '" + path(e) + "' (known: " + known(e.getKnownPropertyIds()) + ")");
        } catch (InvalidFormatException e) {
            throw ApiException.invalid("field '" + path(e) + "' " + (e.getOriginalMessage().contains(LONE_SURROGATE)
                    ? "holds " + LONE_SURROGATE : "has the wrong type or value"));
        } catch (MismatchedInputException e) {
            String path = path(e);
            throw ApiException.invalid(path.isEmpty() ? "request body must be a JSON object"
                    : "field '" + path + "' has the wrong type or value");
        } catch (StreamReadException e) {
            throw ApiException.invalid("malformed JSON: " + firstLine(e.getOriginalMessage()) + where(e.getLocation()));
        } catch (JsonMappingException e) {
            throw ApiException.invalid("invalid request body: " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw ApiException.invalid("unreadable request body");
        }
        if (value == null) {
            throw ApiException.invalid("request body must be a JSON object");
        }
        return value;
    }

    /** @return UTF-8 JSON */
    public byte[] write(Object value) {
        try {
            return mapper.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    private static String path(JsonMappingException e) {
        return e.getPath().stream()
                .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }

    private static String known(Collection<Object> ids) {
        if (ids == null) {
            return "";
        }
        return new TreeSet<>(ids.stream().map(String::valueOf).collect(Collectors.toList())).toString()
                .replaceAll("^\\[|]$", "");
    }

    private static String where(JsonLocation location) {
        if (location == null || location.getLineNr() < 0) {
            return "";
        }
        return " (line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unexpected input";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
