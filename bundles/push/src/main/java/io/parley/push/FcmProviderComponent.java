package io.parley.push;

import io.parley.push.internal.FcmClient;
import io.parley.push.spi.PushProvider;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Optional;

/**
 * The FCM provider ({@link FcmClient}), on when {@code fcm.project} is set: it then registers the client as the
 * {@link PushProvider} for platform {@value FcmClient#PLATFORM} and, on deactivation (bundle stop or update, a change
 * of PID {@value PushComponent#PID}), unregisters it and stops its threads. Publishes nothing itself, so an
 * unconfigured FCM leaves no service behind.
 */
@Component(name = "parley.push.fcm", configurationPid = PushComponent.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL,
        immediate = true, service = {})
public final class FcmProviderComponent {

    private static final Logger LOG = LoggerFactory.getLogger(FcmProviderComponent.class);

    private final FcmClient client;
    private final ServiceRegistration<PushProvider> registration;

    @Activate
    public FcmProviderComponent(BundleContext context, PushConfig config) {
        Optional<FcmClient.Settings> settings;
        try {
            settings = settings(config);
        } catch (IllegalArgumentException e) {
            LOG.error("FCM push is off: {}", e.getMessage());
            settings = Optional.empty();
        }
        if (settings.isEmpty()) {
            LOG.info("FCM push is off (fcm.project is empty)");
            client = null;
            registration = null;
            return;
        }
        if (settings.get().credential().isEmpty()) {
            LOG.warn("FCM push: fcm.credential is empty, FCM will refuse every push");
        }
        client = new FcmClient(settings.get());
        Dictionary<String, Object> properties = new Hashtable<>();
        properties.put(PushProvider.PLATFORM, FcmClient.PLATFORM);
        registration = context.registerService(PushProvider.class, client, properties);
        LOG.info("FCM push is on: {}", settings.get());
    }

    /** @return empty when {@code fcm.project} is blank; @throws IllegalArgumentException for a bad endpoint */
    static Optional<FcmClient.Settings> settings(PushConfig config) {
        if (config.fcm_project().isBlank()) {
            return Optional.empty();
        }
        return Optional.of(new FcmClient.Settings(URI.create(config.fcm_endpoint().trim()),
                config.fcm_project().trim(), config.fcm_credential().trim(),
                Duration.ofMillis(Math.max(1, config.fcm_timeout_millis())), config.fcm_retries(),
                Duration.ofMillis(Math.max(0, config.fcm_retry_base_millis())), config.fcm_max_in_flight(),
                config.fcm_queue_max()));
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException e) {
                // already gone with the bundle
            }
        }
        if (client != null) {
            client.close();
        }
    }
}
