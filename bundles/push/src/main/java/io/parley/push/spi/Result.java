package io.parley.push.spi;

import java.util.Objects;

/** The outcome of {@link PushProvider#send}. Immutable. */
public final class Result {

    /** What happened to a push. */
    public enum Status {
        /** The platform accepted the push. */
        SENT,
        /** The platform says the token is unknown, expired or malformed: the push bundle removes it. */
        BAD_TOKEN,
        /** Not sent (platform unavailable after retries, credential refused, queue full, shutting down…). */
        FAILED
    }

    private static final Result SENT = new Result(Status.SENT, "");

    private final Status status;
    private final String detail;

    private Result(Status status, String detail) {
        this.status = status;
        this.detail = Objects.requireNonNull(detail, "detail");
    }

    public static Result sent() {
        return SENT;
    }

    /** @param detail why, for logs, e.g. {@code "HTTP 404 UNREGISTERED"} */
    public static Result badToken(String detail) {
        return new Result(Status.BAD_TOKEN, detail);
    }

    /** @param detail why, for logs, e.g. {@code "HTTP 503 after 4 attempts"} */
    public static Result failed(String detail) {
        return new Result(Status.FAILED, detail);
    }

    public Status status() {
        return status;
    }

    /** Why, for logs; empty for {@link Status#SENT}. */
    public String detail() {
        return detail;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Result r && r.status == status && r.detail.equals(detail);
    }

    @Override
    public int hashCode() {
        return status.hashCode() * 31 + detail.hashCode();
    }

    @Override
    public String toString() {
        return detail.isEmpty() ? status.toString() : status + ": " + detail;
    }
}
