package io.parley.client.bench;

import io.parley.client.ClientResources;
import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.ParleyClient;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenario {@code idle}: N clients connect (hello, login, resume sync) with at most {@code connect-concurrency}
 * attempts in flight, then stay connected without sending for the measured duration; the SDK heartbeats them at
 * the server's interval. Measures how many connected, how fast, and whether they stay connected. All clients share
 * one {@link ClientResources} (one Netty channel, so one file descriptor, per client).
 *
 * <p>While holding, a line {@code "idle: N connected"} goes to the log every {@link #PROGRESS_INTERVAL}; the first
 * one is printed once connecting is over, so a script can wait for it and then measure the server.
 *
 * <p>One instance runs once, from one thread; the clients' callbacks run on their event loops.
 */
public final class IdleScenario {
    static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(5);

    private final BenchOptions options;
    private final TokenMinter minter;
    private final PrintStream log;

    private final LongAdder disconnects = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final LogLinearHistogram connectLatency = new LogLinearHistogram();
    private volatile boolean holding;

    public IdleScenario(BenchOptions options, TokenMinter minter, PrintStream log) {
        this.options = options;
        this.minter = minter;
        this.log = log;
    }

    public IdleResult run() throws InterruptedException {
        int n = options.clients();
        List<ParleyClient> clients = new ArrayList<>(n);
        ClientResources resources = BenchIo.resources(options.io(), options.threads());
        try {
            long t0 = System.nanoTime();
            int failed = connectAll(clients, resources);
            double connectSeconds = (System.nanoTime() - t0) / 1e9;
            int connected = n - failed;
            log.printf(Locale.ROOT, "idle: %d connected, %d failed in %.2f s (%.0f/s); holding for %s%n", connected,
                    failed, connectSeconds, connected / Math.max(connectSeconds, 1e-9), options.duration());
            holding = true;
            long end = System.nanoTime() + (connected > 0 ? options.duration().toNanos() : 0);
            long nextProgress = System.nanoTime() + PROGRESS_INTERVAL.toNanos();
            int minConnected = countConnected(clients);
            long left;
            while ((left = end - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
                int now = countConnected(clients);
                minConnected = Math.min(minConnected, now);
                if (System.nanoTime() >= nextProgress) {
                    nextProgress += PROGRESS_INTERVAL.toNanos();
                    log.printf(Locale.ROOT, "idle: %d connected, %d disconnects, %d reconnect attempts%n", now,
                            disconnects.sum(), reconnects.sum());
                }
            }
            holding = false;
            int atEnd = countConnected(clients);
            return new IdleResult(n, connected, failed, connectSeconds,
                    connected > 0 ? options.duration().toNanos() / 1e9 : 0,
                    Math.min(minConnected, atEnd), atEnd, disconnects.sum(), reconnects.sum(),
                    BenchResult.LatencySummary.ofNanos(connectLatency), options.transport());
        } finally {
            holding = false;
            for (ParleyClient c : clients) {
                c.closeAsync();
            }
            for (ParleyClient c : clients) {
                c.close();
            }
            resources.close();
        }
    }

    /** Connects every client, adding each to {@code clients}; returns how many failed to connect (and were closed). */
    private int connectAll(List<ParleyClient> clients, ClientResources resources) throws InterruptedException {
        Semaphore permits = new Semaphore(options.connectConcurrency());
        List<CompletableFuture<Void>> connects = new ArrayList<>(options.clients());
        for (int i = 0; i < options.clients(); i++) {
            String user = options.userPrefix() + String.format(Locale.ROOT, "%05d", i);
            ParleyClient client = options.target(ParleyClient.builder(), i)
                    .deviceId(options.deviceId()).token(minter.mint(user, options.deviceId()))
                    .resources(resources)
                    .connectionListener(new ConnectionListener() {
                        @Override
                        public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                            if (holding) {
                                disconnects.increment();
                            }
                        }

                        @Override
                        public void onReconnecting(int attempt, Duration delay) {
                            reconnects.increment();
                        }
                    })
                    .build();
            clients.add(client);
            permits.acquire();
            long started = System.nanoTime();
            connects.add(client.connect().whenComplete((v, e) -> {
                if (e == null) {
                    connectLatency.record(System.nanoTime() - started);
                }
                permits.release();
            }));
        }
        int failed = 0;
        Throwable cause = null;
        for (int i = 0; i < connects.size(); i++) {
            try {
                connects.get(i).get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                failed++;
                if (cause == null) {
                    cause = e.getCause() != null ? e.getCause() : e;
                }
                clients.get(i).closeAsync();
            }
        }
        if (cause != null) {
            log.println("first connect failure: " + cause);
        }
        return failed;
    }

    private static int countConnected(List<ParleyClient> clients) {
        int c = 0;
        for (ParleyClient client : clients) {
            if (client.isConnected()) {
                c++;
            }
        }
        return c;
    }
}
