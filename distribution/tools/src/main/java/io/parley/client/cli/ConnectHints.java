package io.parley.client.cli;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;

/**
 * Turns the ways a first connection fails into sentences a newcomer can act on: nothing listening ("is the server
 * running?") and a plaintext client at a TLS-only transport, which the server drops without a word (the client
 * would otherwise reconnect forever).
 */
final class ConnectHints {
    private ConnectHints() {
    }

    /** Where a client connects: host and port, from {@code --url} or {@code --host}/{@code --port}. */
    record Address(String host, int port) {
        static Address of(String url, String host, int port) {
            if (url == null) {
                return new Address(host, port);
            }
            URI u = URI.create(url.strip());
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
            int p = u.getPort() >= 0 ? u.getPort() : scheme.equals("ws") ? 80 : scheme.equals("wss") ? 443 : -1;
            return new Address(u.getHost(), p);
        }

        @Override
        public String toString() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /**
     * @return true if nothing accepted the connection: a {@link ConnectException} among the causes, or named in a
     *     message (the client reports a failed connect as its own exception whose message quotes Netty's)
     */
    static boolean refused(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (t instanceof ConnectException || (m != null && (m.contains("ConnectException")
                    || m.contains("Connection refused")))) {
                return true;
            }
        }
        return false;
    }

    /** @return a sentence for a failed first connection whose cause is {@code failure}, never null */
    static String explain(Throwable failure, Address address) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (refused(t)) {
                return "nothing listens at " + address + ": is the server running (bin/parley status), and is this "
                        + "its port (conf/parley.transport.tcp.cfg, or the WebSocket transport's with --url ws://...)?";
            }
        }
        Throwable root = failure;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }

    /**
     * Opens a TLS connection to {@code address} accepting any certificate, only to learn whether the server speaks
     * TLS there; sends no application data.
     *
     * @return true if a TLS handshake completed within {@code timeoutMillis}
     */
    static boolean speaksTls(Address address, int timeoutMillis) {
        if (address.host() == null || address.port() <= 0) {
            return false;
        }
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new AnyCertificate()}, null);
            try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
                socket.connect(new InetSocketAddress(address.host(), address.port()), timeoutMillis);
                socket.setSoTimeout(timeoutMillis);
                socket.startHandshake();
                return true;
            }
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    /** The hint for a plaintext client at a TLS-only address. */
    static String tlsHint(Address address, boolean webSocket) {
        return address + " only accepts TLS: connect with " + (webSocket ? "--url wss://" + address + "/parley"
                : "--tls (or --url tls://" + address + ")") + ", and --trust conf/tls/cert.pem when the server uses "
                + "the development certificate of bin/parley cert";
    }

    /** Trusts every certificate: used only to detect TLS, never for a connection that carries data. */
    private static final class AnyCertificate implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
