package io.parley.client;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BodiesTest {
    @Test
    void textIsField1AsUtf8WithTheTextTypeUrl() {
        Any any = Bodies.text("héllo ✓");
        assertEquals("type.googleapis.com/parley.text.v1.Text", any.getTypeUrl());
        byte[] utf8 = "héllo ✓".getBytes(StandardCharsets.UTF_8);
        byte[] expected = new byte[2 + utf8.length];
        expected[0] = 0x0A;                 // field 1, length-delimited
        expected[1] = (byte) utf8.length;
        System.arraycopy(utf8, 0, expected, 2, utf8.length);
        assertArrayEquals(expected, any.getValue().toByteArray());
        assertEquals("héllo ✓", Bodies.textOf(any));
    }

    @Test
    void emptyTextRoundTrips() {
        assertEquals("", Bodies.textOf(Bodies.text("")));
    }

    @Test
    void unknownFieldsAreSkipped() {
        // field 2 varint 5, then field 1 "x"
        Any any = Any.newBuilder().setTypeUrl(Bodies.TEXT_TYPE_URL)
                .setValue(ByteString.copyFrom(new byte[] {0x10, 0x05, 0x0A, 0x01, 'x'})).build();
        assertEquals("x", Bodies.textOf(any));
    }

    @Test
    void otherTypesAreRefused() {
        Any sv = Any.pack(StringValue.of("x"));
        assertFalse(Bodies.isText(sv));
        assertThrows(IllegalArgumentException.class, () -> Bodies.textOf(sv));
        Any broken = Any.newBuilder().setTypeUrl(Bodies.TEXT_TYPE_URL)
                .setValue(ByteString.copyFrom(new byte[] {0x0A, 0x05, 'x'})).build();
        assertThrows(IllegalArgumentException.class, () -> Bodies.textOf(broken));
    }

    @Test
    void emojiRoundTripsAsParleyEmojiV1() {
        Any any = Bodies.emoji("\uD83D\uDC4D");
        assertEquals("type.googleapis.com/parley.emoji.v1.Emoji", any.getTypeUrl());
        // field 1, length-delimited, the UTF-8 bytes: the same bytes the emoji bundle's own class writes
        byte[] thumbs = "\uD83D\uDC4D".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] expected = new byte[thumbs.length + 2];
        expected[0] = 0x0A;
        expected[1] = (byte) thumbs.length;
        System.arraycopy(thumbs, 0, expected, 2, thumbs.length);
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, any.getValue().toByteArray());
        assertEquals("\uD83D\uDC4D", Bodies.emojiOf(any));
        assertThrows(IllegalArgumentException.class, () -> Bodies.emojiOf(Bodies.text("x")));
    }
}
