package io.parley.type.support;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;

/**
 * The services a bundle's component registers itself (its processors and command handlers, each under one routing
 * property), unregistered together when it deactivates. Thread-safe.
 */
public final class Registrations {

    private final BundleContext context;
    private final List<ServiceRegistration<?>> registered = new ArrayList<>();

    /** @param context the registering bundle's; used until {@link #unregisterAll} */
    public Registrations(BundleContext context) {
        this.context = context;
    }

    /** Registers {@code service} as {@code type} with the one service property {@code key = value}. */
    public synchronized <S> void add(Class<S> type, S service, String key, String value) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(key, value);
        registered.add(context.registerService(type, service, props));
    }

    /** Unregisters every service added, those the framework already unregistered (a stopping bundle's) included. */
    public synchronized void unregisterAll() {
        for (ServiceRegistration<?> r : registered) {
            try {
                r.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the framework unregisters a stopping bundle's services itself
            }
        }
        registered.clear();
    }
}
