package org.example.parley.location;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.ProcessResult;
import org.example.parley.location.proto.Location;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocationRulesTest {
    private final LocationRules rules = new LocationRules();

    private static Message draft(double latitude, double longitude, String label) {
        Location body = Location.newBuilder().setLatitude(latitude).setLongitude(longitude).setLabel(label).build();
        return Message.newBuilder().setType("location").setBody(Any.pack(body)).build();
    }

    private void assertRefused(Message draft, String reasonFragment) {
        ProcessResult r = rules.check(draft);
        assertTrue(r.isRejected(), "accepted: " + draft);
        assertEquals(ErrorCode.ERROR_CODE_INVALID_BODY, r.code());
        assertTrue(r.reason().contains(reasonFragment), "'" + r.reason() + "' should contain '" + reasonFragment + "'");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "48.8584     | 2.2945     | Eiffel Tower | \uD83D\uDCCD Eiffel Tower",
            "90          | 180        | ''           | \uD83D\uDCCD 90,180",
            "-90         | -180       | '   '        | \uD83D\uDCCD -90,-180",
            "0           | 0          | ''           | \uD83D\uDCCD 0,0",
            "-33.8567844 | 151.213108 | ''           | \uD83D\uDCCD -33.856784,151.213108",
            "1.0E-7      | -0.0       | ''           | \uD83D\uDCCD 0,0",
    })
    void storesValidLocationsWithAPreview(double latitude, double longitude, String label, String preview) {
        Message draft = draft(latitude, longitude, label);
        ProcessResult r = rules.check(draft);
        assertFalse(r.isRejected(), r.reason());
        assertFalse(r.isRelay());
        assertSame(draft, r.message(), "stored as sent");
        assertEquals(preview, r.preview());
    }

    @ParameterizedTest
    @CsvSource({
            "90.000001, 0, latitude must be between -90 and 90, not 90.000001",
            "-91, 0, latitude must be between -90 and 90, not -91",
            "0, 180.5, longitude must be between -180 and 180, not 180.5",
            "0, -1000, longitude must be between -180 and 180, not -1000",
    })
    void refusesCoordinatesOutOfRange(double latitude, double longitude, String reason) {
        assertRefused(draft(latitude, longitude, ""), reason);
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY})
    void refusesNonFiniteCoordinates(double bad) {
        assertRefused(draft(bad, 0, ""), "latitude must be a finite number");
        assertRefused(draft(0, bad, ""), "longitude must be a finite number");
    }

    @Test
    void labelsUpTo200CharactersAreAllowed() {
        String longest = "\uD83D\uDDFC".repeat(LocationRules.MAX_LABEL_CHARS); // 200 code points, 400 chars
        assertFalse(rules.check(draft(35.6586, 139.7454, longest)).isRejected());
        assertRefused(draft(35.6586, 139.7454, longest + "x"), "label has 201 characters; at most 200 are allowed");
    }

    @ParameterizedTest
    @ValueSource(strings = {"two\nlines", "tab\there", "nul\u0000", "bell\u0007", "del\u007F", "c1\u0085"})
    void refusesControlCharactersInTheLabel(String label) {
        assertRefused(draft(1, 2, label), "label must not contain control characters");
    }

    @Test
    void refusesOtherBodies() {
        Message text = Message.newBuilder().setType("location")
                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/parley.text.v1.Text")).build();
        assertRefused(text, "needs a parley.location.v1.Location body, not 'type.googleapis.com/parley.text.v1.Text'");
        Message garbage = Message.newBuilder().setType("location").setBody(Any.newBuilder()
                .setTypeUrl(LocationRules.TYPE_URL).setValue(ByteString.copyFrom(new byte[]{(byte) 0xff}))).build();
        assertRefused(garbage, "location body is malformed");
    }
}
