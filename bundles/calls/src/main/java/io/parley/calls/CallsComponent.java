package io.parley.calls;

import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.command.ConversationEvents;
import io.parley.core.spi.command.SessionListener;
import io.parley.core.spi.message.MessageProcessor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;

/**
 * The OSGi boundary of the call service: configured from {@code conf/parley.calls.cfg} (PID {@code parley.calls},
 * validated: a bad value keeps the component from starting, with the key named in the log), bound to the core's
 * {@link ConversationEvents}, and registering the handlers of {@code call.start}, {@code call.join},
 * {@code call.reject}, {@code call.hangup}, {@code call.signal} and {@code call.turn}, the processors of the types
 * {@code call} and {@code call.signal} (which refuse client sends: only the server appends and relays them) and a
 * {@link SessionListener} (a participant's device dropping starts its leave grace).
 *
 * <p>Owns the {@link CallService} and its timer thread; deactivation unregisters everything, ends the live calls and
 * stops the thread (hot swap leaves nothing behind). A configuration change applies to calls placed after it.
 */
@Component(service = {}, configurationPid = CallsComponent.PID, immediate = true)
@Designate(ocd = CallsComponent.Config.class)
public final class CallsComponent {
    static final String PID = "parley.calls";
    private static final Logger LOG = LoggerFactory.getLogger(CallsComponent.class);

    @ObjectClassDefinition(id = PID, name = "Parley calls")
    public @interface Config {
        @AttributeDefinition(description = "An unanswered call is MISSED after this many seconds (1-600)")
        long ring_timeout_seconds() default 30;

        @AttributeDefinition(description = "Users in one call, the caller included (2-16; a mesh)")
        int max_participants() default 4;

        @AttributeDefinition(description = "Seconds a device whose connection dropped stays in its call (0-600)")
        long leave_grace_seconds() default 20;

        @AttributeDefinition(description = "Lifetime of a room token in seconds (60-86400)")
        long token_seconds() default 3600;

        @AttributeDefinition(description = "Comma-separated stun: URLs handed to devices")
        String stun_urls() default "";

        @AttributeDefinition(description = "Comma-separated turn:/turns: URLs handed to devices")
        String turn_urls() default "";

        @AttributeDefinition(description = "coturn's static-auth-secret (use-auth-secret); empty: no TURN")
        String turn_secret() default "";

        @AttributeDefinition(description = "Lifetime of a TURN credential in seconds (60-86400)")
        long turn_ttl_seconds() default 3600;

        @AttributeDefinition(description = "A call still going after this many hours is ended (1-48)")
        long max_call_hours() default 12;
    }

    private final CallService service;
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();

    @Activate
    public CallsComponent(BundleContext context, Config config,
                          @Reference(name = "events") ConversationEvents events) {
        CallSettings settings;
        try {
            settings = settingsOf(config);
        } catch (IllegalArgumentException e) {
            LOG.error("Not starting the call service: conf/{}.cfg: {}", PID, e.getMessage());
            throw e;
        }
        service = new CallService(events, settings, System::currentTimeMillis);
        try {
            register(context);
        } catch (RuntimeException e) {
            unregister();
            service.close();
            throw e;
        }
        LOG.info("Call service started (ring {} s, {} participants, TURN {})", settings.ringTimeout().toSeconds(),
                settings.maxParticipants(), settings.hasTurn() ? "on" : "off");
    }

    @Modified
    void modified(Config config) {
        try {
            service.settings(settingsOf(config));
        } catch (IllegalArgumentException e) {
            LOG.error("Keeping the previous call settings: conf/{}.cfg: {}", PID, e.getMessage());
        }
    }

    @Deactivate
    void deactivate() {
        unregister();
        service.close();
    }

    static CallSettings settingsOf(Config c) {
        return new CallSettings(Duration.ofSeconds(c.ring_timeout_seconds()), c.max_participants(),
                Duration.ofSeconds(c.leave_grace_seconds()), Duration.ofSeconds(c.token_seconds()),
                CallSettings.urls(c.stun_urls()), CallSettings.urls(c.turn_urls()), c.turn_secret(),
                Duration.ofSeconds(c.turn_ttl_seconds()), Duration.ofHours(c.max_call_hours()));
    }

    private void register(BundleContext context) {
        CallCommands.handlers(service).forEach((type, handler) -> registrations.add(
                context.registerService(CommandHandler.class, handler, props(CommandHandler.TYPE, type))));
        CallCommands.processors().forEach((type, processor) -> registrations.add(
                context.registerService(MessageProcessor.class, processor, props(MessageProcessor.TYPE, type))));
        registrations.add(context.registerService(SessionListener.class, new SessionListener() {
            @Override
            public void closed(String user, String device) {
                service.deviceOffline(user, device);
            }
        }, null));
    }

    private static Dictionary<String, Object> props(String key, String value) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put(key, value);
        return p;
    }

    private void unregister() {
        for (ServiceRegistration<?> r : registrations) {
            try {
                r.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the bundle is stopping: the framework unregistered it
            }
        }
        registrations.clear();
    }
}
