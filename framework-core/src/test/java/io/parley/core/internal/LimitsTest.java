package io.parley.core.internal;

import io.github.bucket4j.TimeMeter;
import io.parley.core.api.Principal;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Notice;
import io.parley.core.spi.transport.Connection;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Limits} on a manual clock: bucket sizes, refill, retry-after, keys, exemptions and the sweep. */
class LimitsTest {

    /** A clock the test moves. */
    static final class ManualClock implements TimeMeter {
        long nanos = 1_000_000_000L;

        void advanceMillis(long ms) {
            nanos += TimeUnit.MILLISECONDS.toNanos(ms);
        }

        @Override
        public long currentTimeNanos() {
            return nanos;
        }

        @Override
        public boolean isWallClockBased() {
            return false;
        }
    }

    private final ManualClock clock = new ManualClock();

    private static Limits.Settings settings(Limits.Rate sends, Limits.Rate frames, Limits.Rate typing,
                                            Limits.Rate groupAdds, Limits.Rate connections, boolean exemptLoopback) {
        return new Limits.Settings(sends, frames, typing, groupAdds, connections, exemptLoopback);
    }

    private static final Limits.Rate OFF = new Limits.Rate(0, 0);

    private static ServerSession session(String user, String device, boolean trusted) {
        ServerSession s = new ServerSession(new ServerSession.Handler() {
            @Override
            public CompletionStage<Void> handle(ServerSession session, Frame frame) {
                return CompletableFuture.completedFuture(null);
            }

            @Override
            public void closed(ServerSession session) {
            }
        }, new NullConnection(), Runnable::run, 16, "s-" + user + "-" + device);
        if (trusted) {
            s.trusted();
        }
        s.authenticated(new Principal(user, device, Instant.now().plusSeconds(3600)));
        return s;
    }

    @Test
    void sendsPerUserAreSharedByTheUsersConnectionsAndRefusedWithRetryAfter() {
        Limits limits = new Limits(settings(new Limits.Rate(10, 20), OFF, OFF, OFF, OFF, true), clock);
        ServerSession phone = session("alice", "phone", false);
        ServerSession laptop = session("alice", "laptop", false);
        ServerSession bob = session("bob", "phone", false);
        for (int i = 0; i < 10; i++) {
            limits.send(phone);
            limits.send(laptop);
        }
        RateLimited refused = assertThrows(RateLimited.class, () -> limits.send(phone));
        Error wire = refused.toError();
        assertEquals(ErrorCode.ERROR_CODE_RATE_LIMITED, wire.getCode());
        assertTrue(wire.getRetryable());
        assertEquals(100, wire.getRetryAfterMs(), "one token of 10/s comes back after 100 ms");
        assertThrows(RateLimited.class, () -> limits.send(laptop));
        limits.send(bob); // another user has their own bucket

        clock.advanceMillis(99);
        assertThrows(RateLimited.class, () -> limits.send(phone));
        clock.advanceMillis(1);
        limits.send(phone); // admitted exactly at retry_after_ms
        assertThrows(RateLimited.class, () -> limits.send(laptop));
        clock.advanceMillis(60_000); // refilled up to the burst, not beyond
        for (int i = 0; i < 20; i++) {
            limits.send(laptop);
        }
        assertThrows(RateLimited.class, () -> limits.send(laptop));
    }

    @Test
    void aSendWaitsForItsTokenWithinTheMaximumWaitElseIsRefused() {
        Limits limits = new Limits(new Limits.Settings(new Limits.Rate(10, 10), OFF, OFF, OFF, OFF, true,
                TimeUnit.MILLISECONDS.toNanos(150)), clock);
        ServerSession phone = session("alice", "phone", false);
        for (int i = 0; i < 10; i++) {
            assertEquals(0, limits.send(phone));
        }
        assertEquals(TimeUnit.MILLISECONDS.toNanos(100), limits.send(phone), "the next token, reserved");
        RateLimited refused = assertThrows(RateLimited.class, () -> limits.send(phone), "200 ms > 150 ms");
        assertEquals(200, refused.retryAfterMillis());
        clock.advanceMillis(100);
        assertEquals(TimeUnit.MILLISECONDS.toNanos(100), limits.send(phone));
    }

    @Test
    void framesAndTypingArePerConnection() {
        Limits limits = new Limits(settings(OFF, new Limits.Rate(1, 3), new Limits.Rate(2, 5), OFF, OFF, true), clock);
        ServerSession a = session("alice", "phone", false);
        ServerSession b = session("alice", "laptop", false);
        for (int i = 0; i < 3; i++) {
            assertEquals(0, limits.frame(a, false));
        }
        RateLimited refused = assertThrows(RateLimited.class, () -> limits.frame(a, false));
        assertEquals(1000, refused.retryAfterMillis(), "a token a second: further away than the longest wait");
        for (int i = 0; i < 3; i++) {
            assertEquals(0, limits.frame(a, true), "acks and read marks have a bucket of their own");
        }
        assertEquals(TimeUnit.SECONDS.toNanos(1), limits.frame(a, true), "an ack or read mark waits, never refused");
        assertEquals(TimeUnit.SECONDS.toNanos(2), limits.frame(a, true), "behind the one before it");
        assertEquals(0, limits.frame(b, false), "the other connection has its own bucket");
        int relayed = 0;
        for (int i = 0; i < 18; i++) { // a keystroke burst
            relayed += limits.typing(a) ? 1 : 0;
        }
        assertEquals(5, relayed, "the burst, then nothing until the bucket refills");
        clock.advanceMillis(500);
        assertTrue(limits.typing(a));
    }

    @Test
    void trustedSessionsAndZeroRatesAreNotLimited() {
        Limits limits = new Limits(settings(new Limits.Rate(1, 1), new Limits.Rate(1, 1), new Limits.Rate(1, 1),
                new Limits.Rate(1, 1), OFF, true), clock);
        ServerSession api = session("alice", "http", true);
        for (int i = 0; i < 100; i++) {
            limits.send(api);
            assertEquals(0, limits.frame(api, false));
            limits.groupAdd(api);
            assertTrue(limits.typing(api));
            assertEquals(0, limits.connection("10.0.0.1:" + i));
        }
        Limits off = new Limits(settings(OFF, OFF, OFF, OFF, OFF, false), clock);
        ServerSession s = session("bob", "phone", false);
        for (int i = 0; i < 10_000; i++) {
            off.send(s);
            assertEquals(0, off.frame(s, false));
        }
    }

    @Test
    void groupAddsPerUser() {
        Limits limits = new Limits(settings(OFF, OFF, OFF, new Limits.Rate(10, 100), OFF, true), clock);
        ServerSession mallory = session("mallory", "phone", false);
        int admitted = 0;
        for (int i = 0; i < 2000; i++) {
            try {
                limits.groupAdd(mallory);
                admitted++;
            } catch (RateLimited e) {
                assertEquals(100, e.retryAfterMillis());
            }
        }
        assertEquals(100, admitted);
    }

    @Test
    void connectionsPerAddressIgnoreThePortAndMayExemptLoopback() {
        Limits limits = new Limits(settings(OFF, OFF, OFF, OFF, new Limits.Rate(2, 3), true), clock);
        assertEquals(0, limits.connection("10.0.0.7:1000"));
        assertEquals(0, limits.connection("10.0.0.7:1001"));
        assertEquals(0, limits.connection("10.0.0.7:1002"));
        assertEquals(500, limits.connection("10.0.0.7:1003"));
        assertEquals(0, limits.connection("10.0.0.8:1000"), "another address");
        for (int i = 0; i < 50; i++) {
            assertEquals(0, limits.connection("127.0.0.1:" + (2000 + i)));
            assertEquals(0, limits.connection("0:0:0:0:0:0:0:1:" + (2000 + i)));
        }
        Limits strict = new Limits(settings(OFF, OFF, OFF, OFF, new Limits.Rate(2, 3), false), clock);
        for (int i = 0; i < 3; i++) {
            assertEquals(0, strict.connection("127.0.0.1:" + i));
        }
        assertTrue(strict.connection("127.0.0.1:9") > 0);
    }

    @Test
    void hostOfTransportAddresses() {
        assertEquals("10.0.0.1", Limits.hostOf("10.0.0.1:5000"));
        assertEquals("10.0.0.1", Limits.hostOf("/10.0.0.1:5000"));
        assertEquals("10.0.0.1", Limits.hostOf("host.example/10.0.0.1:5000"));
        assertEquals("0:0:0:0:0:0:0:1", Limits.hostOf("0:0:0:0:0:0:0:1:5000"));
        assertEquals("fe80::1", Limits.hostOf("[fe80::1]:5000"));
        assertEquals("test", Limits.hostOf("test:0"));
        assertEquals("", Limits.hostOf(null));
    }

    @Test
    void idleKeysAreSweptOnceTheirBucketWouldBeFull() {
        Limits limits = new Limits(settings(new Limits.Rate(10, 20), OFF, OFF, new Limits.Rate(10, 100), new Limits.Rate(2, 3),
                false), clock);
        for (int i = 0; i < 100; i++) {
            limits.send(session("user" + i, "d", false));
            limits.connection("10.0.1." + i + ":1");
        }
        assertEquals(200, limits.keyedBuckets());
        clock.advanceMillis(1000);
        limits.sweep();
        assertEquals(200, limits.keyedBuckets(), "a 20-token bucket at 10/s is full only after 2 s");
        clock.advanceMillis(1100);
        limits.sweep();
        assertEquals(0, limits.keyedBuckets());
    }

    @Test
    void aBurstBelowTheRateIsRaisedToTheRate() {
        assertEquals(50, new Limits.Rate(50, 10).burst());
        assertThrows(IllegalArgumentException.class, () -> new Limits.Rate(-1, 10));
    }

    private static final class NullConnection implements Connection {
        @Override
        public void send(Frame frame) {
        }

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
        }

        @Override
        public String transport() {
            return "test";
        }

        @Override
        public String remoteAddress() {
            return "test:0";
        }
    }
}
