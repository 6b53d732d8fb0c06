package io.parley.transport.support;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Server-side TLS of a transport: the {@code tls.*} configuration keys every Netty transport shares. Immutable.
 * When {@link #enabled()}, {@link NettyServer} puts an {@code SslHandler} first in every connection's pipeline, so
 * the transport's own handlers only ever see plaintext.
 *
 * @param enabled     whether the transport serves TLS (and only TLS)
 * @param certChain   PEM file holding the server certificate followed by any intermediates; null when disabled
 * @param privateKey  PEM file holding the PKCS#8 private key of the first certificate ({@code BEGIN PRIVATE KEY},
 *                    or {@code BEGIN ENCRYPTED PRIVATE KEY} with {@link #keyPassword()}); null when disabled
 * @param keyPassword password of an encrypted private key; empty for an unencrypted one
 * @param protocols   protocol versions to offer, e.g. {@code TLSv1.3}; never empty when enabled
 */
public record TlsSettings(boolean enabled, Path certChain, Path privateKey, String keyPassword,
                          List<String> protocols) {

    /** The default of {@code tls.protocols}. */
    public static final List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private static final TlsSettings DISABLED = new TlsSettings(false, null, null, "", DEFAULT_PROTOCOLS);

    public TlsSettings {
        Objects.requireNonNull(keyPassword, "keyPassword");
        protocols = List.copyOf(Objects.requireNonNull(protocols, "protocols"));
        if (enabled) {
            if (certChain == null) {
                throw new IllegalArgumentException("tls.enabled=true needs tls.cert (a PEM certificate chain file)");
            }
            if (privateKey == null) {
                throw new IllegalArgumentException("tls.enabled=true needs tls.key (a PEM PKCS#8 private key file)");
            }
            if (protocols.isEmpty()) {
                throw new IllegalArgumentException("tls.protocols must name at least one protocol, e.g. TLSv1.3");
            }
        }
    }

    /** Plaintext: the default. */
    public static TlsSettings disabled() {
        return DISABLED;
    }

    /** TLS with an unencrypted key and the {@linkplain #DEFAULT_PROTOCOLS default protocols}. */
    public static TlsSettings of(Path certChain, Path privateKey) {
        return new TlsSettings(true, certChain, privateKey, "", DEFAULT_PROTOCOLS);
    }

    /**
     * Builds the settings from the raw {@code tls.*} configuration values. Surrounding blanks are trimmed;
     * relative paths are resolved against {@code home} ({@code parley.home}) or, when that is null or empty,
     * against the working directory. When {@code enabled} is false the other values are not checked.
     *
     * @param protocols comma-separated protocol versions; empty means {@link #DEFAULT_PROTOCOLS}
     * @throws IllegalArgumentException if TLS is enabled and the certificate or key path is empty
     */
    public static TlsSettings fromConfig(boolean enabled, String cert, String key, String keyPassword,
                                         String protocols, String home) {
        if (!enabled) {
            return DISABLED;
        }
        List<String> parsed = new ArrayList<>();
        for (String p : protocols.split(",")) {
            if (!p.isBlank()) {
                parsed.add(p.trim());
            }
        }
        return new TlsSettings(true, resolve(cert, home), resolve(key, home), keyPassword,
                parsed.isEmpty() ? DEFAULT_PROTOCOLS : parsed);
    }

    private static Path resolve(String value, String home) {
        String trimmed = value == null ? "" : value.trim();
        if (trimmed.isEmpty()) {
            return null;
        }
        Path path = Path.of(trimmed);
        if (path.isAbsolute()) {
            return path;
        }
        return (home == null || home.isBlank() ? Path.of("") : Path.of(home)).resolve(path).toAbsolutePath();
    }

    /**
     * Loads the certificate chain and key and builds a server context on the JDK's TLS implementation. Every call
     * reads the files again. Also checks that the JDK supports every configured protocol, so a typo fails here
     * rather than on each connection.
     *
     * @throws IllegalStateException if TLS is not enabled
     * @throws IOException           naming the file and the reason if a file is missing, unreadable or invalid,
     *                               or if a protocol is not supported
     */
    public SslContext newServerContext() throws IOException {
        if (!enabled) {
            throw new IllegalStateException("TLS is not enabled");
        }
        requireReadable(certChain, "tls.cert");
        requireReadable(privateKey, "tls.key");
        Set<String> supported;
        try {
            supported = Set.of(SSLContext.getDefault().getSupportedSSLParameters().getProtocols());
        } catch (GeneralSecurityException e) {
            throw new IOException("TLS: the JDK has no default SSLContext", e);
        }
        for (String protocol : protocols) {
            if (!supported.contains(protocol)) {
                throw new IOException("tls.protocols: " + protocol + " is not supported by this JDK (supported: "
                        + String.join(",", supported) + ")");
            }
        }
        SslContext context;
        try {
            context = SslContextBuilder
                    .forServer(certChain.toFile(), privateKey.toFile(), keyPassword.isEmpty() ? null : keyPassword)
                    .sslProvider(SslProvider.JDK)
                    .protocols(protocols)
                    .build();
        } catch (IOException | RuntimeException e) {
            throw new IOException("TLS: cannot load certificate chain " + certChain + " with key " + privateKey
                    + " (PEM certificate(s), PKCS#8 key; is tls.key.password right?): " + rootMessage(e), e);
        }
        SSLEngine probe = context.newEngine(ByteBufAllocator.DEFAULT);
        if (!Arrays.asList(probe.getEnabledProtocols()).containsAll(protocols)) {
            throw new IOException("tls.protocols: " + protocols + " not all enabled (enabled: "
                    + String.join(",", probe.getEnabledProtocols()) + "); check jdk.tls.disabledAlgorithms");
        }
        return context;
    }

    /** For log lines: {@code "TLS (TLSv1.3,TLSv1.2)"} or {@code "plaintext"}. */
    public String describe() {
        return enabled ? "TLS (" + String.join(",", protocols) + ")" : "plaintext";
    }

    /** Hides the key password. */
    @Override
    public String toString() {
        return "TlsSettings[enabled=" + enabled + ", certChain=" + certChain + ", privateKey=" + privateKey
                + ", keyPassword=" + (keyPassword.isEmpty() ? "" : "***") + ", protocols=" + protocols + "]";
    }

    private static void requireReadable(Path file, String key) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(key + ": no such file: " + file);
        }
        if (!Files.isReadable(file)) {
            throw new IOException(key + ": not readable by this process: " + file);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + t + ")";
    }
}
