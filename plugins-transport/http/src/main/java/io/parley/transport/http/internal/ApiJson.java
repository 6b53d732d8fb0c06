package io.parley.transport.http.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
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
            .build();

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
