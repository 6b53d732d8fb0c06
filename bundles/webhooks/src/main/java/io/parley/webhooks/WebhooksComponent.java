package io.parley.webhooks;

import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.spi.intercept.SendInterceptor;
import io.parley.webhooks.internal.Backoff;
import io.parley.webhooks.internal.WebhookSettings;
import io.parley.webhooks.internal.Webhooks;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;

/**
 * OSGi boundary of the webhooks, configured by PID {@value #PID} ({@link WebhooksConfig}).
 *
 * <p>The component is always active; it registers a {@link SendInterceptor} when {@code before.url} is set and a
 * {@link NotificationDispatcher} (channel {@value #CHANNEL}, scope {@code all}) when {@code after.urls} is set, both
 * backed by one {@link Webhooks}. A configuration it cannot use (no or short {@code secret}, a bad URL or number) is
 * logged as an ERROR naming the key and the file, and nothing is registered. A configuration change re-activates the
 * component. Deactivation unregisters both services, then stops every thread the component started.
 */
@Component(name = WebhooksComponent.PID, configurationPid = WebhooksComponent.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, service = {}, immediate = true)
@Designate(ocd = WebhooksConfig.class)
public final class WebhooksComponent {

    /** Configuration PID and component name. */
    public static final String PID = "parley.webhooks";
    /** The notification channel's name and the interceptor's. */
    public static final String CHANNEL = "webhook";

    private static final Logger LOG = LoggerFactory.getLogger(WebhooksComponent.class);
    private static final String FILE = "conf/" + PID + ".cfg";

    private final Webhooks webhooks;
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();

    @Activate
    public WebhooksComponent(BundleContext context, WebhooksConfig config) {
        List<String> problems = new ArrayList<>();
        WebhookSettings settings = settings(config, problems);
        if (!problems.isEmpty()) {
            problems.forEach(p -> LOG.error("Webhooks (PID {}): {}; fix it in {}. No webhook is registered.", PID, p,
                    FILE));
            webhooks = null;
            return;
        }
        if (settings == null) {
            LOG.info("No webhook configured (before.url and after.urls are empty in {})", FILE);
            webhooks = null;
            return;
        }
        webhooks = new Webhooks(settings, Clock.systemUTC());
        if (webhooks.beforeSend() != null) {
            registrations.add(context.registerService(SendInterceptor.class, webhooks.beforeSend(),
                    interceptorProperties(settings)));
        }
        if (webhooks.afterSend() != null) {
            registrations.add(context.registerService(NotificationDispatcher.class, webhooks.afterSend(),
                    dispatcherProperties()));
        }
        LOG.info("Webhooks ready: {}", settings);
    }

    @Deactivate
    void deactivate() {
        for (ServiceRegistration<?> registration : registrations) {
            try {
                registration.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the framework unregisters a stopping bundle's services itself
            }
        }
        registrations.clear();
        if (webhooks != null) {
            webhooks.close();
        }
    }

    static Dictionary<String, Object> interceptorProperties(WebhookSettings settings) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(SendInterceptor.NAME, CHANNEL);
        props.put(SendInterceptor.TIMEOUT_MILLIS, settings.beforeTimeout().toMillis());
        props.put(SendInterceptor.ON_FAILURE, settings.beforeFailClosed() ? SendInterceptor.FAIL_CLOSED
                : SendInterceptor.FAIL_OPEN);
        props.put(Constants.SERVICE_RANKING, settings.beforeRanking());
        return props;
    }

    static Dictionary<String, Object> dispatcherProperties() {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(NotificationDispatcher.CHANNEL, CHANNEL);
        props.put(NotificationDispatcher.SCOPE, NotificationDispatcher.SCOPE_ALL);
        return props;
    }

    /**
     * @param problems receives one line per unusable key, naming it
     * @return the settings; null when no URL is set or when {@code problems} is not empty
     */
    static WebhookSettings settings(WebhooksConfig config, List<String> problems) {
        URI before = url(config.before_url(), "before.url", problems);
        List<URI> after = new ArrayList<>();
        for (String part : trim(config.after_urls()).split(",")) {
            URI url = url(part, "after.urls", problems);
            if (url != null) {
                after.add(url);
            }
        }
        if (before == null && after.isEmpty() && problems.isEmpty()) {
            return null;
        }
        String secret = trim(config.secret());
        if (secret.length() < WebhookSettings.MIN_SECRET_CHARS) {
            problems.add("'secret' must be set, at least " + WebhookSettings.MIN_SECRET_CHARS + " characters (e.g. "
                    + "`openssl rand -hex 32`), when before.url or after.urls is set"
                    + (secret.isEmpty() ? "" : "; it has " + secret.length()));
        }
        String onFailure = trim(config.before_on_failure());
        if (!onFailure.equals(SendInterceptor.FAIL_OPEN) && !onFailure.equals(SendInterceptor.FAIL_CLOSED)) {
            problems.add("'before.on.failure' must be open or closed, not '" + onFailure + "'");
        }
        atLeast(config.before_timeout_millis(), 1, "before.timeout.millis", problems);
        atLeast(config.after_timeout_millis(), 1, "after.timeout.millis", problems);
        atLeast(config.after_max_attempts(), 1, "after.max.attempts", problems);
        atLeast(config.after_backoff_initial_millis(), 1, "after.backoff.initial.millis", problems);
        atLeast(config.after_backoff_max_millis(), config.after_backoff_initial_millis(), "after.backoff.max.millis",
                problems);
        atLeast(config.after_queue_max(), 1, "after.queue.max", problems);
        atLeast(config.after_max_in_flight(), 1, "after.max.in.flight", problems);
        atLeast(config.threads(), 1, "threads", problems);
        if (!problems.isEmpty()) {
            return null;
        }
        return new WebhookSettings(secret, before, Duration.ofMillis(config.before_timeout_millis()),
                onFailure.equals(SendInterceptor.FAIL_CLOSED), config.before_ranking(), after,
                Duration.ofMillis(config.after_timeout_millis()),
                new Backoff(config.after_max_attempts(), Duration.ofMillis(config.after_backoff_initial_millis()),
                        Duration.ofMillis(config.after_backoff_max_millis())),
                config.after_queue_max(), config.after_max_in_flight(), config.threads());
    }

    /** @return the http(s) URL, null for an empty value; an unusable one is added to {@code problems} */
    private static URI url(String value, String key, List<String> problems) {
        String text = trim(value);
        if (text.isEmpty()) {
            return null;
        }
        try {
            URI url = new URI(text);
            String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase();
            if ((scheme.equals("http") || scheme.equals("https")) && url.getHost() != null) {
                return url;
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        problems.add("'" + key + "' holds '" + text + "', not an http:// or https:// URL with a host");
        return null;
    }

    private static void atLeast(long value, long min, String key, List<String> problems) {
        if (value < min) {
            problems.add("'" + key + "' must be at least " + min + ", not " + value);
        }
    }

    private static String trim(String s) {
        return s == null ? "" : s.trim();
    }
}
