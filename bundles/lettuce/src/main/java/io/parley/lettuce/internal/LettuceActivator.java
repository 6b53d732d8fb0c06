package io.parley.lettuce.internal;

import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.slf4j.LoggerFactory;

/**
 * Initialises netty's {@link ImmediateEventExecutor} and {@link GlobalEventExecutor} when this bundle starts.
 *
 * <p>Each keeps, for as long as netty is loaded, a {@link Throwable} created while its class initialised, and with its
 * stack trace the classes on that thread's stack, so their class loaders stay reachable. Lettuce initialises both the
 * first time client resources are built or shut down; from a Redis bundle's activation or deactivation, that would
 * keep the bundle's revision in memory after it is updated. Initialised here, the stack holds only this bundle, the
 * framework and the launcher, which live as long. This bundle therefore starts before any bundle uses Lettuce (the
 * distribution starts it before the core). A failure is logged and leaves the initialisation to the first user.
 */
public final class LettuceActivator implements BundleActivator {

    @Override
    public void start(BundleContext context) {
        try {
            for (Class<?> type : new Class<?>[] {ImmediateEventExecutor.class, GlobalEventExecutor.class}) {
                Class.forName(type.getName(), true, type.getClassLoader());
            }
        } catch (LinkageError | ClassNotFoundException e) {
            LoggerFactory.getLogger(LettuceActivator.class).warn("Could not initialise netty's shared executors; "
                    + "the first bundle that uses Lettuce does it instead, and that revision of it stays in memory", e);
        }
    }

    @Override
    public void stop(BundleContext context) {
        // nothing: what start() initialised belongs to netty
    }
}
