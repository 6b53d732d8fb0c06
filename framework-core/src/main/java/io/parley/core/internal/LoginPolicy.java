package io.parley.core.internal;

import io.parley.core.proto.Notice;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who may stay signed in: the cap on a user's devices ({@code max.devices.per.user}, counted over the user's
 * sessions on this node, one device however many sessions it has) and the operator's kick. A hello that makes a user
 * exceed the cap signs out the device whose first session on this node started longest ago (all of its sessions get
 * {@code Notice KIND_KICKED}, which the SDK treats as final: no automatic reconnect); the new login always stays.
 *
 * <p>Threading: any thread; never blocks. Kicked sessions leave the registry when their transport reports the close;
 * until then they are marked {@linkplain ServerSession#kicked() kicked} and no longer counted.
 */
@Singleton
final class LoginPolicy {
    private static final Logger LOG = LoggerFactory.getLogger(LoginPolicy.class);

    private final int maxDevices;
    private final SessionRegistry registry;

    @Inject
    LoginPolicy(EngineConfig config, SessionRegistry registry) {
        this(config.max_devices_per_user(), registry);
    }

    LoginPolicy(int maxDevices, SessionRegistry registry) {
        this.maxDevices = maxDevices;
        this.registry = registry;
    }

    /**
     * {@code session} has just been registered after its hello: if its user now has more than
     * {@code max.devices.per.user} devices here, the oldest other devices are kicked.
     *
     * @return the devices kicked (empty when within the cap or the cap is 0 = unlimited)
     */
    List<String> admitted(ServerSession session) {
        if (maxDevices <= 0 || session.isTrusted()) {
            return List.of();
        }
        // device → the start of its oldest live session; the newcomer's device is never chosen
        Map<String, Long> devices = new LinkedHashMap<>();
        for (ServerSession s : registry.sessions(session.userId())) {
            if (s.isTrusted() || s.isClosed() || s.kicked()) {
                continue;
            }
            devices.merge(s.deviceId(), s.startedAt(), Math::min);
        }
        List<String> kicked = new ArrayList<>();
        while (devices.size() > maxDevices) {
            String oldest = null;
            for (Map.Entry<String, Long> d : devices.entrySet()) {
                if (!d.getKey().equals(session.deviceId()) && (oldest == null || d.getValue() < devices.get(oldest))) {
                    oldest = d.getKey();
                }
            }
            if (oldest == null) {
                break;
            }
            devices.remove(oldest);
            kicked.add(oldest);
            kick(session.userId(), oldest, "signed in on more than " + maxDevices
                    + " devices; this device, the longest signed in, was signed out");
        }
        return kicked;
    }

    /**
     * The operator ends the sessions of {@code user} on this node: on {@code device} only, or on every device when
     * {@code device} is null. Each gets {@code Notice KIND_KICKED} with {@code reason} and its connection closes.
     *
     * @return how many sessions were kicked
     */
    int kick(String user, String device, String reason) {
        int n = 0;
        for (ServerSession s : registry.sessions(user)) {
            if (s.isTrusted() || (device != null && !device.equals(s.deviceId()))) {
                continue;
            }
            if (s.markKicked()) {
                LOG.info("Kicking {}: {}", s, reason);
                s.close(null, Notice.newBuilder().setKind(Notice.Kind.KIND_KICKED).setText(reason).build());
                n++;
            }
        }
        return n;
    }
}
