package io.parley.transport.support;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NettyServer} with {@code tls.enabled}: a real echo server on loopback, JDK TLS sockets as clients. */
class NettyServerTlsTest {

    @TempDir
    static Path dir;
    private static TestCertificates.Generated cert;

    private NettyServer server;
    private final AtomicInteger transportActive = new AtomicInteger();
    private final Queue<Throwable> transportExceptions = new ConcurrentLinkedQueue<>();
    private final AtomicInteger transportReads = new AtomicInteger();

    @BeforeAll
    static void generate() throws IOException {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        cert = TestCertificates.localhost(dir);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
        assertNoThreads();
        assertTrue(transportExceptions.isEmpty(), () -> "the transport saw " + transportExceptions);
    }

    @Test
    void tlsClientWithHostnameVerificationTalksToTheTransportInPlaintext() throws Exception {
        start(TlsSettings.of(cert.certPem(), cert.keyPem()), Duration.ofSeconds(5));
        try (SSLSocket socket = tlsClient(cert.trustingContext())) {
            assertEquals("ping", echo(socket, "ping"));
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
        }
        assertEquals(1, transportActive.get());
    }

    @Test
    void plaintextClientIsClosedWithoutReachingTheTransportAndTheServerKeepsServing() throws Exception {
        start(TlsSettings.of(cert.certPem(), cert.keyPem()), Duration.ofSeconds(5));
        try (Socket plain = new Socket()) {
            plain.connect(server.localAddress(), 5_000);
            plain.setSoTimeout(5_000);
            plain.getOutputStream().write(new byte[] {0, 0, 0, 12, 'p', 'l', 'a', 'i', 'n', 't', 'e', 'x', 't',
                    '!', '!', '!'});
            plain.getOutputStream().flush();
            assertClosedByServer(plain.getInputStream());
        }
        assertEquals(0, transportReads.get());
        try (SSLSocket socket = tlsClient(cert.trustingContext())) {
            assertEquals("still here", echo(socket, "still here"));
        }
    }

    @Test
    void clientThatNeverStartsTheHandshakeIsClosedAfterTheHandshakeTimeout() throws Exception {
        start(TlsSettings.of(cert.certPem(), cert.keyPem()), Duration.ofMillis(300));
        try (Socket silent = new Socket()) {
            silent.connect(server.localAddress(), 5_000);
            silent.setSoTimeout(5_000);
            long startedAt = System.nanoTime();
            assertClosedByServer(silent.getInputStream());
            assertTrue(System.nanoTime() - startedAt < Duration.ofSeconds(4).toNanos());
        }
        assertEquals(0, transportReads.get());
    }

    @Test
    void clientNotTrustingTheCertificateFailsTheHandshake() throws Exception {
        start(TlsSettings.of(cert.certPem(), cert.keyPem()), Duration.ofSeconds(5));
        try (SSLSocket socket = tlsClient(SSLContext.getDefault())) {
            assertThrows(SSLHandshakeException.class, socket::startHandshake);
        }
        TestCertificates.Generated other = TestCertificates.generate(dir, "other.example", "dns:other.example");
        try (SSLSocket socket = tlsClient(cert.trustingContext())) {
            assertEquals("ok", echo(socket, "ok"));
        }
        // trusted but issued for another name: hostname verification refuses it
        NettyServer first = server;
        first.stop();
        start(TlsSettings.of(other.certPem(), other.keyPem()), Duration.ofSeconds(5));
        try (SSLSocket socket = tlsClient(other.trustingContext())) {
            assertThrows(SSLHandshakeException.class, socket::startHandshake);
        }
    }

    @Test
    void configuredProtocolsAreTheOnlyOnesOffered() throws Exception {
        start(new TlsSettings(true, cert.certPem(), cert.keyPem(), "", List.of("TLSv1.2")), Duration.ofSeconds(5));
        try (SSLSocket socket = tlsClient(cert.trustingContext())) {
            socket.setEnabledProtocols(new String[] {"TLSv1.3"});
            assertThrows(IOException.class, socket::startHandshake);
        }
        try (SSLSocket socket = tlsClient(cert.trustingContext())) {
            assertEquals("v12", echo(socket, "v12"));
            assertEquals("TLSv1.2", socket.getSession().getProtocol());
        }
    }

    @Test
    void encryptedKeyNeedsTheRightPassword() throws Exception {
        Path encrypted = cert.writeEncryptedKey(dir.resolve("encrypted-key.pem"), "s3cret");
        start(new TlsSettings(true, cert.certPem(), encrypted, "s3cret", TlsSettings.DEFAULT_PROTOCOLS),
                Duration.ofSeconds(5));
        try (SSLSocket socket = tlsClient(cert.trustingContext())) {
            assertEquals("locked", echo(socket, "locked"));
        }
        server.stop();
        server = null;

        IOException wrong = assertThrows(IOException.class, () -> start(
                new TlsSettings(true, cert.certPem(), encrypted, "wrong", TlsSettings.DEFAULT_PROTOCOLS),
                Duration.ofSeconds(5)));
        assertTrue(wrong.getMessage().contains(encrypted.toString()), wrong.getMessage());
        server = null;
    }

    @Test
    void badFilesAndProtocolsFailTheStartWithTheirName() throws Exception {
        Path missing = dir.resolve("missing.pem");
        IOException noCert = assertThrows(IOException.class,
                () -> start(TlsSettings.of(missing, cert.keyPem()), Duration.ofSeconds(5)));
        assertEquals("tls.cert: no such file: " + missing, noCert.getMessage());

        Path notPem = Files.writeString(dir.resolve("not-a-key.pem"), "hello\n");
        IOException badKey = assertThrows(IOException.class,
                () -> start(TlsSettings.of(cert.certPem(), notPem), Duration.ofSeconds(5)));
        assertTrue(badKey.getMessage().contains(notPem.toString()), badKey.getMessage());

        IOException badProtocol = assertThrows(IOException.class, () -> start(
                new TlsSettings(true, cert.certPem(), cert.keyPem(), "", List.of("TLSv9")), Duration.ofSeconds(5)));
        assertTrue(badProtocol.getMessage().startsWith("tls.protocols: TLSv9"), badProtocol.getMessage());
        server = null;
    }

    @Test
    void fromConfigResolvesRelativePathsAgainstTheHome() {
        assertFalse(TlsSettings.fromConfig(false, "", "", "", "", null).enabled());
        assertNull(TlsSettings.fromConfig(false, "a.pem", "b.pem", "", "", "/opt/parley").certChain());

        TlsSettings tls = TlsSettings.fromConfig(true, " conf/tls/cert.pem ", "/etc/key.pem", "pw",
                " TLSv1.3 , ", "/opt/parley");
        assertEquals(Path.of("/opt/parley/conf/tls/cert.pem"), tls.certChain());
        assertEquals(Path.of("/etc/key.pem"), tls.privateKey());
        assertEquals(List.of("TLSv1.3"), tls.protocols());
        assertFalse(tls.toString().contains("pw"), tls.toString());
        assertEquals(TlsSettings.DEFAULT_PROTOCOLS,
                TlsSettings.fromConfig(true, "c", "k", "", "", "").protocols());
        assertEquals(Path.of("c").toAbsolutePath(), TlsSettings.fromConfig(true, "c", "k", "", "", "").certChain());

        IllegalArgumentException noCert = assertThrows(IllegalArgumentException.class,
                () -> TlsSettings.fromConfig(true, "", "k", "", "", null));
        assertTrue(noCert.getMessage().contains("tls.cert"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> TlsSettings.fromConfig(true, "c", " ", "", "", null)).getMessage().contains("tls.key"));
        assertEquals(TlsSettings.disabled(), ServerSettings.builder().build().tls());
    }

    private void start(TlsSettings tls, Duration handshakeTimeout) throws IOException {
        server = new NettyServer("Test", "parley-tlstest", ServerSettings.builder()
                .host("127.0.0.1").port(0).ioThreads(1).epoll(EpollMode.OFF)
                .handshakeTimeout(handshakeTimeout).tls(tls).build());
        server.start(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new Echo());
            }
        }, "echo");
    }

    private SSLSocket tlsClient(SSLContext context) throws IOException {
        InetSocketAddress address = server.localAddress();
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket();
        socket.connect(address, 5_000);
        socket.setSoTimeout(5_000);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(parameters);
        return socket;
    }

    private static String echo(Socket socket, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return new String(socket.getInputStream().readNBytes(bytes.length), StandardCharsets.UTF_8);
    }

    private static void assertClosedByServer(InputStream in) throws IOException {
        try {
            int b;
            do {
                b = in.read();
            } while (b != -1); // a TLS alert may precede the end of stream
        } catch (SocketException e) {
            // a reset is also a close
        }
    }

    private static void assertNoThreads() {
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            assertFalse(thread.getName().startsWith("parley-tlstest"), "left behind: " + thread.getName());
        }
    }

    /** The "transport": echoes what it reads; records what reaches it. */
    private final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            transportActive.incrementAndGet();
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            transportReads.incrementAndGet();
            ctx.writeAndFlush((ByteBuf) msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            transportExceptions.add(cause);
            ctx.close();
        }
    }
}
