package io.parley.transport.http.internal;

import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Admission of HTTP API connections: at most {@code max} open at once and at most {@code maxPerAddress} from one
 * client address. A connection is <em>unproven</em> until one of its requests has presented the admin token; when a
 * limit is reached, a new connection takes the place of the oldest unproven one (of its address for the per-address
 * limit, of all for the global one), which is closed. Only when every connection counted against the limit is proven
 * is the new one refused. So unauthenticated connections that hold a slot without finishing a request (a slowloris)
 * cannot lock authenticated callers out: they are the first to go.
 *
 * <p>A connection that presented a valid blob ticket ({@link #ticketed}) is in between: tickets are the credentials of
 * clients, who get them freely, so such a connection goes after every unproven one but before any that presented the
 * admin token (which it never displaces). Ticket holders cannot lock the admin API out by holding the slots.
 *
 * <p>Refused and evicted connections and late requests are logged at WARN, at most once per {@link #LOG_INTERVAL_NANOS} with counts.
 *
 * <p>Thread-safe: one lock guards all state; every operation is O(1) and is called once or twice per connection.
 */
final class ConnectionSlots {

    private static final Logger LOG = LoggerFactory.getLogger(ConnectionSlots.class);
    static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static final class Bucket {
        int open;
        final LinkedHashSet<Channel> unproven = new LinkedHashSet<>();
        final LinkedHashSet<Channel> ticketed = new LinkedHashSet<>();
    }

    private final int max;
    private final int maxPerAddress;
    private final LongSupplier nanoClock;
    // guarded by this
    private final Map<InetAddress, Bucket> buckets = new HashMap<>();
    private final LinkedHashSet<Channel> unproven = new LinkedHashSet<>();
    private final LinkedHashSet<Channel> ticketed = new LinkedHashSet<>();
    private final Map<Channel, InetAddress> addresses = new HashMap<>();
    private int open;
    private long refused;
    private long evicted;
    private long timedOut;
    private long lastLog;

    ConnectionSlots(int max, int maxPerAddress) {
        this(max, maxPerAddress, System::nanoTime);
    }

    ConnectionSlots(int max, int maxPerAddress, LongSupplier nanoClock) {
        if (max < 1 || maxPerAddress < 1) {
            throw new IllegalArgumentException("connection limits must be positive: " + max + ", " + maxPerAddress);
        }
        this.max = max;
        this.maxPerAddress = maxPerAddress;
        this.nanoClock = nanoClock;
        this.lastLog = nanoClock.getAsLong() - LOG_INTERVAL_NANOS;
    }

    /**
     * Counts a newly accepted connection, closing an unproven one to make room if needed.
     *
     * @return true if the connection holds a slot (call {@link #closed} when it closes); false if it must be refused
     *         (it holds none)
     */
    boolean admit(Channel channel) {
        InetAddress address = addressOf(channel.remoteAddress());
        Channel victim = null;
        synchronized (this) {
            Bucket bucket = buckets.computeIfAbsent(address, a -> new Bucket());
            if (bucket.open >= maxPerAddress) {
                victim = oldest(bucket.unproven, bucket.ticketed);
            } else if (open >= max) {
                victim = oldest(unproven, ticketed);
            }
            boolean full = bucket.open >= maxPerAddress || open >= max;
            if (full && victim == null) {
                refused++;
                if (bucket.open == 0) {
                    buckets.remove(address);
                }
                maybeLog();
                return false;
            }
            if (victim != null) {
                release(victim); // its close listener finds it gone and does nothing
                evicted++;
                maybeLog();
            }
            bucket.open++;
            open++;
            bucket.unproven.add(channel);
            unproven.add(channel);
            addresses.put(channel, address);
        }
        if (victim != null) {
            victim.close();
        }
        return true;
    }

    /** The connection presented the admin token: it is no longer evicted to make room. */
    synchronized void proven(Channel channel) {
        InetAddress address = addresses.get(channel);
        if (address != null) {
            unproven.remove(channel);
            ticketed.remove(channel);
            Bucket bucket = buckets.get(address);
            bucket.unproven.remove(channel);
            bucket.ticketed.remove(channel);
        }
    }

    /**
     * The connection presented a valid blob ticket: it is evicted to make room only when no unproven connection is
     * left, never in place of one that presented the admin token.
     */
    synchronized void ticketed(Channel channel) {
        InetAddress address = addresses.get(channel);
        if (address != null && unproven.remove(channel)) {
            ticketed.add(channel);
            Bucket bucket = buckets.get(address);
            bucket.unproven.remove(channel);
            bucket.ticketed.add(channel);
        }
    }

    /** An admitted connection closed. Idempotent. */
    synchronized void closed(Channel channel) {
        release(channel);
    }

    /** A request missed its head or body deadline (counted for the log). */
    synchronized void timedOut() {
        timedOut++;
        maybeLog();
    }

    synchronized int open() {
        return open;
    }

    private void release(Channel channel) {
        InetAddress address = addresses.remove(channel);
        if (address == null) {
            return;
        }
        unproven.remove(channel);
        ticketed.remove(channel);
        Bucket bucket = buckets.get(address);
        bucket.unproven.remove(channel);
        bucket.ticketed.remove(channel);
        open--;
        if (--bucket.open == 0) {
            buckets.remove(address);
        }
    }

    /** @return the oldest of {@code first}, else the oldest of {@code then}, else null */
    private static Channel oldest(LinkedHashSet<Channel> first, LinkedHashSet<Channel> then) {
        Iterator<Channel> it = first.iterator();
        if (it.hasNext()) {
            return it.next();
        }
        it = then.iterator();
        return it.hasNext() ? it.next() : null;
    }

    private void maybeLog() {
        long now = nanoClock.getAsLong();
        if (now - lastLog < LOG_INTERVAL_NANOS) {
            return;
        }
        lastLog = now;
        LOG.warn("HTTP API under connection pressure (max.connections={}, max.connections.per.address={}); so far {} "
                        + "connections refused, {} connections without the admin token closed to make room, {} requests that "
                        + "did not arrive in time (header.timeout.ms, body.timeout.ms) closed",
                max, maxPerAddress, refused, evicted, timedOut);
    }

    private static InetAddress addressOf(SocketAddress remote) {
        return remote instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress() : InetAddress.getLoopbackAddress();
    }
}
