package io.parley.core.spi.intercept;

import com.google.protobuf.Any;
import io.parley.core.proto.ErrorCode;

import java.util.Map;
import java.util.Objects;

/** What a {@link SendInterceptor} decided. Immutable. */
public final class Verdict {

    private static final Verdict PASS = new Verdict(null, null, null, null);

    private final Any body;
    private final Map<String, String> ext;
    private final ErrorCode code;
    private final String reason;

    private Verdict(Any body, Map<String, String> ext, ErrorCode code, String reason) {
        this.body = body;
        this.ext = ext;
        this.code = code;
        this.reason = reason;
    }

    /** Let the message pass unchanged. */
    public static Verdict pass() {
        return PASS;
    }

    /**
     * Let the message pass with another body and/or ext (null keeps that part). The core keeps every other field;
     * the new ext is held to the same limits as a client's.
     */
    public static Verdict rewrite(Any body, Map<String, String> ext) {
        if (body == null && ext == null) {
            return PASS;
        }
        return new Verdict(body, ext == null ? null : Map.copyOf(ext), null, null);
    }

    /**
     * Refuse the message; nothing is stored and the client gets {@code code} and {@code reason}.
     *
     * @param code usually {@code ERROR_CODE_FORBIDDEN} or {@code ERROR_CODE_INVALID_BODY}
     */
    public static Verdict veto(ErrorCode code, String reason) {
        return new Verdict(null, null, Objects.requireNonNull(code, "code"), Objects.requireNonNull(reason, "reason"));
    }

    public boolean isVeto() {
        return code != null;
    }

    /** @return the new body, or null to keep it */
    public Any body() {
        return body;
    }

    /** @return the new ext, or null to keep it */
    public Map<String, String> ext() {
        return ext;
    }

    /** @return the veto's code; null unless {@link #isVeto()} */
    public ErrorCode code() {
        return code;
    }

    /** @return the veto's reason; null unless {@link #isVeto()} */
    public String reason() {
        return reason;
    }
}
