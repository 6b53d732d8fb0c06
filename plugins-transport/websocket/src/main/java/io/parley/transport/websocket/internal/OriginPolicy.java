package io.parley.transport.websocket.internal;

import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which browser origins may open a WebSocket (config key {@code allowed.origins}), against cross-site WebSocket
 * hijacking. A request without an {@code Origin} header comes from a non-browser client, which could send any
 * origin it likes, so it is always allowed; a request with one is allowed if the list holds {@code *} or that
 * origin. An empty list therefore refuses every browser. Origins compare case-insensitively and otherwise exactly
 * as browsers send them: {@code scheme://host[:port]} (default ports omitted), or {@code null}; a configured entry
 * may end in {@code /}, a request's origin may not.
 * Immutable.
 */
public final class OriginPolicy {

    private final boolean any;
    private final Set<String> allowed;

    private OriginPolicy(boolean any, Set<String> allowed) {
        this.any = any;
        this.allowed = allowed;
    }

    /** Parses a comma-separated list; blanks are ignored; {@code *} allows every origin. */
    public static OriginPolicy parse(String commaSeparated) {
        Set<String> allowed = new TreeSet<>();
        boolean any = false;
        for (String entry : commaSeparated.split(",")) {
            String origin = normalize(entry);
            if (origin.isEmpty()) {
                continue;
            }
            if (origin.equals("*")) {
                any = true;
            } else {
                allowed.add(origin);
            }
        }
        return new OriginPolicy(any, Set.copyOf(allowed));
    }

    /** @param origin the request's {@code Origin} header, or null if it has none */
    public boolean allows(String origin) {
        return origin == null || any || allowed.contains(origin.trim().toLowerCase(Locale.ROOT));
    }

    /** A configured origin as browsers send it: lower case, no trailing slash (a request's is taken as it is). */
    private static String normalize(String origin) {
        String value = origin.trim().toLowerCase(Locale.ROOT);
        while (value.endsWith("/")) {
            value = value.substring(0, value.length() - 1);
        }
        return value;
    }

    @Override
    public String toString() {
        if (any) {
            return "any origin";
        }
        return allowed.isEmpty() ? "no browser origin" : "origins " + allowed;
    }
}
