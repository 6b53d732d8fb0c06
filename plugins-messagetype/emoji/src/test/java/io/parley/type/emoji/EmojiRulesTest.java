package io.parley.type.emoji;

import com.google.protobuf.Any;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.type.emoji.proto.Emoji;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class EmojiRulesTest {
    private final EmojiRules rules = new EmojiRules(16);

    private static Message draft(String e) {
        return Message.newBuilder().setType("emoji").setBody(Any.pack(Emoji.newBuilder().setEmoji(e).build())).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "1️⃣"})
    void acceptsEmoji(String e) {
        assertFalse(rules.check(draft(e)).isRejected(), e);
        assertEquals(e, rules.check(draft(e)).preview());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "a", "hello", "1", "😀 ", "<script>"})
    void refusesNonEmoji(String e) {
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, rules.check(draft(e)).code(), e);
    }
}
