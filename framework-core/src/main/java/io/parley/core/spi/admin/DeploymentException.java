package io.parley.core.spi.admin;

/**
 * A deployment refused before {@code deploy/} was touched (bad jar, wrong or reserved name, too large, no such
 * bundle). The message is one line for the operator; {@link #reason()} is a stable code.
 */
public final class DeploymentException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Stable codes of {@link #reason()}. */
    public enum Reason {
        /** not a jar, no manifest, no or bad {@code Bundle-SymbolicName} / {@code Bundle-Version} */
        INVALID_BUNDLE,
        /** the jar's symbolic name is not the one asked for */
        NAME_MISMATCH,
        /** a bundle of {@code system/} (not hot-swappable) or the admin bundle itself */
        SYSTEM_BUNDLE,
        /** a name with path characters or outside the allowed characters */
        INVALID_NAME,
        /** the jar is larger than the configured limit */
        TOO_LARGE,
        /** no bundle of that name in {@code deploy/} */
        NOT_FOUND,
        /** the file system failed */
        IO
    }

    private final Reason reason;

    public DeploymentException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
