package io.parley.auth.jwt.internal;

import io.parley.auth.jwt.JwtTokens;
import io.parley.core.api.Principal;
import io.parley.core.spi.auth.Authenticator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.AttributeType;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;

/**
 * The JWT {@link Authenticator}. Configured by PID {@value #PID}.
 *
 * <p>The component itself is always active, but it registers the {@link Authenticator} service only when the
 * configured secret is usable (at least 32 UTF-8 bytes). With an empty or short secret it logs an ERROR and
 * registers nothing, so the core refuses every hello: there is no unauthenticated mode. A configuration change
 * re-activates the component, so fixing {@code conf/parley.auth.jwt.cfg} takes effect without a restart.
 */
@Component(name = JwtAuthenticatorComponent.PID, configurationPid = JwtAuthenticatorComponent.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, service = {}, immediate = true)
@Designate(ocd = JwtAuthenticatorComponent.Config.class)
public final class JwtAuthenticatorComponent implements Authenticator {
    public static final String PID = "parley.auth.jwt";

    private static final Logger LOG = LoggerFactory.getLogger(JwtAuthenticatorComponent.class);

    @ObjectClassDefinition(name = "Parley JWT authenticator")
    public @interface Config {
        @AttributeDefinition(type = AttributeType.PASSWORD,
                description = "HS256 secret; its UTF-8 bytes are the key, at least 32 of them. Empty: no authenticator.")
        String secret() default "";

        @AttributeDefinition(description = "Required iss claim")
        String issuer() default JwtTokens.DEFAULT_ISSUER;

        @AttributeDefinition(description = "Tolerated clock difference for exp/iat/nbf, in seconds")
        long clock_skew_seconds() default 30;

        @AttributeDefinition(description = "Longest token lifetime accepted (exp minus iat), in seconds")
        long max_lifetime_seconds() default 2_592_000;
    }

    private final JwtTokens tokens;
    private final ServiceRegistration<Authenticator> registration;

    @Activate
    public JwtAuthenticatorComponent(BundleContext context, Config config) {
        this.tokens = create(config);
        this.registration = tokens == null ? null : context.registerService(Authenticator.class, this, null);
        if (tokens != null) {
            LOG.info("JWT authenticator ready (issuer={}, clock skew={}s, max token lifetime={}s)", tokens.issuer(),
                    config.clock_skew_seconds(), config.max_lifetime_seconds());
        }
    }

    private static JwtTokens create(Config config) {
        String secret = config.secret() == null ? "" : config.secret().trim();
        if (secret.isEmpty()) {
            LOG.error("No JWT secret configured (PID {}, key 'secret'): no Authenticator is registered and every "
                    + "client hello will be refused. Set a secret of at least {} bytes in conf/{}.cfg.",
                    PID, JwtTokens.MIN_SECRET_BYTES, PID);
            return null;
        }
        try {
            return new JwtTokens(secret.getBytes(StandardCharsets.UTF_8), config.issuer(),
                    Duration.ofSeconds(config.clock_skew_seconds()), Duration.ofSeconds(config.max_lifetime_seconds()),
                    Clock.systemUTC());
        } catch (IllegalArgumentException e) {
            LOG.error("Unusable JWT configuration (PID {}): {}. No Authenticator is registered.", PID, e.getMessage());
            return null;
        }
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            registration.unregister();
        }
    }

    @Override
    public Principal authenticate(String token, String deviceId) {
        return tokens.verify(token, deviceId);
    }
}
