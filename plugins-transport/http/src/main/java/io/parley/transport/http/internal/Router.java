package io.parley.transport.http.internal;

import io.netty.handler.codec.http.QueryStringDecoder;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The route table: which endpoint a method and path select. Path templates use OpenAPI syntax ({@code {name}} is
 * one path segment, percent-decoded), so {@link Endpoint#template()} is exactly the key in {@code openapi.yaml}.
 * Immutable and stateless.
 */
public final class Router {

    /** The first path segment of the blob endpoints ({@code /blobs/<key>}), outside the route table. */
    static final String BLOBS = "blobs";

    /** Every endpoint, with its method, path template and whether it needs the admin token. */
    public enum Endpoint {
        HEALTH("GET", "/health", false),
        OPENAPI("GET", "/v1/openapi.yaml", true),
        SEND_MESSAGE("POST", "/v1/messages", true),
        HISTORY("GET", "/v1/conversations/{conversation}/messages", true, "user", "from_seq", "to_seq", "limit"),
        CONVERSATIONS("GET", "/v1/users/{user}/conversations", true, "limit"),
        KICK_USER("POST", "/v1/users/{user}/kick", true),
        MINT_TOKEN("POST", "/v1/tokens", true),
        TYPES("GET", "/v1/types", true),
        COMMAND("POST", "/v1/commands/{type}", true),
        CREATE_GROUP("POST", "/v1/groups", true),
        GET_GROUP("GET", "/v1/groups/{group}", true, "user"),
        DISSOLVE_GROUP("DELETE", "/v1/groups/{group}", true, "actor", "client_request_id"),
        ADD_MEMBERS("POST", "/v1/groups/{group}/members", true),
        REMOVE_MEMBER("DELETE", "/v1/groups/{group}/members/{user}", true, "actor", "client_request_id"),
        LEAVE_GROUP("POST", "/v1/groups/{group}/leave", true),
        SET_ROLE("POST", "/v1/groups/{group}/roles", true),
        MUTE_MEMBER("POST", "/v1/groups/{group}/mute", true),
        MUTE_ALL("POST", "/v1/groups/{group}/mute-all", true),
        TRANSFER_GROUP("POST", "/v1/groups/{group}/transfer", true),
        // operations (OpsEndpoints): /metrics checks its own token (metrics.token, else admin.token) after routing
        METRICS("GET", "/metrics", false),
        HEALTH_LIVE("GET", "/health/live", false),
        HEALTH_READY("GET", "/health/ready", false),
        // admin (issue 13): the operator's endpoints, answered by AdminApi
        SESSIONS("GET", "/v1/sessions", true, "user"),
        STORES("GET", "/v1/stores", true),
        STATS("GET", "/v1/stats", true),
        BUNDLES("GET", "/v1/bundles", true),
        PUT_BUNDLE("PUT", "/v1/bundles/{name}", true),
        DELETE_BUNDLE("DELETE", "/v1/bundles/{name}", true);

        private final String method;
        private final String template;
        private final boolean adminOnly;
        private final String[] segments;
        private final Set<String> query;

        /** @param query the query parameters the endpoint reads (the {@code in: query} ones of openapi.yaml) */
        Endpoint(String method, String template, boolean adminOnly, String... query) {
            this.method = method;
            this.template = template;
            this.adminOnly = adminOnly;
            this.segments = template.substring(1).split("/");
            this.query = Set.of(query);
        }

        /** The query parameters the endpoint reads; others are refused under {@code /v1} ({@link #checkQuery}). */
        public Set<String> query() {
            return query;
        }

        public String method() {
            return method;
        }

        public String template() {
            return template;
        }

        /** True if the endpoint requires {@code Authorization: Bearer <admin.token>}. */
        public boolean adminOnly() {
            return adminOnly;
        }
    }

    /**
     * The outcome of routing.
     *
     * @param endpoint   the endpoint, or null if none matched
     * @param params     the path parameters by template name (decoded), empty if none
     * @param allowed    when no endpoint matched: the methods the path does accept (empty: unknown path, 404;
     *                   otherwise 405 with these in {@code Allow})
     * @param pathError  non-null if the path is malformed or ambiguous (see {@link #route}); nothing else is set
     * @param underApi   true if the decoded path is {@code /v1} or below it, whether or not an endpoint matched
     * @param blobKey    non-null if the decoded path is {@code /blobs} or below it: the decoded segments after
     *                   {@code blobs} joined by {@code /} (empty for {@code /blobs} itself), not yet checked as a key;
     *                   the blob endpoints decide on it ({@link BlobService}), nothing else is set then
     */
    public record Match(Endpoint endpoint, Map<String, String> params, Set<String> allowed, String pathError,
                        boolean underApi, String blobKey) {

        public Match(Endpoint endpoint, Map<String, String> params, Set<String> allowed, String pathError,
                     boolean underApi) {
            this(endpoint, params, allowed, pathError, underApi, null);
        }

        public String param(String name) {
            return params.get(name);
        }

        /**
         * Whether the request needs the admin token, decided on what matched after decoding (never on the raw path):
         * the endpoint's own rule when one matched, else every path under {@code /v1} (so that an unauthenticated
         * caller cannot tell which exist); an unusable path needs it too (it is refused either way).
         */
        public boolean needsAdmin() {
            return endpoint != null ? endpoint.adminOnly() : underApi || pathError != null;
        }
    }

    /**
     * Routes a request. The raw path is decoded exactly once, segment by segment, and the decoded segments are what
     * is matched, so {@code /%761/tokens} is {@code /v1/tokens} in every respect (its authorization included).
     * Encodings that make a path mean different things to different readers are refused outright
     * ({@link Match#pathError()}): an encoded {@code /}, {@code \} or {@code %} (the last is double encoding), control
     * characters and NUL, {@code .} and {@code ..} segments, empty segments, and malformed escapes. A path whose first
     * decoded segment is {@code blobs} matches no endpoint: it is a blob path ({@link Match#blobKey()}).
     *
     * @param path the raw (still percent-encoded) path, without the query string
     */
    public Match route(String method, String path) {
        Object decoded = decode(path);
        if (decoded instanceof String error) {
            return new Match(null, Map.of(), Set.of(), error, false);
        }
        @SuppressWarnings("unchecked")
        List<String> segments = (List<String>) decoded;
        if (!segments.isEmpty() && segments.get(0).equals(BLOBS)) {
            return new Match(null, Map.of(), Set.of(), null, false,
                    String.join("/", segments.subList(1, segments.size())));
        }
        boolean underApi = !segments.isEmpty() && segments.get(0).equals("v1");
        Set<String> allowed = new LinkedHashSet<>();
        for (Endpoint e : Endpoint.values()) {
            Map<String, String> params = match(e, segments);
            if (params == null) {
                continue;
            }
            if (e.method.equals(method)) {
                return new Match(e, params, Set.of(), null, underApi);
            }
            allowed.add(e.method);
        }
        return new Match(null, Map.of(), Collections.unmodifiableSet(allowed), null, underApi);
    }

    /** Every {@code METHOD template} pair, e.g. {@code "GET /health"}; what {@code openapi.yaml} must list. */
    public static Set<String> operations() {
        Set<String> out = new LinkedHashSet<>();
        for (Endpoint e : Endpoint.values()) {
            out.add(e.method + " " + e.template);
        }
        return out;
    }

    /**
     * Requests under {@code /v1} are read strictly, their query too.
     *
     * @param parameters the decoded query, name → values
     * @return why the query is refused — a parameter the endpoint does not read, or one given twice — else null
     */
    public static String checkQuery(Endpoint e, Map<String, List<String>> parameters) {
        for (Map.Entry<String, List<String>> p : parameters.entrySet()) {
            if (!e.query.contains(p.getKey())) {
                return "unknown query parameter " + p.getKey() + " (" + e.method + " " + e.template + " takes "
                        + (e.query.isEmpty() ? "none" : String.join(", ", new TreeSet<>(e.query))) + ")";
            }
            if (p.getValue().size() > 1) {
                return "query parameter " + p.getKey() + " given more than once";
            }
        }
        return null;
    }

    private static Map<String, String> match(Endpoint e, List<String> segments) {
        if (e.segments.length != segments.size()) {
            return null;
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (int i = 0; i < e.segments.length; i++) {
            String pattern = e.segments[i];
            String actual = segments.get(i);
            if (pattern.startsWith("{")) {
                if (actual.isEmpty()) {
                    return null;
                }
                params.put(pattern.substring(1, pattern.length() - 1), actual);
            } else if (!pattern.equals(actual)) {
                return null;
            }
        }
        return params;
    }

    /**
     * @return the decoded segments (a trailing slash ignored; {@code /} is no segment), or a String saying why the
     *         path is refused
     */
    private static Object decode(String path) {
        if (path == null || !path.startsWith("/")) {
            return "the path must start with /";
        }
        if (path.equals("/")) {
            return List.of();
        }
        String trimmed = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        String[] raw = trimmed.substring(1).split("/", -1);
        List<String> out = new ArrayList<>(raw.length);
        for (String s : raw) {
            String segment;
            try {
                segment = QueryStringDecoder.decodeComponent(s.replace("+", "%2B"), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return "malformed percent-encoding in the path";
            }
            if (segment.isEmpty()) {
                return "empty path segment";
            }
            if (segment.equals(".") || segment.equals("..")) {
                return "dot segments are not allowed in the path";
            }
            for (int i = 0; i < segment.length(); i++) {
                char c = segment.charAt(i);
                if (c == '/' || c == '\\' || c == '%' || c < 0x20 || c == 0x7f || c == '\uFFFD') {
                    return "ambiguous or unsafe encoding in the path (encoded /, \\ or %, control characters, "
                            + "invalid UTF-8)";
                }
            }
            out.add(segment);
        }
        return out;
    }
}
