package io.parley.core.spi;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;

import java.util.Objects;

/**
 * The outcome of {@link MessageProcessor#process}: store and deliver a message, or reject the send.
 * Instances are immutable.
 */
public final class ProcessResult {
    private final Message message;
    private final String preview;
    private final ErrorCode code;
    private final String reason;

    private ProcessResult(Message message, String preview, ErrorCode code, String reason) {
        this.message = message;
        this.preview = preview;
        this.code = code;
        this.reason = reason;
    }

    /**
     * Store {@code message} and deliver it.
     *
     * @param message the draft handed to the processor, or a copy with a normalised body or ext; the core
     *                restores the fields it owns (id, sender, conversation, seq, time, type)
     * @param preview text an offline push notification may show, e.g. the first line of a text; never null
     */
    public static ProcessResult store(Message message, String preview) {
        return new ProcessResult(Objects.requireNonNull(message, "message"), Objects.requireNonNull(preview, "preview"), null, null);
    }

    /**
     * Refuse the send; nothing is stored. The client receives {@code code} and {@code reason}.
     *
     * @param code usually {@code ERROR_CODE_INVALID_BODY}, {@code ERROR_CODE_BODY_TOO_LARGE} or {@code ERROR_CODE_FORBIDDEN}
     */
    public static ProcessResult reject(ErrorCode code, String reason) {
        return new ProcessResult(null, null, Objects.requireNonNull(code, "code"), Objects.requireNonNull(reason, "reason"));
    }

    public boolean isRejected() {
        return code != null;
    }

    /** @return the message to store; null when rejected */
    public Message message() {
        return message;
    }

    /** @return the push preview; null when rejected */
    public String preview() {
        return preview;
    }

    /** @return the rejection code; null when accepted */
    public ErrorCode code() {
        return code;
    }

    /** @return the rejection reason; null when accepted */
    public String reason() {
        return reason;
    }
}
