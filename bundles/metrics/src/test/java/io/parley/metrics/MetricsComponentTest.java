package io.parley.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.parley.core.spi.ops.MetricsExposition;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsComponentTest {

    @Test
    void scrapesJvmAndParleyMetersInPrometheusTextFormat() throws Exception {
        PrometheusMeterRegistry registry = MetricsComponent.newRegistry();
        try (JvmGcMetrics gc = new JvmGcMetrics()) {
            MetricsComponent.bindJvm(registry, gc);
            Counter.builder("parley.messages.sent").tag("type", "text").register(registry).increment(3);
            Timer.builder("parley.send.latency").publishPercentileHistogram().register(registry)
                    .record(Duration.ofMillis(5));
            MetricsExposition exposition = MetricsComponent.exposition(registry);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            exposition.scrape(out);
            String text = out.toString(StandardCharsets.UTF_8);

            assertTrue(exposition.contentType().startsWith("text/plain; version=0.0.4"), exposition.contentType());
            assertTrue(text.contains("parley_messages_sent_total{type=\"text\"} 3.0"), text);
            assertTrue(text.contains("parley_send_latency_seconds_count 1"), text);
            assertTrue(text.contains("parley_send_latency_seconds_bucket{le="), text);
            for (String jvm : new String[]{"jvm_memory_used_bytes", "jvm_threads_live_threads",
                    "jvm_classes_loaded_classes", "process_cpu_usage", "process_uptime_seconds"}) {
                assertTrue(text.contains(jvm), jvm + " missing");
            }
        } finally {
            registry.close();
        }
        assertEquals(true, registry.isClosed());
    }
}
