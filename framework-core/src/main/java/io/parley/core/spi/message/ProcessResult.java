package io.parley.core.spi.message;

import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;

import java.util.Objects;

/**
 * The outcome of {@link MessageProcessor#process}: {@link #store} and deliver a message, {@link #relay} it to the
 * members' online devices without storing it, or {@link #reject} the send. Instances are immutable.
 */
public final class ProcessResult {
    private final Message message;
    private final String preview;
    private final ErrorCode code;
    private final String reason;
    private final boolean relay;

    private ProcessResult(Message message, String preview, ErrorCode code, String reason, boolean relay) {
        this.message = message;
        this.preview = preview;
        this.code = code;
        this.reason = reason;
        this.relay = relay;
    }

    /**
     * Store {@code message} and deliver it.
     *
     * @param message the draft handed to the processor, or a copy with a normalised body or ext; the core
     *                restores the fields it owns (id, sender, conversation, seq, time, type)
     * @param preview text an offline push notification may show, e.g. the first line of a text; never null
     */
    public static ProcessResult store(Message message, String preview) {
        return new ProcessResult(Objects.requireNonNull(message, "message"), Objects.requireNonNull(preview, "preview"),
                null, null, false);
    }

    /**
     * Deliver {@code message} to the online devices of the conversation's members (the sender's other devices
     * included) and store nothing: it gets no seq (0), is not in the conversation's history, is not re-sent on
     * resume, is not de-duplicated by {@code client_msg_id} and is not handed to notification channels. For what is
     * only worth something now: typing-like signals, call signalling. The sender gets a {@code SendAck} with
     * {@code seq} 0.
     *
     * @param message the draft handed to the processor, or a normalised copy (the core restores the fields it owns)
     * @since 1.0
     */
    public static ProcessResult relay(Message message) {
        return new ProcessResult(Objects.requireNonNull(message, "message"), null, null, null, true);
    }

    /**
     * Refuse the send; nothing is stored. The client receives {@code code} and {@code reason}.
     *
     * @param code usually {@code ERROR_CODE_INVALID_BODY}, {@code ERROR_CODE_BODY_TOO_LARGE} or {@code ERROR_CODE_FORBIDDEN}
     */
    public static ProcessResult reject(ErrorCode code, String reason) {
        return new ProcessResult(null, null, Objects.requireNonNull(code, "code"), Objects.requireNonNull(reason, "reason"),
                false);
    }

    public boolean isRejected() {
        return code != null;
    }

    /** @return true if the message is to be relayed to online devices and not stored */
    public boolean isRelay() {
        return relay;
    }

    /** @return the message to store or relay; null when rejected */
    public Message message() {
        return message;
    }

    /** @return the push preview; null when rejected or relayed */
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
