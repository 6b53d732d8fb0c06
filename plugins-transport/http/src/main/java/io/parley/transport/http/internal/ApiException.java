package io.parley.transport.http.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A refusal of an API call: the HTTP status plus the JSON error body {@code {"error": {code, message, retryable,
 * retry_after_ms}}}, and any response headers it needs ({@code Upload-Offset}, {@code Content-Range}, …). Codes are
 * the wire {@link ErrorCode} names without their {@code ERROR_CODE_} prefix (the blob endpoints also use
 * {@code CONFLICT}, a wire code since protocol 1.6), plus the HTTP-only {@code METHOD_NOT_ALLOWED} and
 * {@code TIMEOUT}. Immutable; cheap: no stack trace.
 */
public final class ApiException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final String WIRE_PREFIX = "ERROR_CODE_";

    private final int status;
    private final String code;
    private final boolean retryable;
    private final int retryAfterMs;
    private final Map<String, String> headers;

    public ApiException(int status, String code, String message, boolean retryable, int retryAfterMs) {
        this(status, code, message, retryable, retryAfterMs, Map.of());
    }

    private ApiException(int status, String code, String message, boolean retryable, int retryAfterMs,
                         Map<String, String> headers) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.retryable = retryable;
        this.retryAfterMs = retryAfterMs;
        this.headers = headers;
    }

    /** @return this refusal with one more response header */
    public ApiException withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new ApiException(status, code, getMessage(), retryable, retryAfterMs, Map.copyOf(more));
    }

    /** 403 {@code FORBIDDEN}. */
    public static ApiException forbidden(String message) {
        return new ApiException(403, "FORBIDDEN", message, false, 0);
    }

    /** 409 {@code CONFLICT}: the request contradicts the resource's state, e.g. a wrong upload offset. */
    public static ApiException conflict(String message) {
        return new ApiException(409, "CONFLICT", message, false, 0);
    }

    /** 400 {@code INVALID_REQUEST}: a missing or malformed field, bad JSON, a bad query parameter. */
    public static ApiException invalid(String message) {
        return new ApiException(400, "INVALID_REQUEST", message, false, 0);
    }

    public static ApiException unauthenticated(String message) {
        return new ApiException(401, "UNAUTHENTICATED", message, false, 0);
    }

    public static ApiException notFound(String message) {
        return new ApiException(404, "NOT_FOUND", message, false, 0);
    }

    public static ApiException methodNotAllowed(String message) {
        return new ApiException(405, "METHOD_NOT_ALLOWED", message, false, 0);
    }

    public static ApiException bodyTooLarge(String message) {
        return new ApiException(413, "BODY_TOO_LARGE", message, false, 0);
    }

    /** 503 {@code UNAVAILABLE}, retryable: the core, the admin token or the JWT secret is missing. */
    public static ApiException unavailable(String message) {
        return new ApiException(503, "UNAVAILABLE", message, true, 1000);
    }

    /**
     * 504 {@code TIMEOUT}, retryable: the core did not answer in time. The operation may still have happened; a
     * retry with the same {@code client_msg_id} / {@code client_request_id} is safe.
     */
    public static ApiException timeout(String message) {
        return new ApiException(504, "TIMEOUT", message, true, 0);
    }

    public static ApiException internal(String message) {
        return new ApiException(500, "INTERNAL", message, false, 0);
    }

    /** The engine's answer {@code Error} frame as an API error. */
    public static ApiException fromWire(Error error) {
        return new ApiException(status(error.getCode()), codeName(error.getCode()), error.getMessage(),
                error.getRetryable(), error.getRetryAfterMs());
    }

    /** A {@link ParleyException} thrown by shared code (id checks, token minting) as an API error. */
    public static ApiException from(ParleyException e) {
        return new ApiException(status(e.code()), codeName(e.code()), e.getMessage(), e.retryable(), 0);
    }

    /** The HTTP status for a wire error code. */
    public static int status(ErrorCode code) {
        switch (code) {
            case ERROR_CODE_UNAUTHENTICATED:
            case ERROR_CODE_TOKEN_EXPIRED:
                return 401;
            case ERROR_CODE_FORBIDDEN:
            case ERROR_CODE_QUOTA_EXCEEDED:
                return 403;
            case ERROR_CODE_NOT_FOUND:
                return 404;
            case ERROR_CODE_CONFLICT:
                return 409;
            case ERROR_CODE_BAD_FRAME:
            case ERROR_CODE_INVALID_REQUEST:
            case ERROR_CODE_INVALID_BODY:
                return 400;
            case ERROR_CODE_FRAME_TOO_LARGE:
            case ERROR_CODE_BODY_TOO_LARGE:
                return 413;
            case ERROR_CODE_UNSUPPORTED_TYPE:
            case ERROR_CODE_UNSUPPORTED_COMMAND:
                return 422;
            case ERROR_CODE_RATE_LIMITED:
                return 429;
            case ERROR_CODE_UNAVAILABLE:
                return 503;
            default:
                return 500;
        }
    }

    /** {@code ERROR_CODE_UNSUPPORTED_TYPE} → {@code UNSUPPORTED_TYPE}. */
    public static String codeName(ErrorCode code) {
        String name = code == ErrorCode.UNRECOGNIZED ? "ERROR_CODE_INTERNAL" : code.name();
        return name.startsWith(WIRE_PREFIX) ? name.substring(WIRE_PREFIX.length()) : name;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public boolean retryable() {
        return retryable;
    }

    /** Milliseconds the caller should wait before retrying; 0 = no advice. */
    public int retryAfterMs() {
        return retryAfterMs;
    }

    /** Response headers the refusal carries besides the usual ones; empty for most. */
    public Map<String, String> headers() {
        return headers;
    }

    @Override
    public String toString() {
        return status + " " + code + ": " + getMessage();
    }
}
