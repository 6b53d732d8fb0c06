package io.parley.core.internal;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.message.MessageProcessor;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineMetricsTest {

    private final AtomicInteger sessions = new AtomicInteger();
    private final MicrometerEngineMetrics metrics = (MicrometerEngineMetrics) EngineMetrics.create(
            new EngineMetrics.Sources(sessions::get, () -> 7, () -> 0, () -> 2, () -> 5));

    @Test
    void createsTheMicrometerImplementationWhenMicrometerIsThere() {
        assertInstanceOf(MicrometerEngineMetrics.class, metrics);
    }

    @Test
    void aRegistryBoundLaterSeesTheMetersCreatedBeforeAndAfter() {
        metrics.sent("text", System.nanoTime()); // counted by the composite alone: no child yet
        MeterRegistry child = new SimpleMeterRegistry();
        metrics.bind(child);
        metrics.sent("text", System.nanoTime());
        metrics.sent("text", System.nanoTime());
        metrics.sent("emoji", System.nanoTime());
        metrics.rejected(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE);
        metrics.rejected(ErrorCode.UNRECOGNIZED); // ignored, no meter
        metrics.stored(System.nanoTime() - 1_000_000);
        metrics.connectionOpened("tcp");
        metrics.connectionOpened("tcp");
        metrics.connectionClosed("tcp");
        sessions.set(3);

        assertEquals(2.0, child.get(MicrometerEngineMetrics.SENT).tag("type", "text").counter().count());
        assertEquals(1.0, child.get(MicrometerEngineMetrics.SENT).tag("type", "emoji").counter().count());
        assertEquals(1.0, child.get(MicrometerEngineMetrics.REJECTIONS).tag("code", "UNSUPPORTED_TYPE").counter()
                .count());
        assertEquals(0.0, child.get(MicrometerEngineMetrics.REJECTIONS).tag("code", "UNAVAILABLE").counter().count());
        Timer send = child.get(MicrometerEngineMetrics.SEND_LATENCY).timer();
        assertEquals(3, send.count());
        assertEquals(1, child.get(MicrometerEngineMetrics.STORE_LATENCY).timer().count());
        assertEquals(1.0, child.get(MicrometerEngineMetrics.CONNECTIONS).tag("transport", "tcp").gauge().value());
        assertEquals(3.0, child.get(MicrometerEngineMetrics.SESSIONS).gauge().value());
        assertEquals(7.0, child.get(MicrometerEngineMetrics.ENGINE_QUEUE).tag("queue", "workers").gauge().value());
        assertEquals(2.0, child.get(MicrometerEngineMetrics.HELD_NOW).gauge().value());
        assertEquals(5.0, child.get(MicrometerEngineMetrics.HELD_TOTAL).functionCounter().count());
    }

    @Test
    void unbindingTakesTheEnginesMetersOutOfTheRegistry() {
        MeterRegistry child = new SimpleMeterRegistry();
        metrics.bind(child);
        metrics.sent("text", System.nanoTime());
        assertTrue(child.find(MicrometerEngineMetrics.SENT).counter() != null);

        metrics.unbind(child);
        assertNull(child.find(MicrometerEngineMetrics.SENT).counter());
        assertNull(child.find(MicrometerEngineMetrics.SESSIONS).gauge());
        metrics.sent("text", System.nanoTime()); // not reported to it any more
        assertNull(child.find(MicrometerEngineMetrics.SENT).counter());

        MeterRegistry other = new SimpleMeterRegistry();
        metrics.bind(other);
        metrics.close();
        assertTrue(other.getMeters().isEmpty(), other.getMeters().toString());
    }

    @Test
    void theHotSwapMetersReadTheProcessorWhiteboardsHolds() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try {
            Whiteboard<MessageProcessor> processors = new Whiteboard<>("message type",
                    "processor", ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, timer, 5000, 3);
            MicrometerEngineMetrics m = new MicrometerEngineMetrics(new EngineMetrics.Sources(() -> 0, () -> 0,
                    () -> 0, processors::heldNow, processors::heldTotal));
            MeterRegistry child = new SimpleMeterRegistry();
            m.bind(child);
            MessageProcessor v1 = (context, draft) -> null;
            processors.add("text", 1, 0, 10, v1);
            processors.remove("text", 1, true); // its bundle is stopping: sends of "text" are held
            CompletableFuture<?> a = processors.lookup("text").toCompletableFuture();
            CompletableFuture<?> b = processors.lookup("text").toCompletableFuture();
            assertEquals(2.0, child.get(MicrometerEngineMetrics.HELD_NOW).gauge().value());
            assertEquals(2.0, child.get(MicrometerEngineMetrics.HELD_TOTAL).functionCounter().count());

            processors.add("text", 2, 0, 10, v1); // the new revision: the held sends go on
            assertTrue(a.isDone() && b.isDone());
            assertEquals(0.0, child.get(MicrometerEngineMetrics.HELD_NOW).gauge().value());
            assertEquals(2.0, child.get(MicrometerEngineMetrics.HELD_TOTAL).functionCounter().count());
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void codeNamesDropThePrefix() {
        assertEquals("UNSUPPORTED_TYPE", MicrometerEngineMetrics.codeName(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE));
    }
}
