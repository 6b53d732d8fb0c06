package io.parley.transport.support;

import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Server settings that select one I/O transport, for tests that run the same exchange over each. */
public final class IoChoice {

    private IoChoice() {
    }

    /**
     * Settings that select {@code transport}: {@code nio}, {@code epoll} or {@code io_uring}. A native transport must be
     * available on Linux x86-64 (the project's CI machines, whose kernels allow io_uring), so its absence fails the
     * test there; elsewhere it skips it.
     */
    public static Consumer<ServerSettings.Builder> io(String transport) {
        switch (transport) {
            case "epoll" -> {
                requireNative(IoTransport.epollAvailable(), transport);
                return s -> s.epoll(EpollMode.ON).ioUring(EpollMode.OFF);
            }
            case "io_uring" -> {
                requireNative(IoTransport.ioUringAvailable(), transport);
                return s -> s.epoll(EpollMode.OFF).ioUring(EpollMode.ON);
            }
            case "nio" -> {
                return s -> s.epoll(EpollMode.OFF).ioUring(EpollMode.OFF);
            }
            default -> throw new IllegalArgumentException(transport);
        }
    }

    private static void requireNative(boolean available, String transport) {
        boolean linuxX64 = System.getProperty("os.name").startsWith("Linux")
                && System.getProperty("os.arch").matches("amd64|x86_64");
        if (linuxX64) {
            assertTrue(available, "native " + transport + " unavailable on Linux x86-64");
        } else {
            assumeTrue(available, "native " + transport + " unavailable");
        }
    }
}
