package io.parley.client;

import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;

/**
 * A request refused by the server (its {@link Error} frame), or a client-side failure that has no server error
 * code ({@link ErrorCode#ERROR_CODE_UNSPECIFIED}: the client was closed, kicked, or gave up). Futures returned by
 * {@link ParleyClient} complete exceptionally with this; timeouts use
 * {@link java.util.concurrent.TimeoutException} instead. Immutable.
 */
public class ParleyClientException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final boolean retryable;
    private final int retryAfterMillis;

    public ParleyClientException(ErrorCode code, String message, boolean retryable, int retryAfterMillis) {
        super(message);
        this.code = code;
        this.retryable = retryable;
        this.retryAfterMillis = retryAfterMillis;
    }

    /** @return an exception carrying the code, text and retry hints of a server error frame */
    public static ParleyClientException of(Error error) {
        return new ParleyClientException(error.getCode(), error.getMessage(), error.getRetryable(),
                error.getRetryAfterMs());
    }

    /** @return the server's error code, or {@link ErrorCode#ERROR_CODE_UNSPECIFIED} for client-side failures */
    public ErrorCode code() {
        return code;
    }

    /** @return true if the same request may succeed later (the server said so) */
    public boolean retryable() {
        return retryable;
    }

    /** @return the server's suggested wait before retrying, 0 if none */
    public int retryAfterMillis() {
        return retryAfterMillis;
    }

    @Override
    public String toString() {
        return "ParleyClientException[" + code + (retryable ? ", retryable" : "") + "]: " + getMessage();
    }
}
