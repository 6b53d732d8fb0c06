package io.parley.core.internal;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;

/** {@code ERROR_CODE_RATE_LIMITED}, retryable, with the time after which the same request would be admitted. */
final class RateLimited extends ParleyException {
    private static final long serialVersionUID = 1L;

    private final long retryAfterMillis;

    RateLimited(String message, long retryAfterMillis) {
        super(ErrorCode.ERROR_CODE_RATE_LIMITED, message, true);
        this.retryAfterMillis = Math.max(1, retryAfterMillis);
    }

    /** @return ms after which one more request of the kind refused would be admitted (at least 1) */
    long retryAfterMillis() {
        return retryAfterMillis;
    }

    @Override
    public Error toError() {
        return super.toError().toBuilder().setRetryAfterMs((int) Math.min(Integer.MAX_VALUE, retryAfterMillis)).build();
    }
}
