package io.parley.client.bench;

import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.client.ConnectionListener;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenario {@code one-to-one}: N clients in N/2 pairs; each sends fixed-size text messages to its partner,
 * either closed-loop (rate 0: keep {@code window} sends unacked) or at a target total rate (a per-client
 * timer; a tick that finds the window full is counted as skipped). The send time ({@link System#nanoTime()},
 * same machine) is written at the start of the text, so the recipient measures end-to-end latency.
 *
 * <p>One instance runs once, from one thread; the clients' callbacks run on their event loops.
 */
public final class OneToOneScenario {
    private final BenchOptions options;
    private final TokenMinter minter;
    private final PrintStream log;

    private final LongAdder acked = new LongAdder();
    private final LongAdder delivered = new LongAdder();
    private final LongAdder ackedTotal = new LongAdder();
    private final LongAdder deliveredTotal = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder skipped = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final AtomicReference<Throwable> firstError = new AtomicReference<>();
    private final LogLinearHistogram endToEnd = new LogLinearHistogram();
    private final LogLinearHistogram ackLatency = new LogLinearHistogram();
    private volatile boolean running;
    private volatile long measureStart = Long.MAX_VALUE;
    private volatile long measureEnd = Long.MAX_VALUE;

    private static final class Member {
        final String user;
        final String peer;
        final AtomicInteger inFlight = new AtomicInteger();
        ParleyClient client;
        ScheduledFuture<?> ticker;

        Member(String user, String peer) {
            this.user = user;
            this.peer = peer;
        }
    }

    public OneToOneScenario(BenchOptions options, TokenMinter minter, PrintStream log) {
        this.options = options;
        this.minter = minter;
        this.log = log;
    }

    public BenchResult run() throws InterruptedException {
        int n = options.clients();
        List<Member> members = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            members.add(new Member(userId(i), userId(i ^ 1)));
        }
        ClientResources resources = ClientResources.nio(options.threads());
        try {
            connectAll(members, resources);
            long start = System.nanoTime();
            measureStart = start + options.warmup().toNanos();
            measureEnd = measureStart + options.duration().toNanos();
            running = true;
            log.printf(Locale.ROOT, "sending for %s warm-up + %s measured%n", options.warmup(), options.duration());
            startSending(members, resources);
            sleepUntil(measureEnd);
            running = false;
            for (Member m : members) {
                if (m.ticker != null) {
                    m.ticker.cancel(false);
                }
            }
            drain(members);
            double seconds = options.duration().toNanos() / 1e9;
            Throwable err = firstError.get();
            if (err != null) {
                log.println("first send error: " + err);
            }
            return new BenchResult("one-to-one", n, options.rate(), options.window(), options.messageBytes(),
                    seconds, acked.sum(), delivered.sum(), errors.sum(), skipped.sum(), reconnects.sum(),
                    BenchResult.LatencySummary.ofNanos(endToEnd), BenchResult.LatencySummary.ofNanos(ackLatency));
        } finally {
            running = false;
            for (Member m : members) {
                if (m.client != null) {
                    m.client.closeAsync();
                }
            }
            for (Member m : members) {
                if (m.client != null) {
                    m.client.close();
                }
            }
            resources.close();
        }
    }

    private String userId(int i) {
        return options.userPrefix() + String.format(Locale.ROOT, "%05d", i);
    }

    private void connectAll(List<Member> members, ClientResources resources) throws InterruptedException {
        Semaphore permits = new Semaphore(options.connectConcurrency());
        List<CompletableFuture<Void>> connects = new ArrayList<>();
        long t0 = System.nanoTime();
        for (Member m : members) {
            String token = minter.mint(m.user, options.deviceId());
            m.client = ParleyClient.builder()
                    .host(options.host()).port(options.port())
                    .deviceId(options.deviceId()).token(token)
                    .resources(resources)
                    .messageListener(this::onMessage)
                    .connectionListener(new ConnectionListener() {
                        @Override
                        public void onReconnecting(int attempt, Duration delay) {
                            reconnects.increment();
                        }
                    })
                    .build();
            permits.acquire();
            connects.add(m.client.connect().whenComplete((v, e) -> permits.release()));
        }
        int failed = 0;
        Throwable cause = null;
        for (CompletableFuture<Void> c : connects) {
            try {
                c.get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                failed++;
                cause = e.getCause() != null ? e.getCause() : e;
            }
        }
        if (failed > 0) {
            throw new IllegalStateException(failed + " of " + members.size() + " clients failed to connect: " + cause,
                    cause);
        }
        log.printf(Locale.ROOT, "%d clients connected in %.2f s%n", members.size(), (System.nanoTime() - t0) / 1e9);
    }

    private void startSending(List<Member> members, ClientResources resources) {
        if (options.rate() == 0) {
            for (Member m : members) {
                for (int k = 0; k < options.window(); k++) {
                    sendOne(m, true);
                }
            }
            return;
        }
        long periodNanos = (long) (options.clients() * 1e9 / options.rate());
        for (Member m : members) {
            long initial = ThreadLocalRandom.current().nextLong(periodNanos);
            m.ticker = resources.group().next().scheduleAtFixedRate(() -> {
                if (m.inFlight.get() >= options.window()) {
                    skipped.increment();
                } else {
                    sendOne(m, false);
                }
            }, initial, periodNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void sendOne(Member m, boolean closedLoop) {
        if (!running) {
            return;
        }
        m.inFlight.incrementAndGet();
        long sentAt = System.nanoTime();
        m.client.sendText(m.peer, payload(sentAt)).whenComplete((ack, e) -> {
            m.inFlight.decrementAndGet();
            long now = System.nanoTime();
            if (e == null) {
                ackedTotal.increment();
                if (now >= measureStart && now < measureEnd) {
                    acked.increment();
                    ackLatency.record(now - sentAt);
                }
                if (closedLoop) {
                    sendOne(m, true);
                }
            } else {
                errors.increment();
                firstError.compareAndSet(null, e);
                if (closedLoop && running) {
                    CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS).execute(() -> sendOne(m, true));
                }
            }
        });
    }

    private String payload(long sentAt) {
        StringBuilder sb = new StringBuilder(options.messageBytes());
        sb.append('b').append(sentAt).append(' ');
        while (sb.length() < options.messageBytes()) {
            sb.append('x');
        }
        return sb.toString();
    }

    /** @return the send time written by {@link #payload}, or -1 if the text is not a bench message */
    static long sentAt(String text) {
        int space = text.indexOf(' ');
        if (!text.startsWith("b") || space < 2) {
            return -1;
        }
        try {
            return Long.parseLong(text, 1, space, 10);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void onMessage(Message message) {
        long now = System.nanoTime();
        deliveredTotal.increment();
        if (now < measureStart || now >= measureEnd || !Bodies.isText(message.getBody())) {
            return;
        }
        long sent = sentAt(Bodies.textOf(message));
        delivered.increment();
        if (sent > 0) {
            endToEnd.record(now - sent);
        }
    }

    /** Waits (at most 15 s) until every send is settled and every acked message was delivered. */
    private void drain(List<Member> members) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            boolean settled = members.stream().allMatch(m -> m.inFlight.get() == 0);
            if (settled && deliveredTotal.sum() >= ackedTotal.sum()) {
                return;
            }
            Thread.sleep(50);
        }
        log.printf(Locale.ROOT, "drain incomplete: %d acked, %d delivered in total%n", ackedTotal.sum(),
                deliveredTotal.sum());
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
        }
    }
}
