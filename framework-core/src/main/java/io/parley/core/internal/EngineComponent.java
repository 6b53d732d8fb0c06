package io.parley.core.internal;

import com.google.inject.Guice;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.auth.Authenticator;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.command.ConversationEvents;
import io.parley.core.spi.command.DeviceAddress;
import io.parley.core.spi.command.SessionListener;
import io.parley.core.spi.intercept.SendInterceptor;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.delivery.NotificationDispatcher;
import io.parley.core.spi.transport.Receiver;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.SynchronousBundleListener;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;

/**
 * OSGi boundary of the core: registers the {@link Receiver}, this node's {@link LocalNode} and the
 * {@link ConversationEvents} bundles append through outside commands, and feeds the engine
 * with the processors, store, authenticator, dispatchers and cluster link as they come and go. Which store is used is
 * chosen by the reference target {@code store.target} in {@code conf/parley.core.cfg}.
 */
@Component(service = {Receiver.class, LocalNode.class, ConversationEvents.class,
        io.parley.core.spi.ops.Liveness.class}, immediate = true,
        configurationPid = "parley.core")
@Designate(ocd = EngineConfig.class)
public final class EngineComponent implements Receiver, LocalNode, ConversationEvents, SynchronousBundleListener,
        io.parley.core.spi.ops.Liveness {
    private static final Logger LOG = LoggerFactory.getLogger(EngineComponent.class);

    private final BundleContext context;
    private final Engine engine;
    private final org.osgi.framework.ServiceRegistration<io.parley.core.spi.admin.ServerAdmin> admin;

    @Activate
    public EngineComponent(BundleContext context, EngineConfig config) {
        this.context = context;
        com.google.inject.Injector injector = Guice.createInjector(new EngineModule(config));
        this.engine = injector.getInstance(Engine.class);
        context.addBundleListener(this);
        // the operator's view (admin bundle's Gogo commands, HTTP admin endpoints); unregistered in deactivate
        this.admin = context.registerService(io.parley.core.spi.admin.ServerAdmin.class,
                new EngineAdmin(context, injector.getInstance(SessionRegistry.class),
                        injector.getInstance(CurrentStore.class), engine.processors(), engine.commandHandlers(),
                        engine::kick, engine::problems), null);
        LOG.info("Parley core engine started (node {})", config.node_id());
    }

    @Deactivate
    void deactivate() {
        try {
            admin.unregister();
        } catch (IllegalStateException alreadyGone) {
            // the framework unregistered it with the bundle
        }
        context.removeBundleListener(this);
        engine.shutdown();
        LOG.info("Parley core engine stopped");
    }

    @Override
    public InboundSession open(Connection connection) {
        return engine.open(connection);
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, io.parley.core.api.Principal principal) {
        return engine.openAuthenticated(connection, principal);
    }

    @Override
    public int maxFrameBytes() {
        return engine.maxFrameBytes();
    }

    @Override
    public java.util.List<String> problems() {
        return engine.problems();
    }

    @Override
    public java.util.List<io.parley.core.spi.transport.MessageTypeInfo> messageTypes() {
        return engine.messageTypes();
    }

    @Override
    public java.util.List<io.parley.core.spi.transport.CommandTypeInfo> commandTypes() {
        return engine.commandTypes();
    }

    @Override
    public int kick(String user, String device, String reason) {
        return engine.kick(user, device, reason);
    }

    // ---------------------------------------------------------------- LocalNode (what other nodes send)

    @Override
    public String nodeId() {
        return engine.localNode().nodeId();
    }

    @Override
    public void deliver(Message message, List<String> users) {
        engine.localNode().deliver(message, users);
    }

    @Override
    public void relay(Frame frame, List<String> users) {
        engine.localNode().relay(frame, users);
    }

    @Override
    public void readMarked(String conversation, String user, long seq) {
        engine.localNode().readMarked(conversation, user, seq);
    }

    @Override
    public void kick(String user, String device, long startedBefore) {
        engine.localNode().kick(user, device, startedBefore);
    }

    @Override
    public void groupChanged(String groupId) {
        engine.localNode().groupChanged(groupId);
    }

    @Override
    public void closeSessions(String reason) {
        engine.localNode().closeSessions(reason);
    }

    // ---------------------------------------------------------------- ConversationEvents (bundles' own appends)

    @Override
    public java.util.concurrent.CompletionStage<Message> append(String conversation, String asUser, String asDevice,
            String type, com.google.protobuf.Any body, String key, String pushPreview) {
        return engine.events().append(conversation, asUser, asDevice, type, body, key, pushPreview);
    }

    @Override
    public void relay(String conversation, String asUser, String asDevice, String type, com.google.protobuf.Any body,
                      java.util.Collection<DeviceAddress> devices) {
        engine.events().relay(conversation, asUser, asDevice, type, body, devices);
    }

    @Override
    public List<String> members(String conversation, String asUser) {
        return engine.events().members(conversation, asUser);
    }

    // ---------------------------------------------------------------- metrics and liveness (docs/operations.md)

    /** {@code MeterRegistry} services bound as children of the engine's composite, by reference; see EngineMetrics. */
    private final Map<ServiceReference<?>, Object> meterRegistries = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A Micrometer {@code MeterRegistry} service (the metrics bundle's): every engine meter is reported to it until it
     * leaves. Taken by reference, so that this class loads without Micrometer (its import is optional).
     */
    @Reference(name = "meterRegistry", service = io.micrometer.core.instrument.MeterRegistry.class,
            cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addMeterRegistry(ServiceReference<?> ref) {
        Object registry = context.getService(ref);
        if (registry != null && meterRegistries.putIfAbsent(ref, registry) == null) {
            engine.metrics().bind(registry);
        }
    }

    void removeMeterRegistry(ServiceReference<?> ref) {
        Object registry = meterRegistries.remove(ref);
        if (registry != null) {
            engine.metrics().unbind(registry);
            try {
                context.ungetService(ref);
            } catch (IllegalStateException stopping) {
                // this bundle's context is no longer valid: the framework releases it
            }
        }
    }

    @Override
    public java.util.concurrent.CompletionStage<Void> probe() {
        return engine.probe();
    }

    // ---------------------------------------------------------------- session listeners (whiteboard)

    @Reference(name = "sessionListener", service = SessionListener.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addSessionListener(SessionListener listener) {
        engine.sessionListeners().add(listener);
    }

    void removeSessionListener(SessionListener listener) {
        engine.sessionListeners().remove(listener);
    }

    // ---------------------------------------------------------------- processors (whiteboard)

    @Reference(name = "processor", service = MessageProcessor.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addProcessor(ServiceReference<MessageProcessor> ref, MessageProcessor processor) {
        String type = typeOf(ref);
        if (type == null) {
            LOG.warn("Ignoring a MessageProcessor without the {} property from bundle {}", MessageProcessor.TYPE,
                    ref.getBundle() == null ? "?" : ref.getBundle().getSymbolicName());
            return;
        }
        engine.processors().add(type, serviceId(ref), ranking(ref), bundleId(ref), processor);
    }

    void removeProcessor(ServiceReference<MessageProcessor> ref) {
        String type = typeOf(ref);
        if (type == null) {
            return;
        }
        engine.processors().remove(type, serviceId(ref), stopping(ref));
    }

    // ---------------------------------------------------------------- send interceptors

    @Reference(name = "interceptor", service = SendInterceptor.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addInterceptor(ServiceReference<SendInterceptor> ref, SendInterceptor interceptor) {
        String name = property(ref, SendInterceptor.NAME);
        Object budget = ref.getProperty(SendInterceptor.TIMEOUT_MILLIS);
        long timeoutMillis = budget instanceof Number n && n.longValue() > 0 ? n.longValue() : 200;
        boolean failClosed = SendInterceptor.FAIL_CLOSED.equals(ref.getProperty(SendInterceptor.ON_FAILURE));
        engine.interceptors().add(new Interceptors.Entry(interceptor,
                name != null ? name : "service " + serviceId(ref), serviceId(ref), ranking(ref), timeoutMillis,
                failClosed));
    }

    void removeInterceptor(SendInterceptor interceptor) {
        engine.interceptors().remove(interceptor);
    }

    // ---------------------------------------------------------------- command handlers (whiteboard)

    @Reference(name = "command", service = CommandHandler.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addCommandHandler(ServiceReference<CommandHandler> ref, CommandHandler handler) {
        String type = property(ref, CommandHandler.TYPE);
        if (type == null) {
            LOG.warn("Ignoring a CommandHandler without the {} property from bundle {}", CommandHandler.TYPE,
                    ref.getBundle() == null ? "?" : ref.getBundle().getSymbolicName());
            return;
        }
        engine.commandHandlers().add(type, serviceId(ref), ranking(ref), bundleId(ref), handler);
    }

    void removeCommandHandler(ServiceReference<CommandHandler> ref) {
        String type = property(ref, CommandHandler.TYPE);
        if (type != null) {
            engine.commandHandlers().remove(type, serviceId(ref), stopping(ref));
        }
    }

    @Override
    public void bundleChanged(BundleEvent event) {
        long id = event.getBundle().getBundleId();
        for (Whiteboard<?> whiteboard : List.of(engine.processors(), engine.commandHandlers())) {
            switch (event.getType()) {
                case BundleEvent.STOPPED -> whiteboard.bundleStopped(id);
                case BundleEvent.UNRESOLVED, BundleEvent.UPDATED -> whiteboard.bundleUpdating(id);
                case BundleEvent.UNINSTALLED -> whiteboard.bundleUninstalled(id);
                default -> {
                }
            }
        }
    }

    // ---------------------------------------------------------------- store and authenticator

    @Reference(name = "store", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, target = "(parley.store.name=mvstore)")
    void setStore(MessageStore store, Map<String, Object> props) {
        engine.store(store);
        LOG.info("Using message store '{}'", props.get(MessageStore.NAME));
    }

    void unsetStore(MessageStore store) {
        if (engine.store() == store) {
            engine.store(null);
            LOG.warn("Message store left; sends are refused as UNAVAILABLE until one is back");
        }
    }

    @Reference(name = "authenticator", cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void setAuthenticator(Authenticator authenticator) {
        engine.authenticator(authenticator);
    }

    void unsetAuthenticator(Authenticator authenticator) {
        if (engine.authenticator() == authenticator) {
            engine.authenticator(null);
        }
    }

    // ---------------------------------------------------------------- cluster link

    @Reference(name = "cluster", service = ClusterLink.class, cardinality = ReferenceCardinality.OPTIONAL,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void setClusterLink(ClusterLink link) {
        engine.link(link);
        LOG.info("Cluster link bound: {}; sessions, deliveries and relays reach the other nodes", link);
    }

    void unsetClusterLink(ClusterLink link) {
        if (engine.link() == link) {
            engine.unlink(link);
            LOG.warn("Cluster link left: this node delivers to its own sessions only until one is back");
        }
    }

    // ---------------------------------------------------------------- notification channels

    @Reference(name = "dispatcher", service = NotificationDispatcher.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addDispatcher(NotificationDispatcher dispatcher, Map<String, Object> props) {
        String channel = String.valueOf(props.getOrDefault(NotificationDispatcher.CHANNEL, "unnamed"));
        boolean all = NotificationDispatcher.SCOPE_ALL.equals(props.get(NotificationDispatcher.SCOPE));
        Object c = props.get(NotificationDispatcher.CONCURRENCY);
        int concurrency = c instanceof Number n ? n.intValue() : c != null ? Integer.parseInt(c.toString()) : 16;
        engine.addChannel(channel, all, dispatcher, concurrency);
        LOG.info("Notification channel '{}' added ({} recipients, concurrency {})", channel, all ? "all" : "offline", concurrency);
    }

    void removeDispatcher(NotificationDispatcher dispatcher) {
        engine.removeChannel(dispatcher);
    }

    private static String typeOf(ServiceReference<?> ref) {
        return property(ref, MessageProcessor.TYPE);
    }

    /** @return the non-empty String property, or null */
    private static String property(ServiceReference<?> ref, String name) {
        Object t = ref.getProperty(name);
        return t instanceof String s && !s.isEmpty() ? s : null;
    }

    /** True when the service leaves because its bundle is stopping (stop, update, refresh, uninstall). */
    private static boolean stopping(ServiceReference<?> ref) {
        Bundle bundle = ref.getBundle();
        return bundle != null && bundle.getState() == Bundle.STOPPING;
    }

    private static long serviceId(ServiceReference<?> ref) {
        return (Long) ref.getProperty(Constants.SERVICE_ID);
    }

    private static int ranking(ServiceReference<?> ref) {
        return ref.getProperty(Constants.SERVICE_RANKING) instanceof Integer i ? i : 0;
    }

    private static long bundleId(ServiceReference<?> ref) {
        Bundle b = ref.getBundle();
        return b == null ? -1 : b.getBundleId();
    }
}
