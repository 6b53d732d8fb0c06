package io.parley.core.internal;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.TimeMeter;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The core's rate limits, token buckets (Bucket4j, greedy refill): sends per user (over all of the user's
 * connections on this node), request frames per connection, typing notices per connection, group operations that
 * add other users per user, and new connections per peer IP address. A refused send, frame or group operation is
 * answered with {@link RateLimited} ({@code ERROR_CODE_RATE_LIMITED}, retryable, {@code retry_after_ms} = when the
 * bucket holds a token again); a typing notice over the limit is dropped (it is fire-and-forget); a connection over
 * its address's limit is answered the same error and closed. A rate of 0 switches that limit off.
 *
 * <p>Sessions of trusted in-process adapters (the HTTP API, guarded by its admin token) are not limited: they serve
 * many callers through short sessions. Buckets keyed by user or address that have been idle long enough to be full
 * again are dropped by a sweep on the engine's timer, so the maps hold only recently active keys.
 *
 * <p>Threading: every method is thread-safe, lock-free and never blocks (Bucket4j's lock-free local buckets).
 */
@Singleton
final class Limits {
    private static final Logger LOG = LoggerFactory.getLogger(Limits.class);
    private static final long SWEEP_SECONDS = 60;

    /** {@code perSecond} tokens a second, at most {@code burst} saved up; {@code perSecond == 0}: unlimited. */
    record Rate(long perSecond, long burst) {
        Rate {
            if (perSecond < 0 || burst < 0) {
                throw new IllegalArgumentException("a rate and its burst may not be negative");
            }
            burst = Math.max(burst, perSecond); // a burst below the rate would cap the rate itself
        }

        boolean unlimited() {
            return perSecond == 0;
        }

        /** How long an unused bucket takes to fill up again, ns. */
        long fillNanos() {
            return unlimited() ? 0 : TimeUnit.SECONDS.toNanos(1) * burst / perSecond + 1;
        }
    }

    /** The limits, as configured in {@code parley.core.cfg} (see {@link EngineConfig}). */
    record Settings(Rate sendsPerUser, Rate framesPerConnection, Rate typingPerConnection, Rate groupAddsPerUser,
                    Rate connectionsPerAddress, boolean exemptLoopback, long sendMaxWaitNanos) {

        Settings(Rate sendsPerUser, Rate framesPerConnection, Rate typingPerConnection, Rate groupAddsPerUser,
                 Rate connectionsPerAddress, boolean exemptLoopback) {
            this(sendsPerUser, framesPerConnection, typingPerConnection, groupAddsPerUser, connectionsPerAddress,
                    exemptLoopback, 0);
        }

        static Settings of(EngineConfig c) {
            return new Settings(new Rate(c.limit_sends_per_user_per_second(), c.limit_sends_per_user_burst()),
                    new Rate(c.limit_frames_per_connection_per_second(), c.limit_frames_per_connection_burst()),
                    new Rate(c.limit_typing_per_connection_per_second(), c.limit_typing_per_connection_burst()),
                    new Rate(c.limit_group_adds_per_user_per_second(), c.limit_group_adds_per_user_burst()),
                    new Rate(c.limit_connections_per_ip_per_second(), c.limit_connections_per_ip_burst()),
                    c.limit_connections_exempt_loopback(),
                    TimeUnit.MILLISECONDS.toNanos(Math.max(0, c.limit_sends_max_wait_millis())));
        }
    }

    /** A session's own buckets (created on its first limited frame, kept by the session, gone with it). */
    static final class SessionBuckets {
        private final Bucket frames;
        private final Bucket acks;
        private final Bucket typing;

        private SessionBuckets(Bucket frames, Bucket acks, Bucket typing) {
            this.frames = frames;
            this.acks = acks;
            this.typing = typing;
        }
    }

    private final Settings settings;
    private final TimeMeter clock;
    private final Keyed sendsByUser;
    private final Keyed groupAddsByUser;
    private final Keyed connectionsByAddress;
    private final AtomicLong refusedConnections = new AtomicLong();

    @Inject
    Limits(EngineConfig config, ScheduledExecutorService timer) {
        this(Settings.of(config), TimeMeter.SYSTEM_NANOTIME);
        try {
            timer.scheduleWithFixedDelay(this::sweep, SWEEP_SECONDS, SWEEP_SECONDS, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // the engine is stopping: nothing to sweep
        }
    }

    /** With {@code clock} as the buckets' time source (tests pass a manual one). */
    Limits(Settings settings, TimeMeter clock) {
        this.settings = settings;
        this.clock = clock;
        this.sendsByUser = new Keyed(settings.sendsPerUser());
        this.groupAddsByUser = new Keyed(settings.groupAddsPerUser());
        this.connectionsByAddress = new Keyed(settings.connectionsPerAddress());
    }

    Settings settings() {
        return settings;
    }

    /**
     * A delivery ack or read mark admitted now, for the event-loop fast path: takes a token from the connection's
     * ack bucket if one is there.
     *
     * @return true if the frame may be handled at once (a token was taken, or nothing limits it); false if it would
     *         have to wait, having taken nothing — the caller then goes through {@link #frame}
     */
    boolean ackNow(ServerSession session) {
        if (session.isTrusted() || settings.framesPerConnection().unlimited()) {
            return true;
        }
        SessionBuckets buckets = buckets(session);
        return buckets.acks == null || buckets.acks.tryConsume(1);
    }

    /**
     * A send admitted now, for the event-loop fast path: takes the connection's frame token and the user's send token
     * only if both are there. The frame bucket is the session's own and its frames are handled one at a time, so the
     * token seen is still there when it is taken.
     *
     * @return true if both were taken (or nothing limits the send); false, having taken neither, if the send would be
     *         refused or would have to wait — the caller then goes through {@link #frame} and {@link #send}
     */
    boolean sendNow(ServerSession session) {
        if (session.isTrusted()) {
            return true;
        }
        Bucket frames = settings.framesPerConnection().unlimited() ? null : buckets(session).frames;
        if (frames != null && frames.getAvailableTokens() < 1) {
            return false;
        }
        if (sendsByUser.tryTake(session.userId()) != 0) {
            return false;
        }
        if (frames != null) {
            frames.tryConsume(1);
        }
        return true;
    }

    /**
     * One request frame of an authenticated session, counted against {@code limit.frames.per.connection.*}: every
     * verb in one bucket, refused over it — but delivery acks and read marks ({@code ackOrMark}) in a bucket of their
     * own with the same rate, and never refused: over the limit the frame's token is reserved and the caller handles it
     * after the returned delay (the connection's next frames wait with it). Acks and marks are idempotent raises a
     * client sends one per conversation ("mark everything read", a catch-up): refusing them would leave watermarks
     * and unread counts behind, and counting them with the other requests would have the request after a catch-up
     * refused; slowing them bounds what a flood of them costs.
     *
     * @return ns the caller waits before handling the frame; 0: at once (always 0 unless {@code ackOrMark})
     * @throws RateLimited if the connection sent more requests (not acks or marks) than the limit allows
     */
    long frame(ServerSession session, boolean ackOrMark) {
        if (session.isTrusted() || settings.framesPerConnection().unlimited()) {
            return 0;
        }
        SessionBuckets buckets = buckets(session);
        if (!ackOrMark) {
            take(buckets.frames, "too many requests on this connection");
            return 0;
        }
        if (buckets.acks == null || buckets.acks.tryConsume(1)) {
            return 0;
        }
        return Math.max(1, buckets.acks.consumeIgnoringRateLimits(1));
    }

    /**
     * One send by the session's user. Over {@code limit.sends.per.user.*} the send waits for its token when that
     * comes within {@code limit.sends.max.wait.millis} (the token is reserved now; the caller admits the send after
     * the returned delay, so a client that pipelines a little too fast is slowed, not refused), else it is refused.
     *
     * @return ns the caller waits before admitting the send; 0: at once
     * @throws RateLimited if the wait would be longer than {@code limit.sends.max.wait.millis} (nothing is stored)
     */
    long send(ServerSession session) {
        if (session.isTrusted()) {
            return 0;
        }
        return sendsByUser.takeOrWait(session.userId(), settings.sendMaxWaitNanos(), "too many messages sent by this user");
    }

    /** @return true if the typing notice may be relayed, false if it is over {@code limit.typing.per.connection.*} */
    boolean typing(ServerSession session) {
        if (session.isTrusted() || settings.typingPerConnection().unlimited()) {
            return true;
        }
        return buckets(session).typing.tryConsume(1);
    }

    /**
     * A group operation by the session's user that adds other users (a create with members, an add).
     *
     * @throws RateLimited if over {@code limit.group.adds.per.user.*}
     */
    void groupAdd(ServerSession session) {
        if (session.isTrusted()) {
            return;
        }
        groupAddsByUser.take(session.userId(), "too many group additions by this user");
    }

    /**
     * A transport accepted a connection from {@code remoteAddress} ({@code Connection#remoteAddress()}).
     *
     * @return 0 if it may proceed, else ms until one more connection from that address would be admitted
     */
    long connection(String remoteAddress) {
        if (settings.connectionsPerAddress().unlimited()) {
            return 0;
        }
        String address = hostOf(remoteAddress);
        if (settings.exemptLoopback() && isLoopback(address)) {
            return 0;
        }
        long wait = connectionsByAddress.tryTake(address);
        if (wait > 0) {
            long n = refusedConnections.incrementAndGet();
            if (n == 1 || Long.bitCount(n) == 1) { // 1, 2, 4, 8…: a flood does not flood the log
                LOG.warn("Refused a connection from {}: over limit.connections.per.ip ({} refused so far)", address, n);
            }
        }
        return wait;
    }

    /** Drops the keyed buckets that have been idle long enough to be full again. */
    void sweep() {
        long now = clock.currentTimeNanos();
        sendsByUser.sweep(now);
        groupAddsByUser.sweep(now);
        connectionsByAddress.sweep(now);
    }

    /** @return how many user or address buckets are held (for tests and diagnostics) */
    int keyedBuckets() {
        return sendsByUser.size() + groupAddsByUser.size() + connectionsByAddress.size();
    }

    private SessionBuckets buckets(ServerSession session) {
        return session.limitBuckets(() -> new SessionBuckets(bucket(settings.framesPerConnection()),
                bucket(settings.framesPerConnection()), bucket(settings.typingPerConnection())));
    }

    private Bucket bucket(Rate rate) {
        if (rate.unlimited()) {
            return null;
        }
        return Bucket.builder()
                .addLimit(limit -> limit.capacity(rate.burst()).refillGreedy(rate.perSecond(), Duration.ofSeconds(1)))
                .withCustomTimePrecision(clock)
                .build();
    }

    private static void take(Bucket bucket, String what) {
        if (bucket == null) {
            return;
        }
        if (!bucket.tryConsume(1)) {
            throw new RateLimited(what, waitMillis(nanosToNextToken(bucket)));
        }
    }

    /**
     * Asked only once a token was refused: the admitted path is a plain {@code tryConsume}, which builds no probe
     * object per frame or send.
     */
    private static long nanosToNextToken(Bucket bucket) {
        return bucket.estimateAbilityToConsume(1).getNanosToWaitForRefill();
    }

    private static long waitMillis(long nanos) {
        return Math.max(1, (nanos + 999_999) / 1_000_000);
    }

    /** The host part of a transport's remote address: {@code "10.0.0.1:5000"} → {@code "10.0.0.1"}. */
    static String hostOf(String remoteAddress) {
        String s = remoteAddress == null ? "" : remoteAddress;
        s = s.substring(s.lastIndexOf('/') + 1); // "name/1.2.3.4:5" as InetSocketAddress prints a resolved name
        if (s.startsWith("[")) {
            int end = s.indexOf(']');
            return end > 0 ? s.substring(1, end) : s;
        }
        int colons = (int) s.chars().filter(c -> c == ':').count();
        int last = s.lastIndexOf(':');
        // IPv4 or a name with a port (one colon), or a full IPv6 address with a port (eight colons)
        return (colons == 1 || colons == 8) ? s.substring(0, last) : s;
    }

    static boolean isLoopback(String host) {
        return host.startsWith("127.") || host.equals("::1") || host.equals("0:0:0:0:0:0:0:1")
                || host.equals("localhost");
    }

    /** Buckets by key, created on first use, swept when full again. */
    private final class Keyed {
        private final Rate rate;
        private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

        Keyed(Rate rate) {
            this.rate = rate;
        }

        void take(String key, String what) {
            long wait = tryTake(key);
            if (wait > 0) {
                throw new RateLimited(what, wait);
            }
        }

        /**
         * Takes a token now, or reserves the next one if it comes within {@code maxWaitNanos}.
         *
         * @return ns until the reserved token is there; 0 if taken at once
         * @throws RateLimited if the next token is further away than {@code maxWaitNanos}
         */
        long takeOrWait(String key, long maxWaitNanos, String what) {
            if (rate.unlimited()) {
                return 0;
            }
            Entry e = entry(key);
            if (e.bucket.tryConsume(1)) {
                return 0;
            }
            long nanos = nanosToNextToken(e.bucket);
            if (nanos > maxWaitNanos) {
                throw new RateLimited(what, waitMillis(nanos));
            }
            return Math.max(1, e.bucket.consumeIgnoringRateLimits(1));
        }

        /** @return 0 if a token was taken, else ms until one is there */
        long tryTake(String key) {
            if (rate.unlimited()) {
                return 0;
            }
            Entry e = entry(key);
            return e.bucket.tryConsume(1) ? 0 : waitMillis(nanosToNextToken(e.bucket));
        }

        /** The key's entry, made on its first use; marked used now. */
        private Entry entry(String key) {
            Entry e = entries.get(key);
            if (e == null) {
                e = entries.computeIfAbsent(key, k -> new Entry(bucket(rate)));
            }
            e.lastUsed = clock.currentTimeNanos();
            return e;
        }

        void sweep(long now) {
            long idle = Math.max(rate.fillNanos(), TimeUnit.SECONDS.toNanos(1));
            entries.values().removeIf(e -> now - e.lastUsed > idle);
        }

        int size() {
            return entries.size();
        }
    }

    private static final class Entry {
        final Bucket bucket;
        volatile long lastUsed;

        Entry(Bucket bucket) {
            this.bucket = bucket;
        }
    }
}
