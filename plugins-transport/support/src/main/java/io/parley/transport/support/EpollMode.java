package io.parley.transport.support;

import java.util.Locale;

/** Choice of the I/O transport (config key {@code epoll}). */
public enum EpollMode {
    /** native epoll when it is available, otherwise NIO */
    AUTO,
    /** native epoll; starting fails if it is unavailable */
    ON,
    /** Java NIO */
    OFF;

    /** Parses {@code auto} (or empty), {@code true} or {@code false}, case-insensitive. */
    public static EpollMode parse(String value) {
        switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto":
            case "":
                return AUTO;
            case "true":
                return ON;
            case "false":
                return OFF;
            default:
                throw new IllegalArgumentException("epoll must be auto, true or false: " + value);
        }
    }
}
