package io.parley.push;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Just enough of a BundleContext to activate a component by hand: records {@code registerService} calls and whether
 * each registration was unregistered. Every other method throws.
 */
final class FakeBundleContext {

    /** One registerService call. */
    static final class Registered {
        final String type;
        final Object service;
        final Map<String, Object> properties;
        volatile boolean unregistered;

        Registered(String type, Object service, Map<String, Object> properties) {
            this.type = type;
            this.service = service;
            this.properties = properties;
        }
    }

    final List<Registered> registered = Collections.synchronizedList(new ArrayList<>());

    BundleContext context() {
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BundleContext.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("registerService") && args[0] instanceof Class<?> type) {
                        Map<String, Object> properties = new HashMap<>();
                        Dictionary<?, ?> dictionary = (Dictionary<?, ?>) args[2];
                        if (dictionary != null) {
                            for (var keys = dictionary.keys(); keys.hasMoreElements(); ) {
                                Object key = keys.nextElement();
                                properties.put((String) key, dictionary.get(key));
                            }
                        }
                        Registered registration = new Registered(type.getName(), args[1], properties);
                        registered.add(registration);
                        return Proxy.newProxyInstance(getClass().getClassLoader(),
                                new Class<?>[] {ServiceRegistration.class}, (p, m, a) -> {
                                    if (m.getName().equals("unregister")) {
                                        if (registration.unregistered) {
                                            throw new IllegalStateException("already unregistered");
                                        }
                                        registration.unregistered = true;
                                        return null;
                                    }
                                    throw new UnsupportedOperationException(m.getName());
                                });
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
