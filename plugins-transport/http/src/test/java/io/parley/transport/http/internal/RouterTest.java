package io.parley.transport.http.internal;

import io.parley.transport.http.internal.Router.Endpoint;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

        // '+' is a literal in a path, '%2F' stays inside its segment
        assertEquals("a+b", router.route("GET", "/v1/users/a+b/conversations").param("user"));
        assertEquals("a/b", router.route("GET", "/v1/users/a%2Fb/conversations").param("user"));
    }

    @Test
    void unknownPathsHaveNoAllowedMethodsAndKnownPathsListTheirs() {
        Router.Match unknown = router.route("GET", "/v1/nothing");
        assertNull(unknown.endpoint());
        assertTrue(unknown.allowed().isEmpty());
        assertTrue(router.route("GET", "/v1/users//conversations").allowed().isEmpty(), "empty parameter");
        assertTrue(router.route("GET", "relative").allowed().isEmpty());
        assertTrue(router.route("GET", "/v1/users/%zz/conversations").allowed().isEmpty(), "bad escape");

        Router.Match wrong = router.route("PATCH", "/v1/groups/g1");
        assertNull(wrong.endpoint());
        assertEquals(Set.of("GET", "DELETE"), wrong.allowed());
        assertEquals(Set.of("POST"), router.route("GET", "/v1/messages").allowed());
    }

    @Test
    void onlyHealthIsOpen() {
        for (Endpoint e : Endpoint.values()) {
            assertEquals(e != Endpoint.HEALTH, e.adminOnly(), e.name());
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

    /** {@code METHOD path} of every operation under {@code paths:} (2-space path keys, 4-space method keys). */
    static Set<String> openApiOperations(String yaml) throws IOException {
        Pattern pathKey = Pattern.compile("^  (/\\S*):\\s*$");
        Pattern methodKey = Pattern.compile("^    (get|put|post|delete|patch|head|options):\\s*$");
        Set<String> out = new TreeSet<>();
        boolean inPaths = false;
        String path = null;
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
                if (p.matches()) {
                    path = p.group(1);
                } else if (m.matches() && path != null) {
                    out.add(m.group(1).toUpperCase() + " " + path);
                }
            }
        }
        assertFalse(out.isEmpty(), "no operations found in the OpenAPI document");
        return out;
    }
}
