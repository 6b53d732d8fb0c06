package io.parley.transport.tcp;

import io.parley.core.testing.ComponentConfigs;
import io.parley.core.api.Principal;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.Connection;
import io.parley.core.spi.InboundSession;
import io.parley.core.spi.Receiver;
import io.parley.transport.support.TestCertificates;
import io.parley.transport.support.TlsSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLSocket;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS boundary without a framework: the shipped .cfg matches the config type, and activate/deactivate work. */
class TcpTransportComponentTest {

    private static final Path SHIPPED_CFG = Path.of("src/main/conf/parley.transport.tcp.cfg");

    @Test
    void shippedCfgListsEveryKeyWithItsDefault() throws IOException {
        ComponentConfigs.assertShippedCfg(TcpTransportConfig.class, SHIPPED_CFG);
    }

    @Test
    void activateListensAndDeactivateTellsClientsToReconnect(@TempDir Path dir) throws Exception {
        Path portFile = dir.resolve("tcp.port");
        CountDownLatch opened = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Receiver receiver = receiver(opened, closed);
        TcpTransportComponent component = new TcpTransportComponent(receiver, config(Map.of(
                "host", "127.0.0.1", "port", 0, "io.threads", 1, "reconnect.after.ms", 250,
                "port.file", portFile.toString())));
        try {
            int port = Integer.parseInt(Files.readString(portFile).trim());
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.setSoTimeout(5_000);
                assertTrue(opened.await(5, TimeUnit.SECONDS));
                // the handshake timeout is 10 s, so only the deactivation can produce a frame here
                Thread stopper = new Thread(component::deactivate, "test-deactivate");
                component = null;
                stopper.start();
                DataInputStream in = new DataInputStream(socket.getInputStream());
                byte[] body = in.readNBytes(in.readInt());
                Notice notice = Frame.parseFrom(body).getNotice();
                assertEquals(Notice.Kind.KIND_RECONNECT, notice.getKind());
                assertEquals(250, notice.getReconnectAfterMs());
                assertEquals(-1, in.read());
                stopper.join(10_000);
                assertFalse(stopper.isAlive());
            }
            assertTrue(closed.await(5, TimeUnit.SECONDS));
            assertFalse(Files.exists(portFile));
        } finally {
            if (component != null) {
                component.deactivate();
            }
        }
    }

    @Test
    void tlsKeysResolveAgainstParleyHomeAndServeTls(@TempDir Path home) throws Exception {
        Path tlsDir = Files.createDirectories(home.resolve("conf/tls"));
        TestCertificates.Generated cert = TestCertificates.localhost(tlsDir);
        Path portFile = home.resolve("tcp.port");
        Map<String, Object> properties = Map.of("host", "127.0.0.1", "port", 0, "io.threads", 1,
                "port.file", portFile.toString(), "tls.enabled", true,
                "tls.cert", "conf/tls/" + cert.certPem().getFileName(), "tls.key", cert.keyPem().toString(),
                "tls.protocols", "TLSv1.3");
        assertFalse(TcpTransportComponent.settings(config(Map.of())).tls().enabled());
        CountDownLatch opened = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        String previousHome = System.getProperty("parley.home");
        System.setProperty("parley.home", home.toString());
        TcpTransportComponent component;
        try {
            assertEquals(new TlsSettings(true, cert.certPem(), cert.keyPem(), "", List.of("TLSv1.3")),
                    TcpTransportComponent.settings(config(properties)).tls());
            component = new TcpTransportComponent(receiver(opened, closed), config(properties));
        } finally {
            if (previousHome == null) {
                System.clearProperty("parley.home");
            } else {
                System.setProperty("parley.home", previousHome);
            }
        }
        try (SSLSocket socket = (SSLSocket) cert.trustingContext().getSocketFactory()
                .createSocket("127.0.0.1", Integer.parseInt(Files.readString(portFile).trim()))) {
            socket.setSoTimeout(5_000);
            socket.startHandshake();
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
            assertTrue(opened.await(5, TimeUnit.SECONDS));
        } finally {
            component.deactivate();
        }
        assertTrue(closed.await(5, TimeUnit.SECONDS));
    }

    /** A core that counts opened and closed sessions and ignores every frame. */
    private static Receiver receiver(CountDownLatch opened, CountDownLatch closed) {
        return new Receiver() {
            @Override
            public InboundSession open(Connection connection) {
                opened.countDown();
                return new InboundSession() {
                    @Override
                    public void onFrame(Frame frame) {
                    }

                    @Override
                    public void onClosed() {
                        closed.countDown();
                    }

                    @Override
                    public boolean isAuthenticated() {
                        return false;
                    }
                };
            }

            @Override
            public InboundSession openAuthenticated(Connection connection, Principal principal) {
                throw new UnsupportedOperationException("transports never open trusted sessions");
            }

            @Override
            public int maxFrameBytes() {
                return 1024;
            }
        };
    }

    /** A config instance as SCR would build it: the given properties, the annotation defaults otherwise. */
    private static TcpTransportConfig config(Map<String, Object> properties) {
        return ComponentConfigs.of(TcpTransportConfig.class, properties);
    }

    /** The DS mapping of a config method name to its property key. */
}
