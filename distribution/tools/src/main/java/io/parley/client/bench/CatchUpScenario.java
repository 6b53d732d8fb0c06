package io.parley.client.bench;

import io.parley.client.Bodies;
import io.parley.client.ClientResources;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenario {@code catch-up}: what a reconnect storm costs. N clients in N/2 pairs; the even one of each pair sends,
 * the odd one receives. Each round, while every receiver is offline, each sender sends {@code backlog} texts to its
 * partner (closed loop, {@code window} unacked); then all receivers connect at once (at most
 * {@code connect-concurrency} attempts in flight) and the resume sync brings each its backlog; then they disconnect.
 * A receiver's catch-up time is from its {@code connect()} call to that future's completion: the client completes it
 * once the resume sync is done, every missed message delivered. Every received text is checked against what its
 * receiver was owed: a text sent in an earlier round, or a seq at or below one already received, is a duplicate; a
 * text acked for a receiver and not received by the end of its round is missing.
 *
 * <p>Receivers are new client instances every round with the same user and device, so what they get is decided by
 * the server's delivery watermark of that device, as after a restart of the app. The first round also warms up the
 * server's read path; compare the later rounds.
 *
 * <p>One instance runs once, from one thread; the clients' callbacks run on their event loops.
 */
public final class CatchUpScenario {
    private final BenchOptions options;
    private final TokenMinter minter;
    private final PrintStream log;

    public CatchUpScenario(BenchOptions options, TokenMinter minter, PrintStream log) {
        this.options = options;
        this.minter = minter;
        this.log = log;
    }

    /** What one receiver was owed in the current round, and what it got; its callbacks run on its event loop. */
    private static final class Receiver {
        final String user;
        /** Texts acked for this receiver in the current round. */
        final AtomicInteger owed = new AtomicInteger();
        /** New texts of the current round received. */
        final AtomicInteger received = new AtomicInteger();
        final AtomicInteger duplicates = new AtomicInteger();
        /** Highest seq received in any round; only the receiver's event loop writes it. */
        final AtomicLong highestSeq = new AtomicLong();

        Receiver(String user) {
            this.user = user;
        }

        void onMessage(Message m, long roundStartedAt) {
            if (!Bodies.isText(m.getBody())) {
                return;
            }
            long sentAt = MessageLoad.sentAt(Bodies.textOf(m));
            if (m.getSeq() <= highestSeq.get() || (sentAt > 0 && sentAt < roundStartedAt)) {
                duplicates.incrementAndGet();
                return;
            }
            highestSeq.set(m.getSeq());
            received.incrementAndGet();
        }
    }

    public CatchUpResult run() throws InterruptedException {
        int pairs = options.clients() / 2;
        List<String> senderUsers = new ArrayList<>(pairs);
        List<Receiver> receivers = new ArrayList<>(pairs);
        for (int p = 0; p < pairs; p++) {
            senderUsers.add(MessageLoad.userId(options, 2 * p));
            receivers.add(new Receiver(MessageLoad.userId(options, 2 * p + 1)));
        }
        MessageLoad senderLoad = new MessageLoad(options, minter, log);
        ClientResources resources = BenchIo.resources(options.io(), options.threads());
        List<CatchUpResult.Round> rounds = new ArrayList<>(options.rounds());
        try {
            List<ParleyClient> senders = senderLoad.connect(senderUsers, resources, i -> m -> { });
            for (int r = 1; r <= options.rounds(); r++) {
                rounds.add(round(r, senders, receivers, resources));
                log.println(rounds.get(rounds.size() - 1).toLine());
            }
            return new CatchUpResult(options.clients(), options.backlog(), options.window(), options.messageBytes(),
                    rounds, options.transport());
        } finally {
            senderLoad.close();
            resources.close();
        }
    }

    private CatchUpResult.Round round(int number, List<ParleyClient> senders, List<Receiver> receivers,
                                      ClientResources resources) throws InterruptedException {
        long roundStartedAt = System.nanoTime();
        for (Receiver rc : receivers) {
            rc.owed.set(0);
            rc.received.set(0);
            rc.duplicates.set(0);
        }
        // 1. the backlog, sent while every receiver is offline
        LongAdder sendErrors = new LongAdder();
        List<CompletableFuture<Void>> sending = new ArrayList<>(senders.size());
        for (int p = 0; p < senders.size(); p++) {
            sending.add(sendBacklog(senders.get(p), receivers.get(p), sendErrors));
        }
        for (CompletableFuture<Void> f : sending) {
            try {
                f.get(10, TimeUnit.MINUTES);
            } catch (Exception e) {
                throw new IllegalStateException("round " + number + ": sending the backlog did not finish: " + e, e);
            }
        }
        double sendSeconds = (System.nanoTime() - roundStartedAt) / 1e9;

        // 2. every receiver connects; connect() completes once its resume sync delivered what it missed
        List<ParleyClient> clients = new ArrayList<>(receivers.size());
        List<CompletableFuture<Void>> connects = new ArrayList<>(receivers.size());
        LogLinearHistogram catchUp = new LogLinearHistogram();
        Semaphore permits = new Semaphore(options.connectConcurrency());
        long t0 = System.nanoTime();
        AtomicLong lastDone = new AtomicLong(t0);
        try {
            for (int p = 0; p < receivers.size(); p++) {
                Receiver rc = receivers.get(p);
                ParleyClient client = options.target(ParleyClient.builder(), 2 * p + 1)
                        .deviceId(options.deviceId()).token(minter.mint(rc.user, options.deviceId()))
                        .resources(resources)
                        .messageListener(m -> rc.onMessage(m, roundStartedAt))
                        .build();
                clients.add(client);
                permits.acquire();
                long started = System.nanoTime();
                connects.add(client.connect().whenComplete((v, e) -> {
                    long now = System.nanoTime();
                    if (e == null) {
                        catchUp.record(now - started);
                        lastDone.accumulateAndGet(now, Math::max);
                    }
                    permits.release();
                }));
            }
            int failed = 0;
            Throwable cause = null;
            for (CompletableFuture<Void> c : connects) {
                try {
                    c.get(5, TimeUnit.MINUTES);
                } catch (Exception e) {
                    failed++;
                    cause = e.getCause() != null ? e.getCause() : e;
                }
            }
            if (cause != null) {
                log.println("round " + number + ": first connect failure: " + cause);
            }
            double catchUpSeconds = (lastDone.get() - t0) / 1e9;
            long owed = 0;
            long received = 0;
            long duplicates = 0;
            long missing = 0;
            for (Receiver rc : receivers) {
                owed += rc.owed.get();
                received += rc.received.get();
                duplicates += rc.duplicates.get();
                missing += Math.max(0, rc.owed.get() - rc.received.get());
            }
            return new CatchUpResult.Round(number, senders.size(), owed, sendErrors.sum(), sendSeconds,
                    receivers.size() - failed, failed, catchUpSeconds, received, missing, duplicates,
                    BenchResult.LatencySummary.ofNanos(catchUp));
        } finally {
            // 3. offline again: a clean close sends the acks still pending, so the next round starts after them
            for (ParleyClient c : clients) {
                c.closeAsync();
            }
            for (ParleyClient c : clients) {
                c.close();
            }
        }
    }

    /**
     * Sends {@code backlog} texts from {@code sender} to {@code rc}, keeping {@code window} unacked; a failed send is
     * counted in {@code errors} and not retried.
     *
     * @return completes when every send has settled
     */
    private CompletableFuture<Void> sendBacklog(ParleyClient sender, Receiver rc, LongAdder errors) {
        Backlog backlog = new Backlog(sender, rc, errors, options.backlog(), options.messageBytes());
        for (int k = 0; k < Math.min(options.window(), options.backlog()); k++) {
            backlog.sendNext();
        }
        return backlog.done;
    }

    /** One sender's backlog of a round: each settled send issues the next until all are issued. */
    private static final class Backlog {
        final ParleyClient sender;
        final Receiver rc;
        final LongAdder errors;
        final int messageBytes;
        final AtomicInteger toIssue;
        final AtomicInteger unsettled;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Backlog(ParleyClient sender, Receiver rc, LongAdder errors, int count, int messageBytes) {
            this.sender = sender;
            this.rc = rc;
            this.errors = errors;
            this.messageBytes = messageBytes;
            this.toIssue = new AtomicInteger(count);
            this.unsettled = new AtomicInteger(count);
            if (count == 0) {
                done.complete(null);
            }
        }

        void sendNext() {
            if (toIssue.getAndDecrement() <= 0) {
                return;
            }
            sender.sendText(rc.user, MessageLoad.payload(System.nanoTime(), messageBytes)).whenComplete((ack, e) -> {
                if (e == null) {
                    rc.owed.incrementAndGet();
                } else {
                    errors.increment();
                }
                if (unsettled.decrementAndGet() == 0) {
                    done.complete(null);
                } else {
                    sendNext();
                }
            });
        }
    }
}
