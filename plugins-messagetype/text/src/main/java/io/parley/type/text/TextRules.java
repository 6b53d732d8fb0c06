package io.parley.type.text;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.text.proto.Text;


/**
 * The rules of a text message, in plain Java: the body must be a {@code parley.text.v1.Text} with valid UTF-8
 * (protobuf checks it while parsing), not blank, at most {@code maxLength} code points. Immutable, thread-safe.
 */
public final class TextRules {
    static final int PREVIEW_CODE_POINTS = 100;
    static final String TYPE_URL = "type.googleapis.com/" + Text.getDescriptor().getFullName();

    private final int maxLength;

    public TextRules(int maxLength) {
        if (maxLength < 1) {
            throw new IllegalArgumentException("max.length must be at least 1");
        }
        this.maxLength = maxLength;
    }

    public ProcessResult check(Message draft) {
        Any body = draft.getBody();
        // compare the URL instead of Any.is(), which looks the default instance up reflectively on every call
        if (!TYPE_URL.equals(body.getTypeUrl())) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY,
                    "a text message needs a parley.text.v1.Text body, not '" + body.getTypeUrl() + "'");
        }
        Text text;
        try {
            text = Text.parseFrom(body.getValue());
        } catch (InvalidProtocolBufferException e) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, "text body is malformed or not valid UTF-8");
        }
        String s = text.getText();
        if (!hasVisibleCharacter(s)) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY,
                    "text is empty: it has no visible character (only spaces, zero-width or control characters)");
        }
        int length = s.codePointCount(0, s.length());
        if (length > maxLength) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_BODY_TOO_LARGE,
                    "text has " + length + " characters; at most " + maxLength + " are allowed");
        }
        return ProcessResult.store(draft, preview(s));
    }

    /**
     * @return true if {@code s} has a code point that shows: not white space, not a zero-width or other format character
     *         (U+200B, U+2060, U+FEFF…), not a control character, not a combining mark on its own. Stops at the first
     *         one, usually the first character.
     */
    static boolean hasVisibleCharacter(String s) {
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int type = Character.getType(cp);
            if (!Character.isWhitespace(cp) && !Character.isSpaceChar(cp) && type != Character.FORMAT
                    && type != Character.CONTROL && type != Character.NON_SPACING_MARK
                    && type != Character.ENCLOSING_MARK && cp != 0x3164 && cp != 0x115F && cp != 0x1160
                    && cp != 0xFFA0) { // the Hangul fillers: letters that draw nothing
                return true;
            }
            i += Character.charCount(cp);
        }
        return false;
    }

    /** The first line-folded {@value #PREVIEW_CODE_POINTS} code points, for push notifications. */
    static String preview(String s) {
        String text = s.strip();
        // one pass over at most PREVIEW_CODE_POINTS code points (runs per message: no regex, no copy of a long text)
        StringBuilder out = null;
        int codePoints = 0;
        int i = 0;
        while (i < text.length()) {
            if (codePoints == PREVIEW_CODE_POINTS) {
                return (out != null ? out : new StringBuilder(text.substring(0, i))).append('…').toString();
            }
            char c = text.charAt(i);
            if (isRegexSpace(c)) {
                int end = i + 1;
                while (end < text.length() && isRegexSpace(text.charAt(end))) {
                    end++;
                }
                if (c != ' ' || end > i + 1) {
                    if (out == null) {
                        out = new StringBuilder(Math.min(text.length(), 2 * PREVIEW_CODE_POINTS)).append(text, 0, i);
                    }
                    out.append(' ');
                } else if (out != null) {
                    out.append(' ');
                }
                i = end;
                codePoints++;
                continue;
            }
            int cp = text.codePointAt(i);
            int n = Character.charCount(cp);
            if (out != null) {
                out.append(text, i, i + n);
            }
            i += n;
            codePoints++;
        }
        return out != null ? out.toString() : text;
    }

    /** The characters of regex {@code \s} (ASCII whitespace), which a preview folds into one space per run. */
    private static boolean isRegexSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\u000B' || c == '\f' || c == '\r';
    }
}
