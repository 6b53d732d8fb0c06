package io.parley.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.parley.core.spi.ops.MetricsExposition;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Dictionary;
import java.util.Hashtable;

/**
 * Owns one {@link PrometheusMeterRegistry} from activation to deactivation: binds the JVM meters (memory, GC,
 * threads, classes, CPU, uptime) to it, registers it as a {@link MeterRegistry} service (the core and other bundles
 * bind it dynamically and report their meters to it) and as the {@link MetricsExposition} that the HTTP transport
 * serves at {@code GET /metrics}.
 *
 * <p>Hot swap: deactivation unregisters both services first (so reporters detach and the HTTP transport answers 503),
 * then closes the GC binder (its JMX notification listeners) and the registry; nothing of this bundle is left behind.
 */
@Component(immediate = true, service = {})
public final class MetricsComponent {

    /** Service property naming the registry, for filters: {@code (parley.metrics.registry=prometheus)}. */
    public static final String REGISTRY_PROPERTY = "parley.metrics.registry";

    private static final Logger LOG = LoggerFactory.getLogger(MetricsComponent.class);

    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gc;
    private final ServiceRegistration<MeterRegistry> registryRegistration;
    private final ServiceRegistration<MetricsExposition> expositionRegistration;

    @Activate
    public MetricsComponent(BundleContext context) {
        registry = newRegistry();
        gc = new JvmGcMetrics();
        bindJvm(registry, gc);
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(REGISTRY_PROPERTY, "prometheus");
        registryRegistration = context.registerService(MeterRegistry.class, registry, props);
        expositionRegistration = context.registerService(MetricsExposition.class, exposition(registry), props);
        LOG.info("Metrics: Prometheus registry up; scraped at GET /metrics of the HTTP transport");
    }

    @Deactivate
    void deactivate() {
        unregister(expositionRegistration);
        unregister(registryRegistration);
        gc.close();
        registry.close();
        LOG.info("Metrics: Prometheus registry closed");
    }

    /** A registry with Parley's defaults (Prometheus' own defaults; histograms only where a meter asks for them). */
    static PrometheusMeterRegistry newRegistry() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    /** Binds the JVM meters to {@code registry}; {@code gc} must be closed by the caller when done. */
    static void bindJvm(MeterRegistry registry, JvmGcMetrics gc) {
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** The Prometheus text format (0.0.4) of {@code registry}. */
    static MetricsExposition exposition(PrometheusMeterRegistry registry) {
        return new MetricsExposition() {
            @Override
            public String contentType() {
                return "text/plain; version=0.0.4; charset=utf-8";
            }

            @Override
            public void scrape(OutputStream out) throws IOException {
                registry.scrape(out);
            }
        };
    }

    private static void unregister(ServiceRegistration<?> registration) {
        try {
            registration.unregister();
        } catch (IllegalStateException alreadyGone) {
            // the framework unregistered it with the bundle
        }
    }
}
