package io.parley.cluster.redis;

import io.parley.cluster.redis.internal.ClusterOptions;
import io.parley.cluster.redis.internal.RedisClusterLink;
import io.parley.core.spi.cluster.ClusterLink;
import io.parley.core.spi.cluster.LocalNode;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;

/**
 * OSGi boundary of cluster routing on Redis, configured by PID {@value #PID} ({@link RedisClusterConfig}).
 *
 * <p>Always active once the core's {@link LocalNode} is there. With an empty {@code node.id} it does nothing but say
 * so; a configuration it cannot use (a node id that is not the core's, a bad number, braces in the prefix) is logged
 * as an ERROR naming the key and the file, and nothing starts. Otherwise it starts a {@link RedisClusterLink}, which
 * joins in the background and is registered as the {@link ClusterLink} service once it has joined. Deactivation (a
 * configuration change, the bundle stopping) unregisters it, closes this node's sessions so that their clients
 * reconnect and resume (no other node routes to them any more), leaves the cluster and stops every thread.
 */
@Component(name = RedisClusterComponent.PID, configurationPid = RedisClusterComponent.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL, service = {}, immediate = true)
@Designate(ocd = RedisClusterConfig.class)
public final class RedisClusterComponent {

    /** Configuration PID and component name. */
    public static final String PID = "parley.cluster.redis";

    private static final Logger LOG = LoggerFactory.getLogger(RedisClusterComponent.class);
    private static final String FILE = "conf/" + PID + ".cfg";

    private final BundleContext context;
    private final LocalNode local;
    private final RedisClusterLink link;
    private ServiceRegistration<ClusterLink> registration;
    private boolean deactivated;

    @Activate
    public RedisClusterComponent(BundleContext context, RedisClusterConfig config, @Reference LocalNode local) {
        this.context = context;
        this.local = local;
        if (config.node_id().isBlank()) {
            LOG.info("Cluster routing is off: node.id is empty in {} (set it, the same as node.id in "
                    + "conf/parley.core.cfg, to join a cluster; docs/cluster.md)", FILE);
            link = null;
            return;
        }
        List<String> problems = new ArrayList<>();
        ClusterOptions options = options(config, local.nodeId(), problems);
        if (!problems.isEmpty()) {
            problems.forEach(p -> LOG.error("Cluster routing (PID {}): {}; fix it in {}. Not started.", PID, p, FILE));
            link = null;
            return;
        }
        link = RedisClusterLink.start(options, local, this::register);
    }

    private synchronized void register(RedisClusterLink joined) {
        if (deactivated) {
            return;
        }
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("parley.cluster.node", local.nodeId());
        registration = context.registerService(ClusterLink.class, joined, props);
    }

    @Deactivate
    void deactivate() {
        boolean wasRegistered;
        synchronized (this) {
            deactivated = true;
            wasRegistered = registration != null;
            if (registration != null) {
                try {
                    registration.unregister();
                } catch (IllegalStateException alreadyGone) {
                    // the framework unregisters a stopping bundle's services itself
                }
                registration = null;
            }
        }
        if (link != null) {
            if (wasRegistered) {
                local.closeSessions("the cluster link is restarting; reconnect");
            }
            link.close();
        }
    }

    /**
     * @param coreNodeId the core's {@code node.id}
     * @param problems   receives one line per unusable key, naming it
     * @return the options; null when {@code problems} is not empty
     */
    static ClusterOptions options(RedisClusterConfig config, String coreNodeId, List<String> problems) {
        String nodeId = config.node_id().trim();
        if (!ClusterOptions.NODE_ID.matcher(nodeId).matches()) {
            problems.add("'node.id' must be 1-8 characters a-z 0-9, not '" + nodeId + "'");
        } else if (!nodeId.equals(coreNodeId)) {
            problems.add("'node.id' is " + nodeId + " but node.id in conf/parley.core.cfg is " + coreNodeId
                    + ": they must be the same (message ids start with it, and must be unique per node)");
        }
        List<String> uris = ClusterOptions.splitUris(config.redis_uri());
        if (uris.isEmpty()) {
            problems.add("'redis.uri' is empty");
        } else if (!config.redis_cluster() && uris.size() > 1) {
            problems.add("'redis.uri' names " + uris.size() + " servers but redis.cluster is false");
        }
        for (String uri : uris) {
            if (!uri.startsWith("redis://") && !uri.startsWith("rediss://")) {
                problems.add("'redis.uri' must start with redis:// or rediss://, not '" + uri + "'");
            }
        }
        String prefix = config.key_prefix();
        if (prefix.contains("{") || prefix.contains("}")) {
            problems.add("'key.prefix' must not contain { or } (keys carry hash tags)");
        }
        if (config.heartbeat_seconds() < 1) {
            problems.add("'heartbeat.seconds' must be at least 1");
        }
        if (config.lease_seconds() <= config.heartbeat_seconds()) {
            problems.add("'lease.seconds' (" + config.lease_seconds() + ") must be more than heartbeat.seconds ("
                    + config.heartbeat_seconds() + ")");
        }
        if (config.inbox_maxlen() < 1) {
            problems.add("'inbox.maxlen' must be at least 1");
        }
        if (config.inbox_batch() < 1) {
            problems.add("'inbox.batch' must be at least 1");
        }
        if (config.connect_timeout_millis() < 1) {
            problems.add("'connect.timeout.millis' must be at least 1");
        }
        if (config.command_timeout_millis() < 1) {
            problems.add("'command.timeout.millis' must be at least 1");
        }
        if (!problems.isEmpty()) {
            return null;
        }
        return new ClusterOptions(nodeId, uris, config.redis_cluster(), prefix,
                Duration.ofSeconds(config.lease_seconds()), Duration.ofSeconds(config.heartbeat_seconds()),
                config.inbox_maxlen(), config.inbox_batch(), Duration.ofMillis(config.connect_timeout_millis()),
                Duration.ofMillis(config.command_timeout_millis()));
    }
}
