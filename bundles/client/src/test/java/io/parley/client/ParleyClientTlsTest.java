package io.parley.client;

import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client with {@code tls(true)} against {@link CoreServer} behind the real TCP transport serving TLS. */
class ParleyClientTlsTest {

    @TempDir
    static Path dir;
    private static TestCertificates.Generated localhost;
    private static TestCertificates.Generated otherName;

    private CoreServer server;
    private final List<ParleyClient> clients = new ArrayList<>();
    private final BlockingQueue<String> events = new LinkedBlockingQueue<>();

    @BeforeAll
    static void generate() throws Exception {
        localhost = TestCertificates.localhost(dir);
        otherName = TestCertificates.generate(dir, "chat.example.com", "dns:chat.example.com");
    }

    @AfterEach
    void stop() throws Exception {
        for (ParleyClient c : clients) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void trustedSelfSignedCertificateCarriesTheProtocol() throws Exception {
        server = new CoreServer(tlsOf(localhost));
        BlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient alice = track(builder("alice").trustCertificate(localhost.certPem()).build());
        ParleyClient bob = track(builder("bob").tls(true).trustCertificate(localhost.certPem())
                .messageListener(bobInbox::add).build());
        alice.connect().get(5, TimeUnit.SECONDS);
        bob.connect().get(5, TimeUnit.SECONDS);
        assertEquals(1, alice.sendText("bob", "over tls").get(5, TimeUnit.SECONDS).getSeq());
        Message received = bobInbox.poll(5, TimeUnit.SECONDS);
        assertNotNull(received);
        assertEquals("over tls", Bodies.textOf(received));
        assertEquals("alice:connected", events.poll(5, TimeUnit.SECONDS));
    }

    @Test
    void certificateOutsideTheDefaultTrustStoreIsRejected() throws Exception {
        server = new CoreServer(tlsOf(localhost));
        ParleyClient client = track(builder("alice").tls(true).build());
        ParleyClientException e = connectFailure(client);
        assertTrue(e.getMessage().contains("TLS with 127.0.0.1:" + server.port() + " failed"), e.getMessage());
        assertTrue(e.getMessage().contains("PKIX"), e.getMessage());
        assertEquals("alice:disconnected:CONNECT_FAILED:false", events.poll(5, TimeUnit.SECONDS));
        assertEquals(0, server.hellos.get());
    }

    @Test
    void trustedCertificateForAnotherNameFailsHostnameVerification() throws Exception {
        server = new CoreServer(tlsOf(otherName));
        ParleyClient client = track(builder("alice").trustCertificate(otherName.certPem()).build());
        ParleyClientException e = connectFailure(client);
        assertTrue(e.getMessage().contains("No subject alternative names matching IP address 127.0.0.1"),
                e.getMessage());
        assertEquals(0, server.hellos.get());
    }

    @Test
    void tlsClientAgainstAPlaintextPortFailsClearly() throws Exception {
        // a plaintext peer that answers anything with a few non-TLS bytes, like a length-prefixed error frame
        try (java.net.ServerSocket plain = new java.net.ServerSocket(0, 5,
                java.net.InetAddress.getLoopbackAddress())) {
            Thread answer = new Thread(() -> {
                try (java.net.Socket s = plain.accept()) {
                    s.getInputStream().read(new byte[512]);
                    s.getOutputStream().write(new byte[] {0, 0, 0, 5, 0x12, 0x03, 0x08, 0x01, 0x10});
                    s.getOutputStream().flush();
                    s.getInputStream().read();
                } catch (java.io.IOException ignored) {
                    // the client closed first
                }
            }, "plaintext-peer");
            answer.start();
            ParleyClient client = track(ParleyClient.builder().port(plain.getLocalPort()).deviceId("d")
                    .token("alice").requestTimeout(Duration.ofSeconds(3))
                    .trustCertificate(localhost.certPem()).build());
            ParleyClientException e = connectFailure(client);
            assertTrue(e.getMessage().contains("did not answer with TLS"), e.getMessage());
            answer.join(5_000);
        }
    }

    @Test
    void unreadableTrustFileFailsTheBuild() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> builder("alice").trustCertificate(dir.resolve("missing.pem")).build());
        assertTrue(e.getMessage().contains("missing.pem"), e.getMessage());
        IllegalArgumentException notPem = assertThrows(IllegalArgumentException.class,
                () -> builder("alice").trustCertificate(localhost.keyPem()).build());
        assertTrue(notPem.getMessage().contains(localhost.keyPem().toString()), notPem.getMessage());
    }

    private static TlsSettings tlsOf(TestCertificates.Generated cert) {
        return TlsSettings.of(cert.certPem(), cert.keyPem());
    }

    private ParleyClientException connectFailure(ParleyClient client) {
        CompletionException e = assertThrows(CompletionException.class,
                () -> client.connect().orTimeout(5, TimeUnit.SECONDS).join());
        return assertInstanceOf(ParleyClientException.class, e.getCause());
    }

    private ParleyClient.Builder builder(String user) {
        return ParleyClient.builder().port(server == null ? 1 : server.port()).deviceId(user + "-1").token(user)
                .requestTimeout(Duration.ofSeconds(3))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .ackDelay(Duration.ofMillis(5))
                .connectionListener(new ConnectionListener() {
                    @Override
                    public void onConnected(HelloOk session) {
                        events.add(user + ":connected");
                    }

                    @Override
                    public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                        events.add(user + ":disconnected:" + reason + ":" + willRetry);
                    }
                });
    }

    private ParleyClient track(ParleyClient client) {
        clients.add(client);
        return client;
    }
}
