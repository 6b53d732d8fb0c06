package io.parley.client.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the small JSON documents of the blob endpoints ({@code {"key",…,"sha256"}}, {@code {"error":{"code",
 * "message"}}}) without a JSON library. Objects become {@link Map}s (insertion order), arrays {@link List}s, strings
 * {@link String}s, numbers their literal text as a {@link String}, {@code true}/{@code false} {@link Boolean}s and
 * {@code null} null. Stateless and thread-safe.
 */
public final class Json {
    private static final int MAX_DEPTH = 32;

    private final String text;
    private int at;

    private Json(String text) {
        this.text = text;
    }

    /**
     * @return the value of the whole document
     * @throws IllegalArgumentException if {@code text} is not one JSON value (nesting deeper than 32 included)
     */
    public static Object parse(String text) {
        Json p = new Json(text);
        Object v = p.value(0);
        p.skipSpace();
        if (p.at != text.length()) {
            throw p.error("trailing characters");
        }
        return v;
    }

    /** @return the string (or number text) at {@code path} of nested objects, or null if absent or not a scalar */
    public static String string(Object document, String... path) {
        Object v = document;
        for (String name : path) {
            if (!(v instanceof Map<?, ?> m)) {
                return null;
            }
            v = m.get(name);
        }
        return v instanceof String s ? s : v instanceof Boolean b ? b.toString() : null;
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) {
            throw error("nested too deeply");
        }
        skipSpace();
        if (at >= text.length()) {
            throw error("unexpected end");
        }
        char c = text.charAt(at);
        switch (c) {
            case '{' -> {
                at++;
                Map<String, Object> map = new LinkedHashMap<>();
                skipSpace();
                if (peek('}')) {
                    at++;
                    return map;
                }
                while (true) {
                    skipSpace();
                    if (!peek('"')) {
                        throw error("expected a member name");
                    }
                    String name = string();
                    skipSpace();
                    expect(':');
                    map.put(name, value(depth + 1));
                    skipSpace();
                    if (peek(',')) {
                        at++;
                    } else {
                        expect('}');
                        return map;
                    }
                }
            }
            case '[' -> {
                at++;
                List<Object> list = new ArrayList<>();
                skipSpace();
                if (peek(']')) {
                    at++;
                    return list;
                }
                while (true) {
                    list.add(value(depth + 1));
                    skipSpace();
                    if (peek(',')) {
                        at++;
                    } else {
                        expect(']');
                        return list;
                    }
                }
            }
            case '"' -> {
                return string();
            }
            case 't' -> {
                literal("true");
                return Boolean.TRUE;
            }
            case 'f' -> {
                literal("false");
                return Boolean.FALSE;
            }
            case 'n' -> {
                literal("null");
                return null;
            }
            default -> {
                int start = at;
                while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
                    at++;
                }
                if (start == at) {
                    throw error("unexpected character '" + c + "'");
                }
                return text.substring(start, at);
            }
        }
    }

    private String string() {
        at++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (at >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(at++);
            if (c == '"') {
                return sb.toString();
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (at >= text.length()) {
                throw error("unterminated escape");
            }
            char e = text.charAt(at++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (at + 4 > text.length()) {
                        throw error("short \\u escape");
                    }
                    try {
                        sb.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    at += 4;
                }
                default -> throw error("bad escape \\" + e);
            }
        }
    }

    private void literal(String word) {
        if (!text.startsWith(word, at)) {
            throw error("unexpected characters");
        }
        at += word.length();
    }

    private boolean peek(char c) {
        return at < text.length() && text.charAt(at) == c;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw error("expected '" + c + "'");
        }
        at++;
    }

    private void skipSpace() {
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
            at++;
        }
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("malformed JSON at " + at + ": " + what);
    }
}
