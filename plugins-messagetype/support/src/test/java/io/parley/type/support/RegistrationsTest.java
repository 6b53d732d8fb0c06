package io.parley.type.support;

import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RegistrationsTest {
    final List<String> registered = new ArrayList<>();
    final List<String> unregistered = new ArrayList<>();

    @Test
    void eachServiceIsRegisteredWithItsOnePropertyAndAllAreUnregisteredEvenIfSomeAreGone() {
        BundleContext context = (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {BundleContext.class}, (InvocationHandler) (p, method, args) -> {
                    assertEquals("registerService", method.getName());
                    Dictionary<?, ?> props = (Dictionary<?, ?>) args[2];
                    assertEquals(1, props.size());
                    String name = ((Class<?>) args[0]).getSimpleName() + " " + args[1] + " " + props.get("type");
                    registered.add(name);
                    return registration(name);
                });
        Registrations registrations = new Registrations(context);
        registrations.add(CharSequence.class, "first", "type", "a");
        registrations.add(CharSequence.class, "gone", "type", "b");
        registrations.add(Object.class, "third", "type", "c");
        assertEquals(List.of("CharSequence first a", "CharSequence gone b", "Object third c"), registered);
        registrations.unregisterAll();
        assertEquals(List.of("CharSequence first a", "Object third c"), unregistered);
        registrations.unregisterAll();
        assertEquals(2, unregistered.size(), "once only");
    }

    /** A registration the framework already dropped when its service's name says "gone". */
    private ServiceRegistration<?> registration(String name) {
        return (ServiceRegistration<?>) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ServiceRegistration.class}, (p, method, args) -> {
                    assertEquals("unregister", method.getName());
                    if (name.contains("gone")) {
                        throw new IllegalStateException("already unregistered");
                    }
                    unregistered.add(name);
                    return null;
                });
    }
}
