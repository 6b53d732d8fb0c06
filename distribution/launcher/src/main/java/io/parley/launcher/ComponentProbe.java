package io.parley.launcher;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Asks Declarative Services which components failed to activate — a transport whose port is taken, a store whose
 * directory cannot be written, a configuration value that is not a number — without the DS API on the launcher's
 * class path (the runtime service is called reflectively, like {@link ConfigAdminProbe}). Their bundles are
 * ACTIVE all the same, so this is what tells a working server from one that only looks started.
 */
final class ComponentProbe {
    static final String SCR = "org.osgi.service.component.runtime.ServiceComponentRuntime";
    /** {@code ComponentConfigurationDTO.FAILED_ACTIVATION} (DS 1.4). */
    static final int FAILED_ACTIVATION = 16;
    private static final Pattern NOT_A_NUMBER = Pattern.compile("For input string: \"(.*)\"");

    private ComponentProbe() {
    }

    /** One component that failed: its name, its configuration PIDs, and the failure text SCR recorded. */
    record Failure(String component, List<String> pids, String failure) {
    }

    /**
     * @return the components in state FAILED_ACTIVATION, once two looks {@code settleMillis} apart agree (activations
     * triggered by the last started bundles may still be running); empty if no component runtime is registered
     */
    static List<Failure> failures(BundleContext context, long settleMillis) throws InterruptedException {
        List<Failure> previous = look(context);
        for (int i = 0; i < 50; i++) {
            Thread.sleep(settleMillis);
            List<Failure> now = look(context);
            if (now.equals(previous)) {
                return now;
            }
            previous = now;
        }
        return previous;
    }

    private static List<Failure> look(BundleContext context) {
        ServiceReference<?> ref = context.getServiceReference(SCR);
        if (ref == null) {
            return List.of();
        }
        Object scr = context.getService(ref);
        if (scr == null) {
            return List.of();
        }
        try {
            Bundle provider = ref.getBundle();
            Class<?> api = provider.loadClass(SCR);
            Class<?> descriptionType = provider.loadClass("org.osgi.service.component.runtime.dto.ComponentDescriptionDTO");
            Method descriptions = api.getMethod("getComponentDescriptionDTOs", Bundle[].class);
            Method configurations = api.getMethod("getComponentConfigurationDTOs", descriptionType);
            List<Failure> failures = new ArrayList<>();
            for (Object description : (Collection<?>) descriptions.invoke(scr, (Object) new Bundle[0])) {
                for (Object configuration : (Collection<?>) configurations.invoke(scr, description)) {
                    int state = configuration.getClass().getField("state").getInt(configuration);
                    if (state == FAILED_ACTIVATION) {
                        Object failure = configuration.getClass().getField("failure").get(configuration);
                        String name = (String) descriptionType.getField("name").get(description);
                        Object pids = descriptionType.getField("configurationPid").get(description);
                        List<String> pidList = new ArrayList<>();
                        for (int i = 0; pids != null && i < Array.getLength(pids); i++) {
                            pidList.add((String) Array.get(pids, i));
                        }
                        failures.add(new Failure(name, pidList, failure == null ? "" : failure.toString()));
                    }
                }
            }
            return failures;
        } catch (ReflectiveOperationException | RuntimeException e) {
            BootLog.warn("cannot ask Declarative Services for failed components: " + e);
            return List.of();
        } finally {
            try {
                context.ungetService(ref);
            } catch (IllegalStateException ignored) {
                // the framework is stopping
            }
        }
    }

    /**
     * A line an operator can act on: the component, the root cause's message, and — for a configuration value that
     * is not a number — the file and key that hold it.
     */
    static String explain(Failure f, Path conf) {
        String cause = rootCause(f.failure());
        StringBuilder line = new StringBuilder(f.component()).append(": ").append(cause);
        Matcher m = NOT_A_NUMBER.matcher(f.failure());
        for (String pid : f.pids()) {
            Path cfg = conf.resolve(pid + ".cfg");
            if (!Files.isRegularFile(cfg)) {
                continue;
            }
            if (m.find(0)) {
                String key = keyWithValue(cfg, m.group(1));
                if (key != null) {
                    return f.component() + ": conf/" + cfg.getFileName() + ": " + key + " = " + m.group(1)
                            + " is not a number";
                }
            }
            line.append(" (configuration: conf/").append(cfg.getFileName()).append(')');
        }
        return line.toString();
    }

    /** The message of the innermost cause in a stack-trace text ("Caused by: X: message"), else its first line. */
    static String rootCause(String failure) {
        String result = null;
        for (String line : failure.split("\\R")) {
            String l = line.strip();
            if (result == null && !l.isEmpty()) {
                result = l;
            } else if (l.startsWith("Caused by: ")) {
                result = l.substring("Caused by: ".length());
            }
        }
        return result == null ? "failed to activate" : result;
    }

    private static String keyWithValue(Path cfg, String value) {
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(cfg)) {
            p.load(in);
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
        for (String key : p.stringPropertyNames()) {
            if (p.getProperty(key).strip().equals(value)) {
                return key;
            }
        }
        return null;
    }
}
