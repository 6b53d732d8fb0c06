package io.parley.transport.tcp;

import io.parley.transport.support.TestReceiver;
import io.parley.core.testing.ComponentConfigs;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
        TestReceiver receiver = new TestReceiver(1024);
        TcpTransportComponent component = new TcpTransportComponent(receiver, config(Map.of(
                "host", "127.0.0.1", "port", 0, "io.threads", 1, "reconnect.after.ms", 250,
                "port.file", portFile.toString())));
        try {
            int port = Integer.parseInt(Files.readString(portFile).trim());
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.setSoTimeout(5_000);
                TestReceiver.TestSession session = receiver.nextSession();
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
                session.awaitClosed();
            }
            assertFalse(Files.exists(portFile));
        } finally {
            if (component != null) {
                component.deactivate();
            }
            receiver.shutdown();
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
        TestReceiver receiver = new TestReceiver(1024);
        String previousHome = System.getProperty("parley.home");
        System.setProperty("parley.home", home.toString());
        TcpTransportComponent component;
        try {
            assertEquals(new TlsSettings(true, cert.certPem(), cert.keyPem(), "", List.of("TLSv1.3")),
                    TcpTransportComponent.settings(config(properties)).tls());
            component = new TcpTransportComponent(receiver, config(properties));
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
            receiver.nextSession();
        } finally {
            component.deactivate();
        }
        receiver.sessions.get(0).awaitClosed();
        receiver.shutdown();
    }

    /** A config instance as SCR would build it: the given properties, the annotation defaults otherwise. */
    private static TcpTransportConfig config(Map<String, Object> properties) {
        return ComponentConfigs.of(TcpTransportConfig.class, properties);
    }

    /** The DS mapping of a config method name to its property key. */
}
