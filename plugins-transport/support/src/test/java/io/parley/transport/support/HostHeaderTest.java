package io.parley.transport.support;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** RFC 9112 §3.2's {@code Host} rule (an outside prober's finding: a request without one was answered). */
class HostHeaderTest {

    @Test
    void oneWellFormedHostIsAccepted() {
        for (String host : List.of("localhost", "localhost:8080", "chat.example", "127.0.0.1:17702", "[::1]",
                "[::1]:80", "[v1.fe80::a+en1]", "[2001:db8::7]:443", "[::ffff:192.0.2.1]", "xn--bcher-kva.example",
                "a%20b", "", "  chat.example  ")) {
            assertNull(HostHeader.problem(List.of(host), true), host);
        }
    }

    @Test
    void anHttp11RequestNeedsExactlyOneHost() {
        assertEquals("an HTTP/1.1 request needs a Host header", HostHeader.problem(List.of(), true));
        assertNull(HostHeader.problem(List.of(), false), "HTTP/1.0 may omit it");
        assertEquals("more than one Host header", HostHeader.problem(List.of("a", "a"), true));
        assertEquals("more than one Host header", HostHeader.problem(List.of("a", "b"), false));
    }

    @Test
    void aMalformedHostIsRefused() {
        for (String host : List.of("a b", "a/b", "user@host", "host:80x", "host:-1", "[::1", "::1]", "[]",
                "[::1]x", "a%2", "a%zz", "h\u00e9", "a\"b", "a,b c", "[::1]:8o", "[hello]", "[127.0.0.1]", "[1]",
                "[:]", "[v.]", "[v1.]", "[vx.a]", "[fe80::1%eth0]", "[fe80::1%25eth0]", ":80", ":")) {
            assertEquals("malformed Host header", HostHeader.problem(List.of(host), true), host);
        }
    }
}
