package io.parley.core.api;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdsTest {
    @Test
    void directIdsAreSymmetric() {
        assertEquals("d:alice:bob", Ids.direct("bob", "alice"));
        assertEquals(Ids.direct("alice", "bob"), Ids.direct("bob", "alice"));
        assertEquals(List.of("alice", "bob"), Ids.directMembers("d:alice:bob"));
        assertEquals(List.of("alice"), Ids.directMembers(Ids.direct("alice", "alice")));
    }

    @Test
    void malformedConversationIdsHaveNoMembers() {
        assertEquals(List.of(), Ids.directMembers("d:bob:alice")); // not canonical
        assertEquals(List.of(), Ids.directMembers("g:team"));
        assertEquals(List.of(), Ids.directMembers("d:alice"));
        assertEquals(List.of(), Ids.directMembers("d:al ice:bob"));
        assertEquals(List.of(), Ids.directMembers(null));
    }

    @Test
    void userIdRules() {
        assertTrue(Ids.isValidId("a.b_c-d@e"));
        assertFalse(Ids.isValidId(""));
        assertFalse(Ids.isValidId("a:b"));
        assertFalse(Ids.isValidId("x".repeat(65)));
        assertThrows(ParleyException.class, () -> Ids.checkUserId("no spaces"));
    }
}
