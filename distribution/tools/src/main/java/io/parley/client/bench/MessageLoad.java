package io.parley.client.bench;

import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.client.ConnectionListener;
import io.parley.client.MessageListener;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;

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
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The part of a messaging scenario that does not depend on who a message goes to: connecting the clients,
 * sending fixed-size texts from a set of senders (closed loop with {@code window} unacked sends per sender when
 * the rate is 0, else a per-sender timer at {@code rate / senders} per second whose tick is counted as skipped
 * when the sender's window is full), counting acks and deliveries in the measured window, end-to-end latency from
 * the send time ({@link System#nanoTime()}, same machine) written at the start of each text (also per slice of the
 * measured window with {@code --timeline}), draining, and the {@link BenchResult}.
 *
 * <p>Threading: {@link #connect}, {@link #startMeasuring}, {@link #startSending}, {@link #stopSending},
 * {@link #drain}, {@link #result} and {@link #close} are called by the one thread running the scenario;
 * {@link #onDelivery} and the send completions run on the clients' event loops. One instance serves one run.
 */
final class MessageLoad {
    /** One sending client: where its texts go, and its unacked sends. */
    static final class Sender {
        final ParleyClient client;
        final Function<String, CompletableFuture<SendAck>> send;
        final AtomicInteger inFlight = new AtomicInteger();
        ScheduledFuture<?> ticker;

        /** @param send sends one text through {@code client} to this sender's destination */
        Sender(ParleyClient client, Function<String, CompletableFuture<SendAck>> send) {
            this.client = client;
            this.send = send;
        }
    }

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
    /** send → delivery per slice of the measured window ({@code --timeline}); empty without it. */
    private final LogLinearHistogram[] slices;
    private final long sliceNanos;
    private final List<ParleyClient> clients = new ArrayList<>();
    private final List<Sender> senders = new ArrayList<>();
    private volatile boolean running;
    private volatile long measureStart = Long.MAX_VALUE;
    private volatile long measureEnd = Long.MAX_VALUE;

    MessageLoad(BenchOptions options, TokenMinter minter, PrintStream log) {
        this.options = options;
        this.minter = minter;
        this.log = log;
        this.sliceNanos = options.timeline().toNanos();
        int count = sliceNanos == 0 ? 0 : (int) ((options.duration().toNanos() + sliceNanos - 1) / sliceNanos);
        this.slices = new LogLinearHistogram[count];
        for (int i = 0; i < count; i++) {
            slices[i] = new LogLinearHistogram();
        }
    }

    /** @return the user id of client {@code i}: the prefix and {@code i} in five or more digits */
    static String userId(BenchOptions options, int i) {
        return options.userPrefix() + String.format(Locale.ROOT, "%05d", i);
    }

    /**
     * Builds and connects one client per user, with at most {@code connect-concurrency} attempts in flight.
     *
     * @param listenerOf the message listener of the client of {@code users.get(i)}; it must pass bench texts to
     *     {@link #onDelivery}
     * @return the connected clients, in the order of {@code users}; {@link #close} closes them
     * @throws IllegalStateException if any client failed to connect
     */
    List<ParleyClient> connect(List<String> users, ClientResources resources, IntFunction<MessageListener> listenerOf)
            throws InterruptedException {
        Semaphore permits = new Semaphore(options.connectConcurrency());
        List<CompletableFuture<Void>> connects = new ArrayList<>(users.size());
        List<ParleyClient> built = new ArrayList<>(users.size());
        long t0 = System.nanoTime();
        for (int i = 0; i < users.size(); i++) {
            String token = minter.mint(users.get(i), options.deviceId());
            ParleyClient client = options.target(ParleyClient.builder(), i)
                    .deviceId(options.deviceId()).token(token)
                    .resources(resources)
                    .messageListener(listenerOf.apply(i))
                    .connectionListener(new ConnectionListener() {
                        @Override
                        public void onReconnecting(int attempt, Duration delay) {
                            reconnects.increment();
                        }
                    })
                    .build();
            built.add(client);
            synchronized (clients) {
                clients.add(client);
            }
            permits.acquire();
            connects.add(client.connect().whenComplete((v, e) -> permits.release()));
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
            throw new IllegalStateException(failed + " of " + users.size() + " clients failed to connect: " + cause,
                    cause);
        }
        log.printf(Locale.ROOT, "%d clients connected in %.2f s (sockets: %s)%n", users.size(),
                (System.nanoTime() - t0) / 1e9, BenchIo.name(resources));
        return built;
    }

    /** Starts the clock: warm-up from now, then the measured window; returns the end of the measured window. */
    long startMeasuring() {
        long start = System.nanoTime();
        measureStart = start + options.warmup().toNanos();
        measureEnd = measureStart + options.duration().toNanos();
        running = true;
        log.printf(Locale.ROOT, "sending for %s warm-up + %s measured%n", options.warmup(), options.duration());
        return measureEnd;
    }

    /** Starts every sender, closed loop or at the target rate; call after {@link #startMeasuring}. */
    void startSending(List<Sender> all, ClientResources resources) {
        senders.addAll(all);
        if (options.rate() == 0) {
            for (Sender s : all) {
                for (int k = 0; k < options.window(); k++) {
                    sendOne(s, true);
                }
            }
            return;
        }
        long periodNanos = (long) (all.size() * 1e9 / options.rate());
        for (Sender s : all) {
            long initial = ThreadLocalRandom.current().nextLong(periodNanos);
            s.ticker = resources.group().next().scheduleAtFixedRate(() -> {
                if (s.inFlight.get() >= options.window()) {
                    skipped.increment();
                } else {
                    sendOne(s, false);
                }
            }, initial, periodNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Stops issuing sends; sends in flight still complete. */
    void stopSending() {
        running = false;
        for (Sender s : senders) {
            if (s.ticker != null) {
                s.ticker.cancel(false);
            }
        }
    }

    private void sendOne(Sender s, boolean closedLoop) {
        if (!running) {
            return;
        }
        s.inFlight.incrementAndGet();
        long sentAt = System.nanoTime();
        s.send.apply(payload(sentAt, options.messageBytes())).whenComplete((ack, e) -> {
            s.inFlight.decrementAndGet();
            long now = System.nanoTime();
            if (e == null) {
                ackedTotal.increment();
                if (now >= measureStart && now < measureEnd) {
                    acked.increment();
                    ackLatency.record(now - sentAt);
                }
                if (closedLoop) {
                    sendOne(s, true);
                }
            } else {
                errors.increment();
                firstError.compareAndSet(null, e);
                if (closedLoop && running) {
                    CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS).execute(() -> sendOne(s, true));
                }
            }
        });
    }

    /** @return a text of {@code size} characters starting with {@code b<sentAt> } */
    static String payload(long sentAt, int size) {
        StringBuilder sb = new StringBuilder(size);
        sb.append('b').append(sentAt).append(' ');
        while (sb.length() < size) {
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

    /** Counts a received text message (others are ignored) and, inside the measured window, its latency. */
    void onDelivery(Message message) {
        if (!Bodies.isText(message.getBody())) {
            return;
        }
        long now = System.nanoTime();
        deliveredTotal.increment();
        if (now < measureStart || now >= measureEnd) {
            return;
        }
        long sent = sentAt(Bodies.textOf(message));
        delivered.increment();
        if (sent > 0) {
            endToEnd.record(now - sent);
            if (slices.length > 0) {
                // now is inside [measureStart, measureEnd), so the index is below the slice count
                slices[(int) ((now - measureStart) / sliceNanos)].record(now - sent);
            }
        }
    }

    /**
     * Waits (at most 15 s) until every send is settled and {@code deliveriesPerAck} deliveries arrived for every
     * acked send.
     */
    void drain(long deliveriesPerAck) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            boolean settled = senders.stream().allMatch(s -> s.inFlight.get() == 0);
            if (settled && deliveredTotal.sum() >= ackedTotal.sum() * deliveriesPerAck) {
                return;
            }
            Thread.sleep(50);
        }
        log.printf(Locale.ROOT, "drain incomplete: %d acked, %d delivered in total (%d expected)%n", ackedTotal.sum(),
                deliveredTotal.sum(), ackedTotal.sum() * deliveriesPerAck);
    }

    /** @return the measured counts and latencies; logs the first send error, if any */
    BenchResult result(String scenario, int clientCount, int senderCount) {
        Throwable err = firstError.get();
        if (err != null) {
            log.println("first send error: " + err);
        }
        return new BenchResult(scenario, clientCount, senderCount, options.rate(), options.window(),
                options.messageBytes(), options.duration().toNanos() / 1e9, acked.sum(), delivered.sum(),
                errors.sum(), skipped.sum(), reconnects.sum(), BenchResult.LatencySummary.ofNanos(endToEnd),
                BenchResult.LatencySummary.ofNanos(ackLatency), options.transport(), timeline());
    }

    private List<BenchResult.Slice> timeline() {
        List<BenchResult.Slice> timeline = new ArrayList<>(slices.length);
        for (int i = 0; i < slices.length; i++) {
            timeline.add(BenchResult.Slice.ofNanos(i * sliceNanos / 1e9, slices[i]));
        }
        return timeline;
    }

    /** Stops sending and closes every client {@link #connect} built (all closes are started before waiting). */
    void close() {
        stopSending();
        List<ParleyClient> all;
        synchronized (clients) {
            all = List.copyOf(clients);
        }
        for (ParleyClient c : all) {
            c.closeAsync();
        }
        for (ParleyClient c : all) {
            c.close();
        }
    }

    static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
        }
    }
}
