package io.parley.transport.websocket.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OriginPolicyTest {

    @Test
    void emptyListAllowsOnlyRequestsWithoutOrigin() {
        OriginPolicy policy = OriginPolicy.parse(" , ");
        assertTrue(policy.allows(null));
        assertFalse(policy.allows("http://localhost"));
        assertFalse(policy.allows("null"));
    }

    @Test
    void listedOriginsCompareCaseInsensitivelyWithoutTrailingSlash() {
        OriginPolicy policy = OriginPolicy.parse("https://Chat.example.com/, http://localhost:8080");
        assertTrue(policy.allows("https://chat.example.com"));
        assertTrue(policy.allows("HTTP://LOCALHOST:8080"));
        assertFalse(policy.allows("http://localhost"));
        assertFalse(policy.allows("https://chat.example.com.evil.example"));
        assertFalse(policy.allows("http://localhost:8080/"), "a request's origin is taken as sent: no browser adds /");
        assertFalse(policy.allows("https://chat.example.com/x"));
        assertTrue(policy.allows(null));
    }

    @Test
    void wildcardAllowsEverything() {
        OriginPolicy policy = OriginPolicy.parse("https://a.example,*");
        assertTrue(policy.allows("https://b.example"));
        assertTrue(policy.allows("null"));
        assertTrue(policy.allows(null));
    }
}
