package io.parley.transport.http.internal;

import io.parley.core.api.Principal;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Pong;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.Receiver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The session contract with the core: one request, one answer, onClosed exactly once, every failure mapped. */
class CoreGatewayTest {

    private static final Frame PING = Frame.newBuilder().setPing(Ping.newBuilder().setClientTime(7)).build();

    private final ScheduledExecutorService timer = new ScheduledThreadPoolExecutor(1);
    private final AtomicInteger closes = new AtomicInteger();

    @AfterEach
    void stopTimer() {
        timer.shutdownNow();
    }

    @Test
    void answersWithTheFrameCarryingRequestIdOneAndIgnoresOthers() throws Exception {
        Frame answer = call(core((connection, frame) -> {
            connection.send(Frame.newBuilder().setDeliver(Deliver.getDefaultInstance()).build()); // rid 0: not ours
            connection.send(Frame.newBuilder().setRequestId(2).setPong(Pong.getDefaultInstance()).build());
            connection.send(Frame.newBuilder().setRequestId(frame.getRequestId())
                    .setPong(Pong.newBuilder().setClientTime(frame.getPing().getClientTime())).build());
        })).get(5, TimeUnit.SECONDS);
        assertEquals(CoreGateway.REQUEST_ID, answer.getRequestId());
        assertEquals(7, answer.getPong().getClientTime());
        assertEquals(1, closes.get());
    }

    @Test
    void errorsAnsweringTheRequestOrTheSessionBecomeApiErrors() {
        assertFailure(call(core((c, f) -> c.send(EngineCore.error(1, ErrorCode.ERROR_CODE_FORBIDDEN, "no")))), 403, "FORBIDDEN");
        assertFailure(call(core((c, f) -> c.send(EngineCore.error(0, ErrorCode.ERROR_CODE_INTERNAL, "boom")))), 500, "INTERNAL");
        assertFailure(call(core((c, f) -> {
            throw new IllegalStateException("bug");
        })), 500, "INTERNAL");
        assertFailure(call(core((c, f) -> c.close(Notice.newBuilder().setText("server is stopping").build()))),
                503, "UNAVAILABLE");
        assertEquals(4, closes.get());
    }

    @Test
    void aSessionClosedWhileOpeningIsClosedOnceAndNeverFed() {
        AtomicInteger fed = new AtomicInteger();
        Receiver stopping = new TestReceiver() {
            @Override
            public InboundSession openAuthenticated(Connection connection, Principal principal) {
                connection.close(Notice.newBuilder().setKind(Notice.Kind.KIND_RECONNECT).setText("stopping").build());
                return session((c, f) -> fed.incrementAndGet(), connection);
            }
        };
        assertFailure(call(stopping), 503, "UNAVAILABLE");
        assertEquals(0, fed.get());
        assertEquals(1, closes.get());
    }

    @Test
    void noCoreOrARefusingCoreIsUnavailable() {
        assertFailure(new CoreGateway(() -> null).call("alice", PING, "test", Duration.ofSeconds(1), timer),
                503, "UNAVAILABLE");
        Receiver refusing = new TestReceiver() {
            @Override
            public InboundSession openAuthenticated(Connection connection, Principal principal) {
                throw new IllegalStateException("not ready");
            }
        };
        assertFailure(call(refusing), 503, "UNAVAILABLE");
        assertFailure(new CoreGateway(() -> refusing).call("not valid!", PING, "t", Duration.ofSeconds(1), timer),
                400, "INVALID_REQUEST");
    }

    @Test
    void silenceTimesOutAndClosesTheSession() {
        CoreGateway gateway = new CoreGateway(() -> core((c, f) -> { }));
        assertFailure(gateway.call("alice", PING, "t", Duration.ofMillis(50), timer), 504, "TIMEOUT");
        assertEquals(1, closes.get());
        assertEquals(0, gateway.inFlight());
    }

    private CompletableFuture<Frame> call(Receiver core) {
        return new CoreGateway(() -> core).call("alice", PING, "test", Duration.ofSeconds(5), timer);
    }

    private static void assertFailure(CompletableFuture<Frame> result, int status, String code) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> result.get(5, TimeUnit.SECONDS));
        ApiException api = assertInstanceOf(ApiException.class, e.getCause());
        assertEquals(status, api.status(), api.toString());
        assertEquals(code, api.code());
        assertTrue(result.isCompletedExceptionally());
    }

    private Receiver core(BiConsumer<Connection, Frame> answer) {
        return new TestReceiver() {
            @Override
            public InboundSession openAuthenticated(Connection connection, Principal principal) {
                return session(answer, connection);
            }
        };
    }

    private InboundSession session(BiConsumer<Connection, Frame> answer, Connection connection) {
        return new InboundSession() {
            @Override
            public void onFrame(Frame frame) {
                answer.accept(connection, frame);
            }

            @Override
            public void onClosed() {
                closes.incrementAndGet();
            }

            @Override
            public boolean isAuthenticated() {
                return true;
            }
        };
    }

    private abstract static class TestReceiver implements Receiver {
        @Override
        public InboundSession open(Connection connection) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int maxFrameBytes() {
            return 65536;
        }
    }
}
