package io.parley.transport.http.internal;

import io.parley.transport.http.internal.Router.Endpoint;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RouterTest {

    private final Router router = new Router();

    @Test
    void matchesTemplatesAndDecodesParameters() {
        Router.Match m = router.route("GET", "/v1/conversations/d%3Aalice%3Abob/messages");
        assertEquals(Endpoint.HISTORY, m.endpoint());
        assertEquals("d:alice:bob", m.param("conversation"));
        assertEquals(Endpoint.HISTORY, router.route("GET", "/v1/conversations/g:team/messages/").endpoint());

        Router.Match remove = router.route("DELETE", "/v1/groups/g1/members/bob");
        assertEquals(Endpoint.REMOVE_MEMBER, remove.endpoint());
        assertEquals(Map.of("group", "g1", "user", "bob"), remove.params());

        // '+' is a literal in a path
        assertEquals("a+b", router.route("GET", "/v1/users/a+b/conversations").param("user"));
    }

    @Test
    void unknownPathsHaveNoAllowedMethodsAndKnownPathsListTheirs() {
        Router.Match unknown = router.route("GET", "/v1/nothing");
        assertNull(unknown.endpoint());
        assertTrue(unknown.allowed().isEmpty());
        assertNotNull(router.route("GET", "/v1/users//conversations").pathError(), "empty parameter");
        assertNotNull(router.route("GET", "relative").pathError());
        assertNotNull(router.route("GET", "/v1/users/%zz/conversations").pathError(), "bad escape");

        Router.Match wrong = router.route("PATCH", "/v1/groups/g1");
        assertNull(wrong.endpoint());
        assertEquals(Set.of("GET", "DELETE"), wrong.allowed());
        assertEquals(Set.of("POST"), router.route("GET", "/v1/messages").allowed());
    }

    /** Authorization is decided on what the path decodes to: every encoding of /v1/... is /v1/... . */
    @Test
    void encodedPathsRouteAsTheirDecodedFormAndNeedTheAdminToken() {
        for (String path : List.of("/%761/tokens", "/v%31/tokens", "/%76%31/tokens",
                "/v1/%74okens", "/%761/tokens/")) {
            Router.Match m = router.route("POST", path);
            assertEquals(Endpoint.MINT_TOKEN, m.endpoint(), path);
            assertTrue(m.needsAdmin(), path);
        }
        assertEquals(Endpoint.SEND_MESSAGE, router.route("POST", "/v%31/messages").endpoint());
        assertEquals(Endpoint.HISTORY, router.route("GET", "/%761/conversations/d:a:b/messages").endpoint());
        assertEquals(Endpoint.CONVERSATIONS, router.route("GET", "/%761/users/bob/conversations").endpoint());
        // an unknown path under an encoded /v1 is still under /v1: it needs the token too
        Router.Match unknown = router.route("GET", "/%761/nothing");
        assertNull(unknown.endpoint());
        assertTrue(unknown.underApi());
        assertTrue(unknown.needsAdmin());
        // outside /v1 and not an endpoint: open (the web client's files)
        assertFalse(router.route("GET", "/index.html").needsAdmin());
        assertFalse(router.route("GET", "/%68ealth").needsAdmin(), "/health decoded");
        assertEquals(Endpoint.HEALTH, router.route("GET", "/%68ealth").endpoint());
    }

    /** Encodings that could make a path mean different things to different readers are refused, and fail closed. */
    @Test
    void ambiguousEncodingsAreRefused() {
        for (String path : List.of("/v1%2Ftokens", "/v1%2ftokens", "/%76%31%2F%74okens", "/v1/users/a%2Fb/conversations",
                "/v1/%2E%2E/v1/tokens", "/v1/%2e/tokens", "/v1/./tokens", "/v1/../v1/tokens", "/x/..%2Fv1/tokens",
                "/%25761/tokens", "/v1/users/a%252Fb/conversations", "/v1%5Ctokens", "/v1/users/a%00/conversations",
                "/v1/users/a%0Ab/conversations", "/v1/users/%C0%AF/conversations", "/v1//tokens", "//v1/tokens",
                "/v1/tokens%", "/v1/tokens%2", "v1/tokens", "")) {
            Router.Match m = router.route("POST", path);
            assertNotNull(m.pathError(), path);
            assertNull(m.endpoint(), path);
            assertTrue(m.needsAdmin(), path + " fails closed");
        }
    }

    /** {@code /blobs/...} is decoded like every path, then left to the blob endpoints: no endpoint, no admin token. */
    @Test
    void blobPathsAreDecodedOnceAndLeftToTheBlobEndpoints() {
        Router.Match m = router.route("PATCH", "/blobs/f/alice/%32026/a-b.c");
        assertEquals("f/alice/2026/a-b.c", m.blobKey());
        assertNull(m.endpoint());
        assertFalse(m.needsAdmin());
        assertFalse(m.underApi());
        assertEquals("", router.route("GET", "/blobs").blobKey());
        assertEquals("", router.route("GET", "/%62lobs/").blobKey());
        assertEquals("x", router.route("GET", "/blobs/x/").blobKey());
        assertNull(router.route("GET", "/v1/blobs/x").blobKey());
        assertNull(router.route("GET", "/blobsx/y").blobKey());
        for (String path : List.of("/blobs/f/../x", "/blobs/f/%2e%2e/x", "/blobs/f%2Fx", "/blobs/f//x", "/blobs/f%5Cx")) {
            Router.Match bad = router.route("GET", path);
            assertNotNull(bad.pathError(), path);
            assertNull(bad.blobKey(), path);
        }
    }

    @Test
    void onlyHealthAndTheOpsEndpointsAreOpen() {
        for (Endpoint e : Endpoint.values()) {
            // /metrics is not admin-only here: OpsEndpoints checks its own token (metrics.token) after routing
            boolean open = e == Endpoint.HEALTH || OpsEndpoints.serves(e);
            assertEquals(!open, e.adminOnly(), e.name());
            assertEquals(e.adminOnly(), e.template().startsWith("/v1/"), e.name());
        }
    }

    /** The shipped OpenAPI document lists exactly the implemented operations: no more, no fewer. */
    @Test
    void openApiDocumentListsExactlyTheImplementedOperations() throws IOException {
        String yaml = new String(HttpApiServer.openApiDocument(), StandardCharsets.UTF_8);
        assertEquals(new TreeSet<>(Router.operations()), openApiOperations(yaml));
        assertTrue(yaml.startsWith("openapi: 3."));
    }

    /** Every endpoint reads exactly the query parameters its operation declares, and refuses the others. */
    @Test
    void everyEndpointTakesTheQueryParametersTheOpenApiDocumentDeclares() throws IOException {
        Map<String, Set<String>> declared = openApiQueries(new String(HttpApiServer.openApiDocument(),
                StandardCharsets.UTF_8));
        for (Endpoint e : Endpoint.values()) {
            assertEquals(declared.get(e.method() + " " + e.template()), e.query(), e.name());
        }
        assertNull(Router.checkQuery(Endpoint.HISTORY, Map.of("user", List.of("alice"), "limit", List.of("5"))));
        assertEquals("unknown query parameter userx (GET /v1/sessions takes user)",
                Router.checkQuery(Endpoint.SESSIONS, Map.of("userx", List.of("alice"))));
        assertEquals("query parameter user given more than once",
                Router.checkQuery(Endpoint.HISTORY, Map.of("user", List.of("alice", "bob"))));
        assertEquals("unknown query parameter x (GET /v1/stats takes none)",
                Router.checkQuery(Endpoint.STATS, Map.of("x", List.of(""))));
    }

    /** {@code METHOD path} of every operation under {@code paths:} (2-space path keys, 4-space method keys). */
    static Set<String> openApiOperations(String yaml) throws IOException {
        Set<String> out = new TreeSet<>(openApiQueries(yaml).keySet());
        assertFalse(out.isEmpty(), "no operations found in the OpenAPI document");
        return out;
    }

    /** {@code METHOD path} of every operation → the names of its {@code in: query} parameters. */
    static Map<String, Set<String>> openApiQueries(String yaml) throws IOException {
        Pattern pathKey = Pattern.compile("^  (/\\S*):\\s*$");
        Pattern methodKey = Pattern.compile("^    (get|put|post|delete|patch|head|options):\\s*$");
        Pattern queryParameter = Pattern.compile("^\\s*- \\{ name: ([a-z_]+), in: query\\b.*");
        Map<String, Set<String>> out = new TreeMap<>();
        boolean inPaths = false;
        String path = null;
        String operation = null;
        try (BufferedReader r = new BufferedReader(new StringReader(yaml))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.startsWith(" ") && !line.isBlank()) {
                    inPaths = line.startsWith("paths:");
                    continue;
                }
                if (!inPaths) {
                    continue;
                }
                Matcher p = pathKey.matcher(line);
                Matcher m = methodKey.matcher(line);
                Matcher q = queryParameter.matcher(line);
                if (p.matches()) {
                    path = p.group(1);
                    operation = null;
                } else if (m.matches() && path != null) {
                    operation = m.group(1).toUpperCase() + " " + path;
                    out.put(operation, new TreeSet<>());
                } else if (q.matches() && operation != null) {
                    out.get(operation).add(q.group(1));
                }
            }
        }
        return out;
    }
}
