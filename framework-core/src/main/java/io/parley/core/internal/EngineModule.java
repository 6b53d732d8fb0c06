package io.parley.core.internal;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Scopes;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageProcessor;
import jakarta.inject.Named;
import jakarta.inject.Singleton;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Wiring inside the core bundle: one injector per activation of {@link EngineComponent}, every part a singleton of
 * it, constructor injection only. The parts depend downwards — {@link Engine} on the verb classes ({@link Sessions},
 * {@link SendPipeline}, {@link Sync}, {@link GroupOps}, {@link ReadState}, {@link ConversationLists},
 * {@link Commands}), those on the shared ones ({@link Authorization}, {@link Delivery}, {@link CurrentStore},
 * {@link SessionRegistry}, {@link GroupService}, {@link ReadCounter}…) — never back up. The threads it creates are
 * owned by {@link Engine} and stopped by its shutdown.
 */
final class EngineModule extends AbstractModule {
    private final EngineConfig config;

    EngineModule(EngineConfig config) {
        this.config = config;
    }

    @Override
    protected void configure() {
        bind(EngineConfig.class).toInstance(config);
        bind(Engine.class);
        bind(Sessions.class);
        bind(SendPipeline.class);
        bind(Sync.class);
        bind(GroupOps.class);
        bind(ReadState.class);
        bind(ConversationLists.class);
        bind(Commands.class);
        bind(Events.class);
        bind(SessionListeners.class);
        bind(Authorization.class);
        bind(Delivery.class);
        bind(ReadCountHost.class);
        bind(CurrentStore.class);
        bind(CurrentLink.class);
        bind(ClusterNode.class);
        bind(SessionRegistry.class).in(Scopes.SINGLETON);
    }

    @Provides
    @Singleton
    @Named("workers")
    ExecutorService workers() {
        return Executors.newFixedThreadPool(workerCount(config), threads("parley-engine-"));
    }

    /** The size of the worker pool: {@code workers}, or the number of cores the JVM may use. */
    static int workerCount(EngineConfig config) {
        return config.workers() > 0 ? config.workers() : Runtime.getRuntime().availableProcessors();
    }

    @Provides
    @Singleton
    ScheduledExecutorService timer() {
        // removeOnCancel: a session's token-expiry task is cancelled when it closes and must not keep the session
        // reachable until the token's expiry
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, threads("parley-engine-timer-"));
        timer.setRemoveOnCancelPolicy(true);
        return timer;
    }

    @Provides
    @Singleton
    MessageIds ids() {
        return new MessageIds(config.node_id());
    }

    @Provides
    @Singleton
    GroupService groups() {
        return new GroupService(config.group_cache_members());
    }

    @Provides
    @Singleton
    GroupRules groupRules() {
        return new GroupRules(config.group_max_members());
    }

    @Provides
    @Singleton
    Interceptors interceptors(ScheduledExecutorService timer) {
        return new Interceptors(timer);
    }

    @Provides
    @Singleton
    Whiteboard<MessageProcessor> processors(ScheduledExecutorService timer) {
        return new Whiteboard<>("message type", "processor", ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, timer,
                config.hold_millis(), config.hold_max_sends());
    }

    @Provides
    @Singleton
    Whiteboard<CommandHandler> commandHandlers(ScheduledExecutorService timer) {
        return new Whiteboard<>("command", "handler", ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, timer,
                config.hold_millis(), config.hold_max_sends());
    }

    /** The engine's meters (EngineMetrics): their gauges read the session registry, queues and processor holds. */
    @Provides
    @Singleton
    EngineMetrics metrics(SessionRegistry sessions, @Named("workers") ExecutorService workers,
                          ScheduledExecutorService timer, Whiteboard<MessageProcessor> processors) {
        return EngineMetrics.create(new EngineMetrics.Sources(sessions::size, queued(workers), queued(timer),
                processors::heldNow, processors::heldTotal));
    }

    private static java.util.function.IntSupplier queued(ExecutorService executor) {
        return executor instanceof java.util.concurrent.ThreadPoolExecutor pool
                ? () -> pool.getQueue().size() : () -> 0;
    }

    /** The read counter, and the periodic sweep that drops the indexes of idle groups. */
    @Provides
    @Singleton
    ReadCounter readCounts(ReadCountHost host, @Named("workers") ExecutorService workers,
                           ScheduledExecutorService timer) {
        ReadCounter readCounts = new ReadCounter(host, workers,
                (nanos, task) -> timer.schedule(task, nanos, TimeUnit.NANOSECONDS), System::nanoTime,
                config.read_fanout_max(), TimeUnit.MILLISECONDS.toNanos(config.read_counts_interval_millis()),
                config.read_counts_window(), TimeUnit.SECONDS.toNanos(config.read_counts_idle_seconds()));
        long sweep = Math.max(1, Math.min(60, config.read_counts_idle_seconds()));
        timer.scheduleWithFixedDelay(readCounts::evictIdle, sweep, sweep, TimeUnit.SECONDS);
        return readCounts;
    }

    static ThreadFactory threads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
