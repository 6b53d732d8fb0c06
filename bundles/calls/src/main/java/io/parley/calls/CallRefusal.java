package io.parley.calls;

import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;

import java.util.concurrent.CompletionException;

/** The refusals of the call commands (protocol.md §6i), each a {@link ParleyException} the client receives. */
final class CallRefusal {
    private CallRefusal() {
    }

    static ParleyException invalid(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, message);
    }

    static ParleyException forbidden(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, message);
    }

    static ParleyException notFound(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, message);
    }

    static ParleyException conflict(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_CONFLICT, message);
    }

    static ParleyException noSuchCall() {
        return notFound("no such call");
    }

    static ParleyException notInvited() {
        return forbidden("you were not invited to this call");
    }

    static ParleyException alreadyEnded() {
        return conflict("the call already ended");
    }

    /** @return {@code error} without its {@link CompletionException} wrapper, as something a stage may throw */
    static RuntimeException wrap(Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        return cause instanceof RuntimeException re ? re : new CompletionException(cause);
    }

    static ParleyException alreadyInCall(String callId) {
        return conflict("you are already in call " + callId);
    }
}
