package io.parley.client.bench;

import io.parley.client.ClientResources;
import io.parley.client.ParleyClient;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Scenario {@code one-to-one}: N clients in N/2 pairs; each sends fixed-size text messages to its partner,
 * either closed-loop (rate 0: keep {@code window} sends unacked) or at a target total rate (a per-client
 * timer; a tick that finds the window full is counted as skipped). The send time ({@link System#nanoTime()},
 * same machine) is written at the start of the text, so the recipient measures end-to-end latency
 * (see {@link MessageLoad}).
 *
 * <p>One instance runs once, from one thread; the clients' callbacks run on their event loops.
 */
public final class OneToOneScenario {
    private final BenchOptions options;
    private final TokenMinter minter;
    private final PrintStream log;

    public OneToOneScenario(BenchOptions options, TokenMinter minter, PrintStream log) {
        this.options = options;
        this.minter = minter;
        this.log = log;
    }

    public BenchResult run() throws InterruptedException {
        int n = options.clients();
        List<String> users = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            users.add(MessageLoad.userId(options, i));
        }
        MessageLoad load = new MessageLoad(options, minter, log);
        ClientResources resources = BenchIo.resources(options.io(), options.threads());
        try {
            List<ParleyClient> clients = load.connect(users, resources, i -> load::onDelivery);
            List<MessageLoad.Sender> senders = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                ParleyClient c = clients.get(i);
                String peer = users.get(i ^ 1);
                senders.add(new MessageLoad.Sender(c, text -> c.sendText(peer, text)));
            }
            long end = load.startMeasuring();
            load.startSending(senders, resources);
            MessageLoad.sleepUntil(end);
            load.stopSending();
            load.drain(1);
            return load.result("one-to-one", n, n);
        } finally {
            load.close();
            resources.close();
        }
    }
}
