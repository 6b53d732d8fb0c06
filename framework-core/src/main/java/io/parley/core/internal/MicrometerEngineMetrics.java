package io.parley.core.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.parley.core.proto.ErrorCode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link EngineMetrics} on a {@link CompositeMeterRegistry} owned by the engine. Every meter is created on the
 * composite, most of them here at construction; the registries bound later ({@link #bind}) are its children and see
 * every meter, earlier ones included. With no child the composite's meters do nothing, so the engine pays only a
 * method call per hook when no metrics bundle is deployed.
 *
 * <p>Meter names are Micrometer's dotted form; a Prometheus registry shows them as documented in
 * {@code docs/operations.md} ("Metrics and health"): {@code parley.messages.sent} is
 * {@code parley_messages_sent_total}, the timers are {@code *_seconds} histograms.
 *
 * <p>Meters created on demand are bounded: one counter per message type that a deployed processor accepted, one gauge
 * per transport, one set per notification channel. Thread-safe.
 */
final class MicrometerEngineMetrics implements EngineMetrics {

    static final String SENT = "parley.messages.sent";
    static final String REJECTIONS = "parley.rejections";
    static final String CONNECTIONS = "parley.connections.open";
    static final String SESSIONS = "parley.sessions.logged.in";
    static final String SEND_LATENCY = "parley.send.latency";
    static final String STORE_LATENCY = "parley.store.commit.latency";
    static final String ENGINE_QUEUE = "parley.engine.queue.depth";
    static final String DISPATCH_QUEUE = "parley.dispatch.queue.depth";
    static final String NOTIFICATIONS = "parley.notifications";
    static final String HELD_NOW = "parley.hotswap.held";
    static final String HELD_TOTAL = "parley.hotswap.held.sends";

    private final CompositeMeterRegistry composite = new CompositeMeterRegistry();
    private final ConcurrentHashMap<String, Counter> sentByType = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> connections = new ConcurrentHashMap<>();
    /** By {@link ErrorCode#getNumber()}; null for UNRECOGNIZED and numbers out of range. */
    private final Counter[] rejections;
    private final Timer sendLatency;
    private final Timer storeLatency;
    private final Map<DispatchChannel, List<Meter>> channelMeters = new ConcurrentHashMap<>();
    /** Held strongly: gauges keep only weak references to their sources. */
    private final Sources sources;

    MicrometerEngineMetrics(Sources sources) {
        this.sources = sources;
        int max = 0;
        for (ErrorCode c : ErrorCode.values()) {
            if (c != ErrorCode.UNRECOGNIZED) {
                max = Math.max(max, c.getNumber());
            }
        }
        rejections = new Counter[max + 1];
        for (ErrorCode c : ErrorCode.values()) {
            if (c != ErrorCode.UNRECOGNIZED && c.getNumber() > 0) {
                rejections[c.getNumber()] = Counter.builder(REJECTIONS).tag("code", codeName(c))
                        .description("Requests answered with an error, by error code").register(composite);
            }
        }
        sendLatency = latency(SEND_LATENCY, "From a send's arrival to its ack (stored and durable)");
        storeLatency = latency(STORE_LATENCY, "From an append handed to the store to its durable completion");
        Gauge.builder(SESSIONS, sources.sessionsLoggedIn(), s -> s.getAsInt())
                .description("Authenticated client sessions on this node").register(composite);
        Gauge.builder(ENGINE_QUEUE, sources.workerQueue(), s -> s.getAsInt()).tag("queue", "workers")
                .description("Tasks waiting for an engine thread").register(composite);
        Gauge.builder(ENGINE_QUEUE, sources.timerQueue(), s -> s.getAsInt()).tag("queue", "timer")
                .register(composite);
        Gauge.builder(HELD_NOW, sources.heldNow(), s -> s.getAsInt())
                .description("Sends held right now while their type's processor is being swapped").register(composite);
        FunctionCounter.builder(HELD_TOTAL, sources.heldTotal(), s -> s.getAsLong())
                .description("Sends held while their type's processor was being swapped").register(composite);
    }

    private Timer latency(String name, String description) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(10))
                .register(composite);
    }

    /** The label value of {@code code}: its name without the {@code ERROR_CODE_} prefix, e.g. {@code UNKNOWN_TYPE}. */
    static String codeName(ErrorCode code) {
        String n = code.name();
        return n.startsWith("ERROR_CODE_") ? n.substring("ERROR_CODE_".length()) : n;
    }

    /** The composite every meter lives on (for tests). */
    MeterRegistry registry() {
        return composite;
    }

    @Override
    public void connectionOpened(String transport) {
        AtomicInteger n = connections.get(transport);
        if (n == null) {
            n = connections.computeIfAbsent(transport, t -> {
                AtomicInteger open = new AtomicInteger();
                Gauge.builder(CONNECTIONS, open, AtomicInteger::get).tag("transport", t)
                        .description("Open client connections, by transport").register(composite);
                return open;
            });
        }
        n.incrementAndGet();
    }

    @Override
    public void connectionClosed(String transport) {
        AtomicInteger n = connections.get(transport);
        if (n != null) {
            n.decrementAndGet();
        }
    }

    @Override
    public void sent(String type, long receivedNanos) {
        Counter c = sentByType.get(type);
        if (c == null) {
            c = sentByType.computeIfAbsent(type, t -> Counter.builder(SENT).tag("type", t)
                    .description("Sends accepted (stored and acked, or relayed), by message type").register(composite));
        }
        c.increment();
        sendLatency.record(System.nanoTime() - receivedNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void stored(long submittedNanos) {
        storeLatency.record(System.nanoTime() - submittedNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void rejected(ErrorCode code) {
        int n = code == ErrorCode.UNRECOGNIZED ? -1 : code.getNumber();
        if (n > 0 && n < rejections.length && rejections[n] != null) {
            rejections[n].increment();
        }
    }

    @Override
    public void channelAdded(DispatchChannel channel) {
        Tags tags = Tags.of("channel", channel.name());
        List<Meter> meters = new ArrayList<>(4);
        meters.add(Gauge.builder(DISPATCH_QUEUE, channel, DispatchChannel::queued).tags(tags)
                .description("Notifications waiting in a channel's queue").register(composite));
        meters.add(outcome(channel, tags, "delivered", DispatchChannel::delivered));
        meters.add(outcome(channel, tags, "failed", DispatchChannel::failed));
        meters.add(outcome(channel, tags, "dropped", DispatchChannel::dropped));
        channelMeters.put(channel, meters);
    }

    private Meter outcome(DispatchChannel channel, Tags tags, String outcome,
                          java.util.function.ToDoubleFunction<DispatchChannel> f) {
        return FunctionCounter.builder(NOTIFICATIONS, channel, f).tags(tags).tag("outcome", outcome)
                .description("Notifications handed to a channel, by outcome").register(composite);
    }

    @Override
    public void channelRemoved(DispatchChannel channel) {
        List<Meter> meters = channelMeters.remove(channel);
        if (meters != null) {
            meters.forEach(this::removeEverywhere);
        }
    }

    /** Removes {@code meter} from the composite and from every child (so no child keeps a reference to its source). */
    private void removeEverywhere(Meter meter) {
        for (MeterRegistry child : composite.getRegistries()) {
            child.remove(meter.getId());
        }
        composite.remove(meter);
    }

    @Override
    public void bind(Object registry) {
        composite.add((MeterRegistry) registry);
    }

    @Override
    public void unbind(Object registry) {
        MeterRegistry child = (MeterRegistry) registry;
        if (!composite.getRegistries().contains(child)) {
            return;
        }
        // the child outlives the engine's meters: take them out of it, so that it holds nothing of this engine
        for (Meter meter : composite.getMeters()) {
            child.remove(meter.getId());
        }
        composite.remove(child);
    }

    @Override
    public void close() {
        for (MeterRegistry child : List.copyOf(composite.getRegistries())) {
            unbind(child);
        }
    }
}
