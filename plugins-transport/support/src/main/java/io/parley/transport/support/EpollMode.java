package io.parley.transport.support;

import java.util.Locale;

/**
 * Whether to use a native I/O transport: config key {@code epoll} (native epoll, else Java NIO) and key
 * {@code io.uring} (native io_uring, else what {@code epoll} says). The constant names speak of epoll, the first key.
 */
public enum EpollMode {
    /** native epoll when it is available, otherwise NIO */
    AUTO,
    /** native epoll; starting fails if it is unavailable */
    ON,
    /** Java NIO */
    OFF;

    /** Parses {@code auto} (or empty), {@code true} or {@code false}, case-insensitive, for key {@code epoll}. */
    public static EpollMode parse(String value) {
        return parse("epoll", value);
    }

    /** Parses {@code auto} (or empty), {@code true} or {@code false}, case-insensitive; {@code key} names the key in errors. */
    public static EpollMode parse(String key, String value) {
        switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto":
            case "":
                return AUTO;
            case "true":
                return ON;
            case "false":
                return OFF;
            default:
                throw new IllegalArgumentException(key + " must be auto, true or false: " + value);
        }
    }
}
