package io.parley.push;

import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.push.internal.ProviderRegistry;
import io.parley.push.internal.PushCommands;
import io.parley.push.internal.PushDispatcher;
import io.parley.push.internal.RateLimitedLog;
import io.parley.push.internal.TokenStore;
import io.parley.push.spi.PushProvider;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The OSGi boundary of offline push, PID {@value #PID} ({@link PushConfig}). Activation opens the
 * {@link TokenStore} ({@code <dir>/push.mv.db}) and registers the command handlers {@value PushCommands#REGISTER},
 * {@value PushCommands#UNREGISTER}, {@value PushCommands#MUTE} and the notification channel {@code offline-push}
 * (scope {@code offline}); deactivation (bundle stop or update, a configuration change) unregisters them, lets the
 * store finish its queued writes, joins its writer and closes the file.
 *
 * <p>The services are registered by hand, with only their routing properties, rather than published by DS: DS
 * would copy the whole configuration, {@code fcm.credential} included, into their service properties, where every
 * bundle can read it (the JWT authenticator does the same for its secret).
 *
 * <p>{@link PushProvider}s are tracked dynamically and greedily (a higher-ranked provider for a platform takes over
 * at once). The channel's {@code dispatch} completes as soon as the pushes are handed to the providers, so the
 * core's concurrency bound never waits for a platform; the providers bound their own queues.
 */
@Component(name = PushComponent.PID, configurationPid = PushComponent.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true, service = {})
@Designate(ocd = PushConfig.class)
public final class PushComponent {

    /** The configuration PID of the bundle ({@link PushConfig}). */
    public static final String PID = "parley.push";
    /** The notification channel's name. */
    public static final String CHANNEL = "offline-push";

    private static final Logger LOG = LoggerFactory.getLogger(PushComponent.class);

    private final ProviderRegistry providers = new ProviderRegistry();
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();
    private TokenStore store;
    private PushDispatcher dispatcher;

    @Reference(name = "provider", service = PushProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addProvider(PushProvider provider, Map<String, Object> properties) {
        if (providers.add(provider, properties)) {
            LOG.info("Push provider for '{}' added (service.id {}, ranking {})", properties.get(PushProvider.PLATFORM),
                    properties.get("service.id"), properties.getOrDefault("service.ranking", 0));
        } else {
            LOG.warn("A PushProvider without the {} property is ignored (service.id {})", PushProvider.PLATFORM,
                    properties.get("service.id"));
        }
    }

    void updatedProvider(PushProvider provider, Map<String, Object> properties) {
        providers.add(provider, properties);
    }

    void removeProvider(PushProvider provider, Map<String, Object> properties) {
        providers.remove(properties);
    }

    /** Called by SCR after the providers present are bound. */
    @Activate
    void activate(BundleContext context, PushConfig config) {
        store = TokenStore.open(resolveDir(config.dir(), System.getProperty("parley.home")), config.queue_max(),
                System::currentTimeMillis);
        dispatcher = new PushDispatcher(store, providers::lookup, settings(config), System::currentTimeMillis,
                new RateLimitedLog(LOG::warn, TimeUnit.SECONDS.toNanos(10), System::nanoTime));
        PushCommands commands = new PushCommands(store);
        try {
            command(context, PushCommands.REGISTER, commands::register);
            command(context, PushCommands.UNREGISTER, commands::unregister);
            command(context, PushCommands.MUTE, commands::mute);
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put(NotificationDispatcher.CHANNEL, CHANNEL);
            properties.put(NotificationDispatcher.SCOPE, NotificationDispatcher.SCOPE_OFFLINE);
            PushDispatcher channel = dispatcher;
            registrations.add(context.registerService(NotificationDispatcher.class, notification -> {
                try {
                    channel.dispatch(notification);
                } catch (RuntimeException e) {
                    LOG.warn("Push dispatch failed", e); // never thrown at the core
                }
                return CompletableFuture.completedFuture(null);
            }, properties));
        } catch (RuntimeException e) {
            deactivate();
            throw e;
        }
    }

    private void command(BundleContext context, String type, CommandHandler handler) {
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(CommandHandler.TYPE, type);
        registrations.add(context.registerService(CommandHandler.class, handler, properties));
    }

    @Deactivate
    void deactivate() {
        for (int i = registrations.size() - 1; i >= 0; i--) {
            try {
                registrations.get(i).unregister();
            } catch (IllegalStateException e) {
                // already gone with the bundle
            }
        }
        registrations.clear();
        if (dispatcher != null) {
            LOG.info("Offline push stopped: {}", dispatcher.counts());
        }
        if (store != null) {
            store.close();
        }
    }

    static PushDispatcher.Settings settings(PushConfig config) {
        return new PushDispatcher.Settings(config.preview(), config.preview_hidden_text(), config.preview_max_chars());
    }

    /** A relative {@code dir} resolves against {@code home} (system property {@code parley.home}) if set. */
    static Path resolveDir(String dir, String home) {
        Path path = Path.of(dir.trim());
        if (!path.isAbsolute()) {
            path = (home == null || home.isBlank() ? Path.of("") : Path.of(home)).resolve(path);
        }
        return path.toAbsolutePath().normalize();
    }

    /** The dispatcher's counters; for tests. */
    PushDispatcher.Counts counts() {
        return dispatcher.counts();
    }
}
