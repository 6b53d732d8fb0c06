package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupRequest;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Group names an outside attacker tried: control characters, bidi overrides, invisible-only names. */
class GroupNamesTest {

    @Test
    void namesThatWouldBreakOrReorderTheTextAroundThemAreRefused() {
        for (String bad : new String[]{"evil\u202Etxt.exe", "line\nbreak", "nul\u0000", "tab\tbed", "iso\u2066late",
                "para\u2029graph", "\u200B\u200B", " \u200B ", "", "   ", "x".repeat(101)}) {
            ParleyException e = assertThrows(ParleyException.class, () -> GroupRules.checkName(bad), bad);
            assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, e.code());
        }
    }

    @Test
    void ordinaryNamesAreKeptStripped() {
        assertEquals("Team", GroupRules.checkName("  Team \n"));
        assertEquals("Équipe 🚀 חברים", GroupRules.checkName("Équipe 🚀 חברים"));
        assertEquals("a\u200Db", GroupRules.checkName("a\u200Db")); // a joiner inside visible text is fine
    }

    @Test
    void theEngineAnswersABadNameWithInvalidRequest() throws Exception {
        try (TestNode node = new TestNode(new TinyStore(), Map.of())) {
            TestNode.Device alice = node.connect("alice", "phone");
            long rid = alice.request(Frame.newBuilder().setGroup(GroupRequest.newBuilder()
                    .setCreate(GroupRequest.Create.newBuilder().setName("pay\u202Egnp.exe").addMembers("bob"))));
            Frame answer = alice.await(f -> f.getRequestId() == rid);
            assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, answer.getError().getCode(), answer.toString());
            assertTrue(answer.getError().getMessage().contains("U+202E"), answer.getError().getMessage());
        }
    }
}
