package io.parley.transport.http.internal;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class StaticFilesTest {

    @Test
    void requestPathsMapToPathsBelowTheRootOnly() {
        assertEquals(Optional.of("index.html"), StaticFiles.relativePath("/"));
        assertEquals(Optional.of("a/index.html"), StaticFiles.relativePath("/a/"));
        assertEquals(Optional.of("app.js"), StaticFiles.relativePath("/app.js"));
        assertEquals(Optional.of("a b+c.txt"), StaticFiles.relativePath("/a%20b+c.txt"));
        for (String bad : new String[] {"", "app.js", "/..", "/../x", "/a/../../x", "/%2e%2e/x", "/.hidden",
                "/a//b", "/a\\..\\b", "/a%5c..%5cb", "/x%00.js", "/%zz", "/a/./b"}) {
            assertEquals(Optional.empty(), StaticFiles.relativePath(bad), bad);
        }
    }

    @Test
    void contentTypesByExtension() {
        assertEquals("text/javascript; charset=utf-8", StaticFiles.contentType("app.JS"));
        assertEquals("application/json; charset=utf-8", StaticFiles.contentType("app.js.map"));
        assertEquals("application/octet-stream", StaticFiles.contentType("LICENSE"));
    }
}
