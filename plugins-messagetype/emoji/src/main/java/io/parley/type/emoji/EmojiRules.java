package io.parley.type.emoji;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.emoji.proto.Emoji;

/**
 * The rules of an emoji message in plain Java: a {@code parley.emoji.v1.Emoji} body holding one emoji sequence of
 * at most {@code maxCodePoints} code points, made only of symbols and the joiners and modifiers emoji sequences use.
 * Immutable, thread-safe.
 */
public final class EmojiRules {
    static final String TYPE_URL = "type.googleapis.com/" + Emoji.getDescriptor().getFullName();
    private final int maxCodePoints;

    public EmojiRules(int maxCodePoints) {
        this.maxCodePoints = maxCodePoints;
    }

    public ProcessResult check(Message draft) {
        if (!TYPE_URL.equals(draft.getBody().getTypeUrl())) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY,
                    "an emoji message needs a parley.emoji.v1.Emoji body, not '" + draft.getBody().getTypeUrl() + "'");
        }
        String e;
        try {
            e = Emoji.parseFrom(draft.getBody().getValue()).getEmoji();
        } catch (InvalidProtocolBufferException ex) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, "emoji body is malformed");
        }
        int n = e.codePointCount(0, e.length());
        if (n == 0 || n > maxCodePoints) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY,
                    "an emoji has 1 to " + maxCodePoints + " code points");
        }
        if (!e.codePoints().allMatch(EmojiRules::isEmojiPart) || e.codePoints().noneMatch(cp -> isSymbol(cp) || cp == 0x20E3)) {
            return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, "not an emoji");
        }
        return ProcessResult.store(draft, e);
    }

    static boolean isSymbol(int cp) {
        return Character.getType(cp) == Character.OTHER_SYMBOL
                || (cp >= 0x1F1E6 && cp <= 0x1F1FF); // regional indicators (flags)
    }

    static boolean isEmojiPart(int cp) {
        return isSymbol(cp)
                || cp == 0x200D                       // zero-width joiner
                || cp == 0xFE0F || cp == 0xFE0E       // variation selectors
                || cp == 0x20E3                       // combining keycap
                || (cp >= 0x1F3FB && cp <= 0x1F3FF)   // skin tones
                || (cp >= 0xE0020 && cp <= 0xE007F)   // tag sequences (subdivision flags)
                || (cp >= '0' && cp <= '9') || cp == '#' || cp == '*'; // keycap bases
    }
}
