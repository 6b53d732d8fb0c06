package io.parley.core.api;

import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;

/**
 * A refusal with a wire error code. Thrown or used to complete stages exceptionally anywhere in the
 * send path; the core turns it into an {@link Error} frame for the client. Cheap: no stack trace.
 */
public class ParleyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final boolean retryable;

    public ParleyException(ErrorCode code, String message) {
        this(code, message, false);
    }

    public ParleyException(ErrorCode code, String message, boolean retryable) {
        super(message, null, false, false);
        this.code = code;
        this.retryable = retryable;
    }

    public ErrorCode code() {
        return code;
    }

    public boolean retryable() {
        return retryable;
    }

    /** The wire form of this error. */
    public Error toError() {
        return Error.newBuilder().setCode(code).setMessage(String.valueOf(getMessage())).setRetryable(retryable).build();
    }

    @Override
    public String toString() {
        return code + ": " + getMessage();
    }
}
