package io.parley.transport.http;

import io.parley.auth.jwt.JwtTokens;
import io.parley.core.spi.blob.BlobStore;
import io.parley.core.spi.transport.Receiver;
import io.parley.transport.http.internal.BlobSettings;
import io.parley.transport.http.internal.HttpApiServer;
import io.parley.transport.http.internal.HttpApiSettings;
import io.parley.transport.http.internal.TokenIssuer;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TlsSettings;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * OSGi boundary of the HTTP API: runs one {@link HttpApiServer} from activation to deactivation.
 *
 * <p>Configuration: PID {@value #PID} ({@link HttpApiConfig}), merged with PID {@value #JWT_PID}, whose
 * {@code secret} and {@code issuer} keys are the JWT authenticator's own: {@code POST /v1/tokens} mints with them, so
 * its tokens are exactly those the authenticator accepts, and there is one secret to keep; and with PID
 * {@value #BLOB_PID} ({@code conf/parley.blob.cfg}, the file types' own), whose {@code ticket.secret},
 * {@code upload.chunk.max.bytes}, {@code upload.dir}, {@code upload.max.concurrent} and {@code blob.target} configure
 * the blob endpoints ({@link BlobSettings}). A change to any of them restarts the server. (Several PIDs rule out a
 * metatype {@code @Designate}; {@link HttpApiConfig} is the OCD of {@value #PID}; the other PIDs' keys are read from
 * the merged properties and documented in their own files.)
 *
 * <p>The {@link Receiver} reference is optional, dynamic and greedy, so the API keeps listening while the core
 * restarts: {@code /health} then answers 503, and calls a retryable 503. So is the {@link BlobStore} reference
 * {@value #BLOB_REFERENCE} (target {@code blob.target}, by default the {@code fs} store): without one {@code /blobs}
 * answers a retryable 503; a swap does not restart the server. Publishes no service.
 */
@Component(name = HttpApiComponent.PID, configurationPid = {HttpApiComponent.PID, HttpApiComponent.JWT_PID,
        HttpApiComponent.BLOB_PID}, configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true,
        service = {})
public final class HttpApiComponent {

    /** Configuration PID and component name. */
    public static final String PID = "parley.transport.http";
    /** The JWT authenticator's PID, read for {@code secret} and {@code issuer}. */
    public static final String JWT_PID = "parley.auth.jwt";
    /** The blob configuration (shared with the file types), read for the blob endpoints. */
    public static final String BLOB_PID = "parley.blob";
    /** The name of the {@link BlobStore} reference: its target is configuration key {@code blob.target}. */
    public static final String BLOB_REFERENCE = "blob";
    /** The store bound unless {@code blob.target} says otherwise. */
    public static final String DEFAULT_BLOB_TARGET = "(" + BlobStore.NAME + "=fs)";

    private static final Logger LOG = LoggerFactory.getLogger(HttpApiComponent.class);

    private final HttpApiServer server;

    @Activate
    public HttpApiComponent(HttpApiConfig config, Map<String, Object> properties) throws IOException {
        TokenIssuer tokens = tokenIssuer(config, properties);
        if (tokens.unavailableReason() != null) {
            LOG.warn("POST /v1/tokens will answer 503: {}", tokens.unavailableReason());
        }
        server = new HttpApiServer(settings(config), tokens, BlobSettings.fromProperties(properties));
        server.ops().useMetricsToken(config.metrics_token());
        server.ops().requireTransports(config.ready_transports());
        server.start();
    }

    /** Called by SCR after the constructor (so {@link #server} is set), and again whenever a better core appears. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindReceiver(Receiver receiver) {
        server.bindReceiver(receiver);
    }

    void unbindReceiver(Receiver receiver) {
        server.unbindReceiver(receiver);
    }

    /** Called by SCR after the constructor, and again whenever a better store appears. */
    @Reference(name = BLOB_REFERENCE, service = BlobStore.class, cardinality = ReferenceCardinality.OPTIONAL,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY, target = DEFAULT_BLOB_TARGET,
            unbind = "unbindBlob")
    void bindBlob(BlobStore store) {
        server.bindBlobStore(store);
    }

    void unbindBlob(BlobStore store) {
        server.unbindBlobStore(store);
    }

    /** {@code GET /metrics} serves it; 503 while none is bound (no metrics bundle deployed). */
    @Reference(name = "metrics", service = io.parley.core.spi.ops.MetricsExposition.class,
            cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindMetrics")
    void bindMetrics(io.parley.core.spi.ops.MetricsExposition exposition) {
        server.ops().bindExposition(exposition);
    }

    void unbindMetrics(io.parley.core.spi.ops.MetricsExposition exposition) {
        server.ops().unbindExposition(exposition);
    }

    /** {@code GET /health/live} and {@code /health/ready} probe the core's engine through it. */
    @Reference(name = "liveness", service = io.parley.core.spi.ops.Liveness.class,
            cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindLiveness")
    void bindLiveness(io.parley.core.spi.ops.Liveness liveness) {
        server.ops().bindLiveness(liveness);
    }

    void unbindLiveness(io.parley.core.spi.ops.Liveness liveness) {
        server.ops().unbindLiveness(liveness);
    }

    /** The core's operator view, for the admin endpoints (/v1/sessions, /v1/stores, /v1/stats); 503 without it. */
    @Reference(name = "serverAdmin", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindServerAdmin")
    void bindServerAdmin(io.parley.core.spi.admin.ServerAdmin admin) {
        server.bindServerAdmin(admin);
    }

    void unbindServerAdmin(io.parley.core.spi.admin.ServerAdmin admin) {
        server.unbindServerAdmin(admin);
    }

    /** The admin bundle's bundle management, for /v1/bundles; 503 without it. */
    @Reference(name = "deployments", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindDeployments")
    void bindDeployments(io.parley.core.spi.admin.Deployments deployments) {
        server.bindDeployments(deployments);
    }

    void unbindDeployments(io.parley.core.spi.admin.Deployments deployments) {
        server.unbindDeployments(deployments);
    }

    /** Readiness: the transports listening now (each registers one while its component is active). */
    @Reference(name = "listening", service = io.parley.core.spi.ops.ListeningTransport.class,
            cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindListening")
    void bindListening(io.parley.core.spi.ops.ListeningTransport transport, Map<String, Object> props) {
        server.ops().transportUp(transport,
                String.valueOf(props.get(io.parley.core.spi.ops.ListeningTransport.TRANSPORT)));
    }

    void unbindListening(io.parley.core.spi.ops.ListeningTransport transport) {
        server.ops().transportDown(transport);
    }

    @Deactivate
    void deactivate() {
        server.stop();
    }

    static HttpApiSettings settings(HttpApiConfig config) {
        String portFile = config.port_file().trim();
        ServerSettings server = ServerSettings.builder()
                .host(config.host().trim())
                .port(config.port())
                .ioThreads(config.io_threads())
                .epoll(EpollMode.parse(config.epoll()))
                .idleTimeout(Duration.ofSeconds(config.idle_timeout_seconds()))
                .maxConnections(config.max_connections())
                .soBacklog(config.so_backlog())
                .portFile(portFile.isEmpty() ? null : Path.of(portFile))
                .tls(TlsSettings.fromConfig(config.tls_enabled(), config.tls_cert(), config.tls_key(),
                        config.tls_key_password(), config.tls_protocols(), System.getProperty("parley.home")))
                .build();
        return new HttpApiSettings(server, config.admin_token().trim(), config.max_body_bytes(),
                config.max_http_request_bytes(), Duration.ofMillis(config.request_timeout_ms()),
                webRoot(config.web_root(), System.getProperty("parley.home")),
                Duration.ofMillis(config.header_timeout_ms()), Duration.ofMillis(config.body_timeout_ms()),
                config.max_connections_per_address());
    }

    /** @return the web client's directory: relative paths resolve against the server's home; empty means none */
    static Path webRoot(String configured, String home) {
        String root = configured.trim();
        if (root.isEmpty()) {
            return null;
        }
        Path path = Path.of(root);
        return path.isAbsolute() || home == null ? path : Path.of(home).resolve(path);
    }

    static TokenIssuer tokenIssuer(HttpApiConfig config, Map<String, Object> properties) {
        Object secret = properties.get("secret");
        Object issuer = properties.get("issuer");
        Object maxLifetime = properties.get("max.lifetime.seconds");
        Duration lifetime = JwtTokens.DEFAULT_MAX_LIFETIME;
        if (maxLifetime != null) {
            try {
                lifetime = Duration.ofSeconds(Long.parseLong(maxLifetime.toString().trim()));
            } catch (NumberFormatException e) {
                // the authenticator refuses the same value and logs it; mint within the default meanwhile
            }
        }
        return TokenIssuer.create(secret == null ? null : secret.toString(), issuer == null ? null : issuer.toString(),
                lifetime, Duration.ofSeconds(config.token_default_ttl_seconds()),
                Duration.ofSeconds(config.token_max_ttl_seconds()));
    }
}
