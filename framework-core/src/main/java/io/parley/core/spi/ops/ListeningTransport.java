package io.parley.core.spi.ops;

import org.osgi.annotation.versioning.ProviderType;

import java.net.InetSocketAddress;

/**
 * Registered by a transport while it listens (its component is active, which it is only once its socket is bound),
 * with the service property {@value #TRANSPORT} naming it ({@code tcp}, {@code websocket}). {@code GET /health/ready}
 * is 503 while a transport named in the HTTP transport's {@code ready.transports} has none registered.
 */
@ProviderType
public interface ListeningTransport {

    /** Service property: the transport's name, e.g. {@code tcp}. */
    String TRANSPORT = "parley.transport";

    /** @return the address the transport is bound to */
    InetSocketAddress address();
}
