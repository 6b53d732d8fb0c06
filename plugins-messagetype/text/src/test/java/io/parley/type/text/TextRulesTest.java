package io.parley.type.text;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.text.proto.Text;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextRulesTest {
    private final TextRules rules = new TextRules(10);

    private static Message draft(Any body) {
        return Message.newBuilder().setType("text").setBody(body).build();
    }

    private static Any text(String s) {
        return Any.pack(Text.newBuilder().setText(s).build());
    }

    @Test
    void acceptsTextAndKeepsTheDraft() {
        Message m = draft(text("héllo 👋"));
        ProcessResult r = rules.check(m);
        assertFalse(r.isRejected());
        assertSame(m, r.message());
        assertEquals("héllo 👋", r.preview());
    }

    @Test
    void countsCodePointsNotChars() {
        assertFalse(rules.check(draft(text("👋👋👋👋👋👋👋👋👋👋"))).isRejected());
        ProcessResult r = rules.check(draft(text("👋👋👋👋👋👋👋👋👋👋👋")));
        assertEquals(ErrorCode.ERROR_CODE_BODY_TOO_LARGE, r.code());
    }

    @Test
    void refusesBlankText() {
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, rules.check(draft(text(" \n\t"))).code());
    }

    @Test
    void refusesTextWithNothingVisible() {
        // what an attacker's probe sent: spaces and zero-width spaces; also other invisible-only texts
        for (String invisible : new String[] {"  \u200B \u200B", "\u200B", "\u2060\uFEFF\u200D", "\u00A0\u3000",
                "\u0000\u0007", "\u0301\u20DD", "\u3164\u3164"}) {
            ProcessResult r = rules.check(draft(text(invisible)));
            assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, r.code(), invisible.codePoints().toString());
            assertTrue(r.reason().contains("no visible character"), r.reason());
        }
        for (String visible : new String[] {"\u200Bhi", ".", "\uD83D\uDC4D", "\u0065\u0301", "\u4F60\u597D",
                "\u200D\uD83D\uDC68\u200D\uD83D\uDC69"}) {
            assertFalse(rules.check(draft(text(visible))).isRejected(), visible);
        }
    }

    @Test
    void refusesOtherBodyTypes() {
        Any other = Any.newBuilder().setTypeUrl("type.googleapis.com/parley.emoji.v1.Emoji").build();
        ProcessResult r = rules.check(draft(other));
        assertTrue(r.isRejected());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, r.code());
    }

    @Test
    void refusesInvalidUtf8() {
        // field 1, length 2, bytes C3 28: an invalid two-byte sequence
        ByteString bad = ByteString.copyFrom(new byte[]{0x0a, 0x02, (byte) 0xc3, 0x28});
        Any body = Any.newBuilder().setTypeUrl("type.googleapis.com/parley.text.v1.Text").setValue(bad).build();
        ProcessResult r = rules.check(draft(body));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, r.code());
    }

    @Test
    void previewFoldsWhitespaceAndTruncates() {
        assertEquals("a b c", TextRules.preview("  a\n b\t\tc "));
        String longText = "x".repeat(150);
        String p = TextRules.preview(longText);
        assertEquals(TextRules.PREVIEW_CODE_POINTS + 1, p.codePointCount(0, p.length()));
        assertTrue(p.endsWith("…"));
    }

    /** The one-pass preview gives what the regex definition gives (fold {@code \s+} runs, then cut), on random texts. */
    @Test
    void previewMatchesItsRegexDefinition() {
        java.util.Random random = new java.util.Random(42);
        String alphabet = "ab \t\n\r\f\u000B\u00A0é👋\u2003x";
        int[] cps = alphabet.codePoints().toArray();
        for (int n = 0; n < 20_000; n++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(n % 10 == 0 ? 300 : 130);
            for (int i = 0; i < length; i++) {
                text.appendCodePoint(cps[random.nextInt(cps.length)]);
            }
            String s = text.toString();
            String flat = s.strip().replaceAll("\\s+", " ");
            String expected = flat.codePointCount(0, flat.length()) <= TextRules.PREVIEW_CODE_POINTS ? flat
                    : flat.substring(0, flat.offsetByCodePoints(0, TextRules.PREVIEW_CODE_POINTS)) + "…";
            assertEquals(expected, TextRules.preview(s), () -> "preview of " + s.codePoints()
                    .mapToObj(Integer::toHexString).toList());
        }
    }
}
