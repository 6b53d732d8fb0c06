package io.parley.transport.tcp.internal;

import io.parley.transport.support.TestReceiver;

import io.netty.util.ResourceLeakDetector;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Notice;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import io.parley.transport.support.TestReceiver.TestSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The TCP transport with {@code tls.enabled=true}: the same framing inside TLS. */
class TcpTlsTest {

    @TempDir
    static Path dir;
    private static TestCertificates.Generated cert;

    private TestReceiver receiver;
    private TcpServer server;
    private final List<TestClient> clients = new ArrayList<>();

    @BeforeAll
    static void generate() throws IOException {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        cert = TestCertificates.localhost(dir);
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (TestClient client : clients) {
            client.close();
        }
        if (server != null) {
            server.stop();
            for (TestSession session : receiver.sessions) {
                assertEquals(1, session.closedCalls.get(), "onClosed calls");
            }
        }
        if (receiver != null) {
            receiver.shutdown();
        }
    }

    @Test
    void helloPingAndReconnectNoticeOverTls() throws Exception {
        start(Duration.ofSeconds(5));
        TestClient client = tlsClient(cert.trustingContext());
        TestSession session = receiver.nextSession();
        client.hello();
        client.pingPong(2);
        assertTrue(session.frames.poll(5, TimeUnit.SECONDS).hasHello());

        CompletableFuture<Void> stopped = CompletableFuture.runAsync(server::stop);
        assertEquals(Notice.Kind.KIND_RECONNECT, client.read().getNotice().getKind());
        client.assertClosedByServer();
        stopped.get(10, TimeUnit.SECONDS);
        session.awaitClosed();
    }

    @Test
    void plaintextClientIsRefusedAndNothingReachesTheCore() throws Exception {
        start(Duration.ofSeconds(5));
        TestClient plain = new TestClient(server.localAddress());
        clients.add(plain);
        TestSession session = receiver.nextSession();
        plain.send(Frame.newBuilder().setRequestId(1)
                .setHello(Hello.newBuilder().setProtocolVersion(1).setToken("t").setDeviceId("d")).build());
        plain.assertClosedByServer();
        session.awaitClosed();
        assertTrue(session.frames.isEmpty(), "the core got " + session.frames);

        TestClient client = tlsClient(cert.trustingContext());
        receiver.nextSession();
        client.hello();
    }

    @Test
    void tlsHandshakeCountsAgainstTheHandshakeTimeout() throws Exception {
        start(Duration.ofMillis(300));
        TestClient silent = new TestClient(server.localAddress());
        clients.add(silent);
        TestSession session = receiver.nextSession();
        silent.assertClosedByServer();
        session.awaitClosed();
    }

    @Test
    void clientThatDoesNotTrustTheCertificateCannotConnect() throws Exception {
        start(Duration.ofSeconds(5));
        try (SSLSocket socket = (SSLSocket) SSLContext.getDefault().getSocketFactory()
                .createSocket("127.0.0.1", server.localAddress().getPort())) {
            socket.setSoTimeout(5_000);
            assertThrows(SSLHandshakeException.class, socket::startHandshake);
        }
        receiver.nextSession().awaitClosed();
    }

    private void start(Duration handshakeTimeout) throws IOException {
        receiver = new TestReceiver(64 * 1024);
        server = new TcpServer(ServerSettings.builder()
                .host("127.0.0.1").port(0).ioThreads(1).epoll(EpollMode.OFF)
                .handshakeTimeout(handshakeTimeout)
                .closeTimeout(Duration.ofMillis(500))
                .tls(TlsSettings.of(cert.certPem(), cert.keyPem()))
                .build(), receiver);
        server.start();
    }

    private TestClient tlsClient(SSLContext context) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory()
                .createSocket("127.0.0.1", server.localAddress().getPort());
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(parameters);
        TestClient client = new TestClient(socket);
        clients.add(client);
        return client;
    }
}
