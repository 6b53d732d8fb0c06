package io.parley.transport.tcp.internal;

import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code limit.connections.per.ip.*} over real TCP on the real engine: a connection flood from one address is
 * answered, beyond the burst, with {@code Error{RATE_LIMITED, retry_after_ms}} (request id 0) and closed; the
 * connections within the burst stay open waiting for their hello.
 */
class TcpConnectionRateTest {

    private InProcessCore core;
    private TcpServer server;
    private final List<Socket> sockets = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (Socket s : sockets) {
            s.close();
        }
        if (server != null) {
            server.stop();
        }
        if (core != null) {
            core.close();
        }
    }

    @Test
    void aConnectionFloodFromOneAddressIsRefused() throws Exception {
        // loopback is exempt by default (a local proxy shares one address); this test is the client from elsewhere
        core = InProcessCore.start(null, Map.of("limit.connections.per.ip.per.second", 1,
                "limit.connections.per.ip.burst", 5, "limit.connections.exempt.loopback", false));
        server = new TcpServer(ServerSettings.builder().host("127.0.0.1").port(0).ioThreads(1).epoll(EpollMode.OFF)
                .closeTimeout(Duration.ofMillis(500)).build(), core.receiver());
        server.start();
        List<TestClient> clients = new ArrayList<>();
        for (int i = 0; i < 15; i++) { // all at once: the bucket refills at 1/s
            Socket s = new Socket("127.0.0.1", server.localAddress().getPort());
            sockets.add(s);
            clients.add(new TestClient(s));
        }
        int refused = 0;
        int open = 0;
        for (int i = 0; i < clients.size(); i++) {
            TestClient client = clients.get(i);
            sockets.get(i).setSoTimeout(i == 0 ? 500 : 50); // a refusal is written at accept; the first wait covers all
            try {
                Frame first = client.read();
                assertEquals(ErrorCode.ERROR_CODE_RATE_LIMITED, first.getError().getCode(), first.toString());
                assertEquals(0, first.getRequestId());
                assertTrue(first.getError().getRetryable());
                assertTrue(first.getError().getRetryAfterMs() >= 1 && first.getError().getRetryAfterMs() <= 1000,
                        first.toString());
                client.assertClosedByServer();
                refused++;
            } catch (SocketTimeoutException e) {
                open++; // admitted: the server waits for the hello
            }
        }
        assertTrue(open >= 5 && open <= 7, open + " admitted"); // the burst, plus 1/s while the test runs
        assertEquals(15, open + refused);
        assertTrue(refused >= 8, refused + " refused");
    }
}
