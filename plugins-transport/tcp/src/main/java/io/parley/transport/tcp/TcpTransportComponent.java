package io.parley.transport.tcp;

import io.parley.core.spi.transport.Receiver;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TlsSettings;
import io.parley.transport.tcp.internal.TcpServer;
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
 * OSGi boundary of the TCP transport: runs one {@link TcpServer} while the core's {@link Receiver} is present.
 *
 * <p>The reference to {@code Receiver} is static and mandatory: when the core goes away (or the configuration
 * changes) SCR deactivates this component, which tells every client to reconnect and closes it, then shuts the
 * event loops down before returning. Publishes {@code ListeningTransport} (tcp) while active, for readiness.
 */
@Component(name = TcpTransportComponent.PID, configurationPid = TcpTransportComponent.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true,
        service = io.parley.core.spi.ops.ListeningTransport.class,
        property = io.parley.core.spi.ops.ListeningTransport.TRANSPORT + "=tcp") // readiness: listening while active
@Designate(ocd = TcpTransportConfig.class)
public final class TcpTransportComponent implements io.parley.core.spi.ops.ListeningTransport {

    /** Configuration PID and component name. */
    public static final String PID = "parley.transport.tcp";

    private final TcpServer server;

    @Activate
    public TcpTransportComponent(@Reference Receiver receiver, TcpTransportConfig config) throws IOException {
        server = new TcpServer(settings(config), receiver);
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

    static ServerSettings settings(TcpTransportConfig config) {
        String portFile = config.port_file().trim();
        return ServerSettings.builder()
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
    }
}
