package io.parley.transport.http;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of PID {@code parley.transport.http}. Method names map to keys with {@code _} read as {@code .}
 * (e.g. {@code admin_token()} is {@code admin.token}). The shipped {@code parley.transport.http.cfg} lists every key.
 * The JWT secret and issuer used by {@code POST /v1/tokens} are not here: they are read from PID
 * {@code parley.auth.jwt}, the authenticator's own configuration.
 */
@ObjectClassDefinition(id = HttpApiComponent.PID, name = "Parley HTTP API",
        description = "JSON API for integrators' servers and bots; admin credential required")
public @interface HttpApiConfig {

    @AttributeDefinition(description = "Address to bind; 127.0.0.1 keeps the admin API on this machine")
    String host() default "127.0.0.1";

    @AttributeDefinition(description = "Port to bind; 0 picks an ephemeral port (see port.file)")
    int port() default 7702;

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "Bearer token every /v1 call must present; "
            + "at least 16 characters; empty disables the API (503)")
    String admin_token() default "";

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "Bearer token GET /metrics must present; "
            + "empty: the admin token")
    String metrics_token() default "";

    @AttributeDefinition(description = "Transports that must be listening for GET /health/ready to answer 200, "
            + "comma-separated (tcp, websocket); empty: none")
    String ready_transports() default "tcp,websocket";

    @AttributeDefinition(description = "Largest request body in bytes; larger requests get 413")
    int max_body_bytes() default 1_048_576;

    @AttributeDefinition(description = "Largest request line, and largest header block, in bytes (414 / 431 beyond)")
    int max_http_request_bytes() default 8192;

    @AttributeDefinition(description = "Milliseconds a call waits for the core before it is answered 504")
    int request_timeout_ms() default 30_000;

    @AttributeDefinition(description = "Seconds a keep-alive connection may stay idle before it is closed; 0 never")
    int idle_timeout_seconds() default 60;

    @AttributeDefinition(description = "Connections open at once; at the limit a new connection replaces the oldest "
            + "one that has not yet presented the admin token, or gets 503 if there is none")
    int max_connections() default 1024;

    @AttributeDefinition(description = "Connections open at once from one client address, with the same replacement "
            + "rule as max.connections")
    int max_connections_per_address() default 256;

    @AttributeDefinition(description = "Milliseconds a request head may take to arrive, from the connection's opening "
            + "or the request's first byte; 408 and close beyond")
    int header_timeout_ms() default 10_000;

    @AttributeDefinition(description = "Milliseconds a request body may take to arrive after its head; the "
            + "connection is closed beyond")
    int body_timeout_ms() default 30_000;

    @AttributeDefinition(description = "Lifetime of a token minted by POST /v1/tokens without ttl_seconds")
    long token_default_ttl_seconds() default 86_400;

    @AttributeDefinition(description = "Longest ttl_seconds POST /v1/tokens accepts")
    long token_max_ttl_seconds() default 2_592_000;

    @AttributeDefinition(description = "I/O threads; 0 means one per available processor")
    int io_threads() default 2;

    @AttributeDefinition(description = "auto: native epoll when available, else NIO; true: require epoll; false: NIO")
    String epoll() default "auto";

    @AttributeDefinition(description = "Listen backlog")
    int so_backlog() default 128;

    @AttributeDefinition(description = "File to write the bound port into after binding; empty for none")
    String port_file() default "";

    @AttributeDefinition(description = "Directory of the web client, served for GET/HEAD outside /v1 without the "
            + "admin token; relative to the server's home directory; empty serves no files")
    String web_root() default "web";

    @AttributeDefinition(description = "Serve HTTPS only, with tls.cert and tls.key")
    boolean tls_enabled() default false;

    @AttributeDefinition(description = "PEM certificate chain; relative to the server's home directory")
    String tls_cert() default "";

    @AttributeDefinition(description = "PEM PKCS#8 private key; relative to the server's home directory")
    String tls_key() default "";

    @AttributeDefinition(type = AttributeType.PASSWORD, description = "Password of an encrypted tls.key; empty for none")
    String tls_key_password() default "";

    @AttributeDefinition(description = "TLS protocol versions offered, comma-separated, most preferred first")
    String tls_protocols() default "TLSv1.3,TLSv1.2";
}
