package org.example.parley.location;

import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.ProcessResult;
import org.example.parley.location.proto.Location;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * The rules of a location message, in plain Java: the body is a {@code parley.location.v1.Location} whose latitude
 * is a finite number in [-90, 90], longitude a finite number in [-180, 180], and label at most
 * {@value #MAX_LABEL_CHARS} characters (code points) without control characters. Anything else is refused with
 * {@code INVALID_BODY} and a reason the sender can read. Immutable, thread-safe.
 */
public final class LocationRules {
    static final String TYPE_URL = "type.googleapis.com/" + Location.getDescriptor().getFullName();
    static final int MAX_LABEL_CHARS = 200;
    static final String PIN = "\uD83D\uDCCD";

    /**
     * @return {@code store} with the draft unchanged and a preview ({@code "📍 label"}, or {@code "📍 lat,lon"} when
     *         the label is blank), or {@code reject(INVALID_BODY, reason)}
     */
    public ProcessResult check(Message draft) {
        if (!TYPE_URL.equals(draft.getBody().getTypeUrl())) {
            return invalid("a location message needs a parley.location.v1.Location body, not '"
                    + draft.getBody().getTypeUrl() + "'");
        }
        Location location;
        try {
            location = Location.parseFrom(draft.getBody().getValue());
        } catch (InvalidProtocolBufferException e) {
            return invalid("location body is malformed");
        }
        String problem = coordinate("latitude", location.getLatitude(), 90);
        if (problem == null) {
            problem = coordinate("longitude", location.getLongitude(), 180);
        }
        if (problem == null) {
            problem = label(location.getLabel());
        }
        return problem != null ? invalid(problem) : ProcessResult.store(draft, preview(location));
    }

    /** @return why {@code value} is not a finite number in [-limit, limit], or null */
    private static String coordinate(String name, double value, int limit) {
        if (!Double.isFinite(value)) {
            return name + " must be a finite number, not " + value;
        }
        if (value < -limit || value > limit) {
            return name + " must be between -" + limit + " and " + limit + ", not " + plain(value);
        }
        return null;
    }

    /** @return why {@code label} is not acceptable, or null */
    private static String label(String label) {
        int chars = label.codePointCount(0, label.length());
        if (chars > MAX_LABEL_CHARS) {
            return "label has " + chars + " characters; at most " + MAX_LABEL_CHARS + " are allowed";
        }
        if (label.codePoints().anyMatch(Character::isISOControl)) {
            return "label must not contain control characters (line breaks, tabs…)";
        }
        return null;
    }

    static String preview(Location location) {
        String label = location.getLabel().strip();
        return PIN + " " + (label.isEmpty()
                ? plain(location.getLatitude()) + "," + plain(location.getLongitude())
                : label);
    }

    /** {@code value} rounded to 6 decimals (about 0.1 m), without exponent or trailing zeros: 48.8584, -0.5, 0. */
    static String plain(double value) {
        return BigDecimal.valueOf(value).setScale(6, RoundingMode.HALF_EVEN).stripTrailingZeros().toPlainString();
    }

    private static ProcessResult invalid(String reason) {
        return ProcessResult.reject(ErrorCode.ERROR_CODE_INVALID_BODY, reason);
    }
}
