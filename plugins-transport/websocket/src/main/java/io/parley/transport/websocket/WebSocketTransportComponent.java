package io.parley.transport.websocket;

import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TlsSettings;
import io.parley.transport.websocket.internal.OriginPolicy;
import io.parley.transport.websocket.internal.WebSocketServer;
import io.parley.transport.websocket.internal.WebSocketSettings;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * OSGi boundary of the WebSocket transport: runs one {@link WebSocketServer} while the core's {@link Receiver} is
 * present.
 *
 * <p>The reference to {@code Receiver} is static and mandatory: when the core goes away (or the configuration
 * changes) SCR deactivates this component, which sends every client {@code Notice{KIND_RECONNECT}} and close 1001,
 * then shuts the event loops down before returning. Publishes {@code ListeningTransport} (websocket) while active,
 * for readiness.
 */
@Component(name = WebSocketTransportComponent.PID, configurationPid = WebSocketTransportComponent.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true,
        service = io.parley.core.spi.ops.ListeningTransport.class,
        property = io.parley.core.spi.ops.ListeningTransport.TRANSPORT + "=websocket") // readiness: listening while active
@Designate(ocd = WebSocketTransportConfig.class)
public final class WebSocketTransportComponent implements io.parley.core.spi.ops.ListeningTransport {

    /** Configuration PID and component name. */
    public static final String PID = "parley.transport.websocket";

    private final WebSocketServer server;

    @Activate
    public WebSocketTransportComponent(@Reference Receiver receiver, WebSocketTransportConfig config)
            throws IOException {
        server = new WebSocketServer(settings(config), receiver);
        server.start();
    }

    @Deactivate
    void deactivate() {
        server.stop();
    }

    @Override
    public java.net.InetSocketAddress address() {
        return server.localAddress();
    }

    static WebSocketSettings settings(WebSocketTransportConfig config) {
        String portFile = config.port_file().trim();
        ServerSettings server = ServerSettings.builder()
                .host(config.host().trim())
                .port(config.port())
                .ioThreads(config.io_threads())
                .epoll(EpollMode.parse(config.epoll()))
                .ioUring(EpollMode.parse("io.uring", config.io_uring()))
                .handshakeTimeout(Duration.ofSeconds(config.handshake_timeout_seconds()))
                .idleTimeout(Duration.ofSeconds(config.idle_timeout_seconds()))
                .outboundMaxBytes(config.outbound_max_bytes())
                .maxConnections(config.max_connections())
                .soBacklog(config.so_backlog())
                .tcpNoDelay(config.tcp_nodelay())
                .reconnectAfterMs(config.reconnect_after_ms())
                .closeTimeout(Duration.ofMillis(config.close_timeout_ms()))
                .portFile(portFile.isEmpty() ? null : Path.of(portFile))
                .tls(TlsSettings.fromConfig(config.tls_enabled(), config.tls_cert(), config.tls_key(),
                        config.tls_key_password(), config.tls_protocols(), System.getProperty("parley.home")))
                .build();
        return new WebSocketSettings(server, config.path().trim(), OriginPolicy.parse(config.allowed_origins()),
                config.max_http_request_bytes());
    }
}
