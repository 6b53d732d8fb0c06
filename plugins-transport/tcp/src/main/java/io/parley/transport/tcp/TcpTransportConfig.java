package io.parley.transport.tcp;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of PID {@code parley.transport.tcp}. Method names map to keys with {@code _} read as {@code .}
 * (e.g. {@code io_threads()} is {@code io.threads}). The shipped {@code parley.transport.tcp.cfg} lists every key.
 */
@ObjectClassDefinition(name = "Parley TCP transport",
        description = "Length-prefixed protobuf frames over TCP")
public @interface TcpTransportConfig {

    @AttributeDefinition(description = "Address to bind; 0.0.0.0 for every interface")
    String host() default "0.0.0.0";

    @AttributeDefinition(description = "Port to bind; 0 picks an ephemeral port (see port.file)")
    int port() default 7700;

    @AttributeDefinition(description = "I/O threads; 0 means one per available processor")
    int io_threads() default 0;

    @AttributeDefinition(description = "auto: native epoll when available, else NIO; true: require epoll; false: NIO")
    String epoll() default "auto";

    @AttributeDefinition(description = "auto: native io_uring when available, else as epoll says; true: require "
            + "io_uring; false: never io_uring")
    String io_uring() default "false";

    @AttributeDefinition(description = "Seconds a connection has to send a successful hello")
    int handshake_timeout_seconds() default 10;

    @AttributeDefinition(description = "Seconds without a complete frame from the client before closing; 0 disables")
    int idle_timeout_seconds() default 90;

    @AttributeDefinition(description = "Per-connection cap on pending outbound bytes; past it the client is a slow "
            + "consumer and is closed")
    int outbound_max_bytes() default 4 * 1024 * 1024;

    @AttributeDefinition(description = "Connections open at once; more are refused with a retryable error")
    int max_connections() default 20_000;

    @AttributeDefinition(description = "Listen backlog")
    int so_backlog() default 1024;

    @AttributeDefinition(description = "TCP_NODELAY on client connections")
    boolean tcp_nodelay() default true;

    @AttributeDefinition(description = "reconnect_after_ms sent to clients when the transport stops")
    int reconnect_after_ms() default 1000;

    @AttributeDefinition(description = "Milliseconds a closing connection may take to write its last frame")
    int close_timeout_ms() default 2000;

    @AttributeDefinition(description = "File to write the bound port into after binding; empty for none")
    String port_file() default "";

    @AttributeDefinition(description = "Accept only TLS connections, with tls.cert and tls.key")
    boolean tls_enabled() default false;

    @AttributeDefinition(description = "PEM certificate chain (server certificate first); relative to parley.home")
    String tls_cert() default "";

    @AttributeDefinition(description = "PEM PKCS#8 private key of the certificate; relative to parley.home")
    String tls_key() default "";

    @AttributeDefinition(description = "Password of an encrypted tls.key; empty for an unencrypted key",
            type = AttributeType.PASSWORD)
    String tls_key_password() default "";

    @AttributeDefinition(description = "TLS protocol versions offered, comma-separated")
    String tls_protocols() default "TLSv1.3,TLSv1.2";
}
