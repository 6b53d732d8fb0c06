package io.parley.core.internal;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import jakarta.inject.Named;
import jakarta.inject.Singleton;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Wiring inside the core bundle. The threads it creates are owned by {@link Engine} and stopped by its shutdown. */
final class EngineModule extends AbstractModule {
    private final EngineConfig config;

    EngineModule(EngineConfig config) {
        this.config = config;
    }

    @Override
    protected void configure() {
        bind(EngineConfig.class).toInstance(config);
        bind(Engine.class);
    }

    @Provides
    @Singleton
    @Named("workers")
    ExecutorService workers() {
        int n = config.workers() > 0 ? config.workers() : Runtime.getRuntime().availableProcessors();
        return Executors.newFixedThreadPool(n, threads("parley-engine-"));
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

    static ThreadFactory threads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
