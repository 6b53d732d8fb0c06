package io.parley.launcher;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads configurations out of ConfigAdmin without the ConfigAdmin API on the launcher's class path: the
 * interface is loaded from the bundle that registered the service and called reflectively.
 */
final class ConfigAdminProbe {
    static final String CM = "org.osgi.service.cm.ConfigurationAdmin";
    static final String FILEINSTALL_FILENAME = "felix.fileinstall.filename";

    private ConfigAdminProbe() {
    }

    /**
     * @param filter an LDAP filter for {@code listConfigurations}, or null for all
     * @return PID → properties (values as strings) of the matching configurations; empty when no ConfigAdmin is
     * registered yet
     */
    static Map<String, Map<String, String>> list(BundleContext context, String filter) {
        ServiceReference<?> ref = context.getServiceReference(CM);
        if (ref == null) {
            return Map.of();
        }
        Object cm = context.getService(ref);
        if (cm == null) {
            return Map.of();
        }
        try {
            Bundle provider = ref.getBundle();
            Class<?> cmApi = provider.loadClass(CM);
            Class<?> cfgApi = provider.loadClass("org.osgi.service.cm.Configuration");
            Method listConfigurations = cmApi.getMethod("listConfigurations", String.class);
            Method getPid = cfgApi.getMethod("getPid");
            Method getProperties = cfgApi.getMethod("getProperties");
            Object configs = listConfigurations.invoke(cm, filter);
            Map<String, Map<String, String>> result = new HashMap<>();
            if (configs != null) {
                for (int i = 0; i < Array.getLength(configs); i++) {
                    Object cfg = Array.get(configs, i);
                    Dictionary<?, ?> props = (Dictionary<?, ?>) getProperties.invoke(cfg);
                    Map<String, String> m = new HashMap<>();
                    if (props != null) {
                        for (Enumeration<?> keys = props.keys(); keys.hasMoreElements(); ) {
                            Object k = keys.nextElement();
                            m.put(String.valueOf(k), String.valueOf(props.get(k)));
                        }
                    }
                    result.put((String) getPid.invoke(cfg), m);
                }
            }
            return result;
        } catch (ReflectiveOperationException | RuntimeException e) {
            BootLog.warn("cannot read ConfigAdmin: " + e);
            return Map.of();
        } finally {
            try {
                context.ungetService(ref);
            } catch (IllegalStateException ignored) {
                // the framework is stopping
            }
        }
    }
}
