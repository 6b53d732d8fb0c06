package io.parley.core.internal;

import io.parley.core.proto.ErrorCode;

import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The engine's meters, behind hooks that never mention Micrometer: the engine calls these on its hot paths, and
 * {@link #create} picks the Micrometer implementation ({@link MicrometerEngineMetrics}) when Micrometer is on the
 * core's class path (always in the assembled server) or {@link #NONE} otherwise (plain-Java users of the engine, such
 * as other modules' tests, that do not carry the optional Micrometer dependency).
 *
 * <p>Threading: every method is thread-safe and non-blocking; the hot-path hooks ({@link #sent}, {@link #stored},
 * {@link #rejected}) allocate nothing once a type's meter exists.
 */
interface EngineMetrics {

    /** Where the gauges read from; every supplier is thread-safe and cheap. */
    record Sources(IntSupplier sessionsLoggedIn, IntSupplier workerQueue, IntSupplier timerQueue, IntSupplier heldNow,
                   LongSupplier heldTotal) {
    }

    /** Counts nothing. */
    EngineMetrics NONE = new EngineMetrics() {
    };

    /** A connection of {@code transport} was opened (trusted in-process sessions are not connections). */
    default void connectionOpened(String transport) {
    }

    /** A connection counted by {@link #connectionOpened} closed. */
    default void connectionClosed(String transport) {
    }

    /**
     * A send of {@code type} was accepted and acked; {@code receivedNanos} is {@link System#nanoTime()} at its
     * arrival.
     */
    default void sent(String type, long receivedNanos) {
    }

    /** An append handed to the store at {@code submittedNanos} ({@link System#nanoTime()}) is durable. */
    default void stored(long submittedNanos) {
    }

    /** A request was answered with error {@code code}. */
    default void rejected(ErrorCode code) {
    }

    /** A notification channel was added: its queue and outcomes are measured until {@link #channelRemoved}. */
    default void channelAdded(DispatchChannel channel) {
    }

    default void channelRemoved(DispatchChannel channel) {
    }

    /**
     * A {@code io.micrometer.core.instrument.MeterRegistry} service appeared: every meter is reported to it from now
     * on (those created earlier included). Typed {@code Object} so that callers need no Micrometer class.
     */
    default void bind(Object registry) {
    }

    /** The registry left: the engine's meters are removed from it, and it is reported to no more. */
    default void unbind(Object registry) {
    }

    /** The engine stops: every bound registry is unbound. */
    default void close() {
    }

    /** @return the Micrometer implementation if Micrometer can be loaded by the core, else {@link #NONE} */
    static EngineMetrics create(Sources sources) {
        try {
            Class.forName("io.micrometer.core.instrument.composite.CompositeMeterRegistry", false,
                    EngineMetrics.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return NONE;
        }
        return new MicrometerEngineMetrics(sources);
    }
}
