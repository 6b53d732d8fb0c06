package io.parley.transport.support;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServerSettingsTest {

    @Test
    void epollModeParsesTheConfigValues() {
        assertEquals(EpollMode.AUTO, EpollMode.parse(" Auto "));
        assertEquals(EpollMode.AUTO, EpollMode.parse(""));
        assertEquals(EpollMode.ON, EpollMode.parse("TRUE"));
        assertEquals(EpollMode.OFF, EpollMode.parse("false"));
        assertThrows(IllegalArgumentException.class, () -> EpollMode.parse("yes"));
    }

    @Test
    void ioUringIsUsedOnlyWhenConfigured() {
        assertEquals(EpollMode.OFF, ServerSettings.builder().build().ioUring(), "off unless configured");
        assertEquals("nio", IoTransport.select(EpollMode.OFF, EpollMode.OFF).name());
        assertEquals("nio", IoTransport.select(EpollMode.OFF, EpollMode.AUTO).name(),
                "auto falls back to what epoll says when io_uring is unavailable (its native library is not on this "
                        + "module's class path)");
        IllegalStateException unavailable = assertThrows(IllegalStateException.class,
                () -> IoTransport.select(EpollMode.OFF, EpollMode.ON));
        assertTrue(unavailable.getMessage().startsWith("io.uring=true but native io_uring is unavailable"),
                unavailable.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EpollMode.parse("io.uring", "yes"));
        assertEquals("io.uring must be auto, true or false: yes", e.getMessage());
    }

    @Test
    void nioIsAlwaysAvailable() {
        assertEquals("nio", IoTransport.select(EpollMode.OFF).name());
    }

    @Test
    void invalidValuesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ServerSettings.builder().port(70_000).build());
        assertThrows(IllegalArgumentException.class,
                () -> ServerSettings.builder().handshakeTimeout(Duration.ZERO).build());
        assertThrows(IllegalArgumentException.class, () -> ServerSettings.builder().outboundMaxBytes(0).build());
        assertThrows(IllegalArgumentException.class, () -> ServerSettings.builder().maxConnections(0).build());
        assertEquals(4 * 1024 * 1024, ServerSettings.builder().build().outboundMaxBytes());
    }
}
