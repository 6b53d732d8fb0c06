package io.parley.config.guard.internal;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.cm.ConfigurationEvent;
import org.osgi.service.cm.ConfigurationListener;
import org.osgi.service.cm.ConfigurationPlugin;
import org.osgi.service.cm.Configuration;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.util.tracker.ServiceTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Registers the guard as a {@link ConfigurationPlugin} for every PID. ConfigAdmin runs every configuration through
 * it before handing it to a target, and Declarative Services asks for configurations through
 * {@code Configuration.getProcessedProperties} (DS 1.4), so every component's configuration passes here; the
 * launcher starts this bundle with ConfigAdmin, before Declarative Services.
 *
 * <p>The registration's {@value #REJECTED} property lists the values refused without a previous value to keep
 * (one line each: "PID: conf/file.cfg: key = value is ... (allowed: ...)"); the launcher refuses to start while it
 * is not empty.
 *
 * <p>{@value #VERIFY_MILLIS} ms after a configuration was handed out, the guard asks Declarative Services how the
 * PID's components fared: running, the configuration is confirmed; failed to activate with a newer configuration
 * (a check only the component makes), the PID is pinned to the confirmed configuration, which is delivered again
 * (see {@link ConfigGuard#pin}), and the component's message is logged with the file.
 *
 * <p>Threads: {@code modifyConfiguration} runs on ConfigAdmin's and SCR's threads; the rule cache is concurrent and
 * {@link ConfigGuard} synchronises itself; verifications run on one daemon thread, "parley-config-guard". Nothing
 * is left running after {@link #stop}.
 */
public final class Activator implements BundleActivator {
    /** Service property (String[]) of the plugin registration: the open problems. */
    public static final String REJECTED = "parley.config.rejected";
    /** cm.ranking of the plugin: inside 0..1000, where plugins may change values. */
    static final int RANKING = 500;
    /** How long after a delivery the components of its PID are looked at. */
    static final long VERIFY_MILLIS = 2000;
    /** How often the components of a PID are looked at while they neither run nor failed. */
    static final int VERIFY_ATTEMPTS = 8;
    /** {@code ComponentConfigurationDTO.FAILED_ACTIVATION} (DS 1.4). */
    private static final int FAILED_ACTIVATION = 16;
    private static final Logger LOG = LoggerFactory.getLogger("io.parley.config.guard");

    /** Bundle id → (last-modified stamp, PID → key → rule). */
    private final Map<Long, Map.Entry<Long, Map<String, Map<String, Rule>>>> rules = new ConcurrentHashMap<>();
    private volatile ServiceRegistration<ConfigurationPlugin> registration;
    private ServiceRegistration<ConfigurationListener> listener;
    private BundleListener bundles;
    private ConfigGuard guard;
    /** PID → the PID its rules are under (the factory PID of a factory configuration). */
    private final Map<String, String> ruleKeys = new ConcurrentHashMap<>();
    private final Map<String, ScheduledFuture<?>> verifications = new ConcurrentHashMap<>();
    private ScheduledExecutorService verifier;
    private ServiceTracker<ServiceComponentRuntime, ServiceComponentRuntime> scr;
    private ServiceTracker<ConfigurationAdmin, ConfigurationAdmin> cm;

    @Override
    public void start(BundleContext context) {
        guard = new ConfigGuard(context.getProperty("parley.home"), LOG::warn, this::publish);
        verifier = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "parley-config-guard");
            t.setDaemon(true);
            return t;
        });
        scr = new ServiceTracker<>(context, ServiceComponentRuntime.class, null);
        scr.open();
        cm = new ServiceTracker<>(context, ConfigurationAdmin.class, null);
        cm.open();
        bundles = event -> {
            if (event.getType() == BundleEvent.UPDATED || event.getType() == BundleEvent.UNINSTALLED
                    || event.getType() == BundleEvent.UNRESOLVED) {
                rules.remove(event.getBundle().getBundleId());
            }
        };
        context.addBundleListener(bundles);
        ConfigurationPlugin plugin = this::modify;
        registration = context.registerService(ConfigurationPlugin.class, plugin, properties(List.of()));
        ConfigurationListener deletions = event -> {
            if (event.getType() == ConfigurationEvent.CM_DELETED) {
                guard.deleted(event.getPid());
            }
        };
        listener = context.registerService(ConfigurationListener.class, deletions, null);
    }

    @Override
    public void stop(BundleContext context) throws InterruptedException {
        verifier.shutdownNow();
        verifier.awaitTermination(5, TimeUnit.SECONDS);
        scr.close();
        cm.close();
        context.removeBundleListener(bundles);
        listener.unregister();
        registration.unregister();
        registration = null;
        rules.clear();
    }

    private void modify(ServiceReference<?> target, Dictionary<String, Object> props) {
        Bundle bundle = target == null ? null : target.getBundle();
        if (bundle == null || props == null) {
            return;
        }
        Object factoryPid = props.get(ConfigurationAdmin.SERVICE_FACTORYPID);
        Object pid = factoryPid != null ? factoryPid : props.get(Constants.SERVICE_PID);
        if (pid == null) {
            return;
        }
        Map<String, Rule> keys = rulesOf(bundle).get(pid.toString());
        if (keys == null || keys.isEmpty()) {
            return;
        }
        String servicePid = props.get(Constants.SERVICE_PID).toString();
        guard.check(servicePid, keys, props);
        ruleKeys.put(servicePid, pid.toString());
        scheduleVerify(servicePid, 0);
    }

    /** Looks at the components of {@code pid} after a delay that grows with {@code attempt}, replacing a pending look. */
    private void scheduleVerify(String pid, int attempt) {
        verifications.compute(pid, (p, pending) -> {
            if (pending != null && attempt == 0) {
                pending.cancel(false);
            }
            try {
                return verifier.schedule(() -> {
                    try {
                        verify(p, attempt);
                    } catch (RuntimeException | LinkageError e) {
                        LOG.warn("cannot tell how the components of {} fared: {}", p, e.toString());
                    }
                }, VERIFY_MILLIS << Math.min(attempt, 4), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                return null;
            }
        });
    }

    /**
     * Confirms the configuration of {@code pid} if its components run, pins it back if they failed with it, and
     * looks again later (up to {@value #VERIFY_ATTEMPTS} times) while they are neither (still starting, or waiting
     * for a service).
     */
    private void verify(String pid, int attempt) {
        verifications.remove(pid);
        ServiceComponentRuntime runtime = scr.getService();
        String key = ruleKeys.get(pid);
        if (runtime == null || key == null) {
            return;
        }
        String failure = null;
        boolean running = false;
        for (ComponentDescriptionDTO d : runtime.getComponentDescriptionDTOs()) {
            if (d.configurationPid == null || !List.of(d.configurationPid).contains(key)) {
                continue;
            }
            for (ComponentConfigurationDTO c : runtime.getComponentConfigurationDTOs(d)) {
                if (c.state == FAILED_ACTIVATION) {
                    failure = d.name + ": " + rootCause(c.failure);
                } else if (c.state == ComponentConfigurationDTO.ACTIVE || c.state == ComponentConfigurationDTO.SATISFIED) {
                    running = true;
                }
            }
        }
        LOG.debug("configuration {}: running {}, failure {}", pid, running, failure);
        if (failure == null) {
            if (running) {
                guard.confirm(pid);
            } else if (attempt + 1 < VERIFY_ATTEMPTS) {
                scheduleVerify(pid, attempt + 1);
            }
            return;
        }
        String line = guard.pin(pid, failure);
        if (line != null) {
            LOG.warn(line);
            redeliver(pid);
        }
    }

    /** Has ConfigAdmin hand the configuration of {@code pid} out again (the plugin then replaces it). */
    private void redeliver(String pid) {
        ConfigurationAdmin admin = cm.getService();
        if (admin == null) {
            return;
        }
        try {
            Configuration[] configs = admin.listConfigurations("(" + Constants.SERVICE_PID + "=" + pid + ")");
            if (configs != null && configs.length == 1) {
                configs[0].update(configs[0].getProperties());
            }
        } catch (IOException | org.osgi.framework.InvalidSyntaxException | IllegalStateException e) {
            LOG.warn("cannot restore the previous configuration of {}: {}", pid, e.toString());
        }
    }

    /** The message of the innermost cause in a stack-trace text ("Caused by: X: message"), else its first line. */
    static String rootCause(String failure) {
        if (failure == null) {
            return "failed to activate";
        }
        String result = null;
        for (String line : failure.split("\\R")) {
            String l = line.strip();
            if (result == null && !l.isEmpty()) {
                result = l;
            } else if (l.startsWith("Caused by: ")) {
                result = l.substring("Caused by: ".length());
            }
        }
        if (result == null) {
            return "failed to activate";
        }
        // "java.lang.IllegalArgumentException: idle.timeout.seconds must be >= 0: -5" -> the message
        int colon = result.indexOf(": ");
        return colon > 0 && result.substring(0, colon).matches("[\\w.$]+") ? result.substring(colon + 2) : result;
    }

    private Map<String, Map<String, Rule>> rulesOf(Bundle bundle) {
        long stamp = bundle.getLastModified();
        Map.Entry<Long, Map<String, Map<String, Rule>>> cached = rules.get(bundle.getBundleId());
        if (cached != null && cached.getKey() == stamp) {
            return cached.getValue();
        }
        Map<String, Map<String, Rule>> read = Descriptions.rules(componentXmls(bundle), entries(bundle,
                bundle.findEntries("OSGI-INF/metatype", "*.xml", false)));
        rules.put(bundle.getBundleId(), Map.entry(stamp, read));
        return read;
    }

    private static List<byte[]> componentXmls(Bundle bundle) {
        String header = bundle.getHeaders("").get("Service-Component");
        List<byte[]> out = new ArrayList<>();
        if (header == null) {
            return out;
        }
        for (String path : header.split(",")) {
            String p = path.strip();
            int semicolon = p.indexOf(';');
            if (semicolon >= 0) {
                p = p.substring(0, semicolon).strip();
            }
            if (p.isEmpty()) {
                continue;
            }
            if (p.contains("*")) {
                int slash = p.lastIndexOf('/');
                String dir = slash < 0 ? "/" : p.substring(0, slash);
                out.addAll(entries(bundle, bundle.findEntries(dir, p.substring(slash + 1), false)));
            } else {
                URL url = bundle.getEntry(p);
                if (url != null) {
                    out.addAll(entries(bundle, java.util.Collections.enumeration(List.of(url))));
                }
            }
        }
        return out;
    }

    private static List<byte[]> entries(Bundle bundle, Enumeration<URL> urls) {
        List<byte[]> out = new ArrayList<>();
        while (urls != null && urls.hasMoreElements()) {
            URL url = urls.nextElement();
            try (InputStream in = url.openStream()) {
                out.add(in.readAllBytes());
            } catch (IOException e) {
                LOG.warn("cannot read {} of {}: {}", url, bundle.getSymbolicName(), e.toString());
            }
        }
        return out;
    }

    private void publish() {
        ServiceRegistration<ConfigurationPlugin> reg = registration;
        if (reg == null) {
            return;
        }
        try {
            reg.setProperties(properties(guard.openProblems()));
        } catch (IllegalStateException unregistered) {
            // stopping
        }
    }

    private static Dictionary<String, Object> properties(List<String> problems) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put(ConfigurationPlugin.CM_RANKING, RANKING);
        p.put(REJECTED, problems.toArray(new String[0]));
        p.put(Constants.SERVICE_DESCRIPTION, "Parley configuration guard: checks values against their components' types");
        return p;
    }
}
