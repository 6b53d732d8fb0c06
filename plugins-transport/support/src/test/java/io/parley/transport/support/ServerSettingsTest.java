package io.parley.transport.support;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
