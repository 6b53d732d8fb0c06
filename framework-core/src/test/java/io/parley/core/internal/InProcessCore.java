package io.parley.core.internal;

import com.google.inject.Guice;
import io.parley.core.spi.auth.Authenticator;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.command.ConversationEvents;
import io.parley.core.spi.command.SessionListener;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.transport.Receiver;
import io.parley.core.testing.ComponentConfigs;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The real engine in-process, without OSGi: for tests of adapters (the HTTP API, clients) that need the protocol's
 * rules as the server applies them, instead of a hand-written fake that copies them. Wired exactly as the core
 * bundle wires it ({@link EngineModule}); the test hands it the store, processors, command handlers and
 * authenticator that services would bring. Not thread-safe to configure; use from one test thread, then share the
 * {@link #receiver()} freely.
 */
public final class InProcessCore implements AutoCloseable {

    private final Engine engine;
    private final AtomicLong serviceIds = new AtomicLong(1_000_000);

    private InProcessCore(Engine engine) {
        this.engine = engine;
    }

    /**
     * @param config {@code parley.core} keys to override (as in {@code parley.core.cfg}); defaults for the rest
     */
    public static InProcessCore start(MessageStore store, Map<String, Object> config) {
        InProcessCore core = new InProcessCore(Guice.createInjector(
                new EngineModule(ComponentConfigs.of(EngineConfig.class, config))).getInstance(Engine.class));
        core.engine.store(store);
        return core;
    }

    /** Serves message type {@code type} with {@code processor}, as a registered service would. */
    public InProcessCore processor(String type, MessageProcessor processor) {
        engine.processors().add(type, serviceIds.incrementAndGet(), 0, -1, processor);
        return this;
    }

    /** Serves command {@code type} with {@code handler}, as a registered service would. */
    public InProcessCore command(String type, CommandHandler handler) {
        engine.commandHandlers().add(type, serviceIds.incrementAndGet(), 0, -1, handler);
        return this;
    }

    public InProcessCore authenticator(Authenticator authenticator) {
        engine.authenticator(authenticator);
        return this;
    }

    /** Binds a cluster link, as a registered {@link ClusterLink} service would be; null unbinds the current one. */
    public InProcessCore link(ClusterLink link) {
        if (link == null) {
            ClusterLink current = engine.link();
            if (current != null) {
                engine.unlink(current);
            }
        } else {
            engine.link(link);
        }
        return this;
    }

    /** This node as a cluster link sees it (the core's {@link LocalNode} service). */
    public LocalNode localNode() {
        return engine.localNode();
    }

    /** The core's {@link ConversationEvents} service, as a bundle gets it. */
    public ConversationEvents conversationEvents() {
        return engine.events();
    }

    /** Registers a {@link SessionListener}, as a registered service would be. */
    public InProcessCore sessionListener(SessionListener listener) {
        engine.sessionListeners().add(listener);
        return this;
    }

    /**
     * Adds a notification channel, as a registered {@link NotificationDispatcher} would be.
     *
     * @param allRecipients scope {@code all} (every member but the sender) instead of {@code offline}
     */
    public InProcessCore dispatcher(String channel, boolean allRecipients, NotificationDispatcher dispatcher) {
        engine.addChannel(channel, allRecipients, dispatcher, 16);
        return this;
    }

    /** The core as transports see it. */
    public Receiver receiver() {
        return engine;
    }

    /** Stops the engine: sessions are told to reconnect, its threads end (bounded wait). Idempotent enough for tests. */
    @Override
    public void close() {
        engine.shutdown();
    }
}
