package io.parley.itest;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.parley.core.proto.Frame;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A TCP proxy on {@code 127.0.0.1} that forwards Parley frames between clients and a server and, while faults are
 * {@linkplain #faults(boolean) enabled}, breaks connections on purpose:
 * <ul>
 *   <li>{@link Cut#RANDOM_RST}/{@link Cut#RANDOM_FIN}: a background thread aborts a random live connection (both
 *       sides, with a TCP reset or an orderly close) at exponentially distributed intervals;</li>
 *   <li>{@link Cut#MASS}: the same thread resets every live connection at once (a reconnect and resume storm);</li>
 *   <li>{@link Cut#AFTER_SEND}: right after forwarding a client's {@code Send} frame, before its ack can come
 *       back;</li>
 *   <li>{@link Cut#ACK_DROPPED}: a server's {@code SendAck} is swallowed and the connection cut, so the message is
 *       stored but its sender never hears about it;</li>
 *   <li>{@link Cut#MID_DELIVER}: half of a server's {@code Deliver} frame is forwarded, then the connection cut;</li>
 *   <li>{@link Cut#GROUP_ANSWER_DROPPED}: a server's {@code GroupResponse} is swallowed and the connection cut, so the
 *       group operation took effect but its caller never hears about it and retries it.</li>
 * </ul>
 * A connection whose other side ends (a client closing, the server dying) is closed on both sides; when the server
 * does not accept, the client's connection is reset at once.
 *
 * <p>Frames are read whole (4-byte length prefix, then the body) and forwarded unchanged; output is flushed when no
 * more input is waiting, so pipelined frames travel in batches. Every decision uses a {@link Random} seeded from the
 * proxy's seed and the connection's number, so a seed reproduces the same fault choices per connection (thread
 * timing still varies).
 *
 * <p>Threading: one accept thread, two pump threads per connection and one chaos thread, all daemons, all ended by
 * {@link #close()}. Counters are readable from any thread.
 */
final class ChaosProxy implements AutoCloseable {
    /** Why the proxy cut a connection on purpose. */
    enum Cut { RANDOM_RST, RANDOM_FIN, MASS, AFTER_SEND, ACK_DROPPED, MID_DELIVER, GROUP_ANSWER_DROPPED }

    /**
     * Fault rates.
     *
     * @param randomCutMeanMillis mean interval between random cuts; 0 disables them
     * @param massCutMeanMillis mean interval between cuts of every connection at once; 0 disables them
     * @param afterSend probability of cutting right after forwarding a {@code Send}
     * @param dropAck probability of swallowing a {@code SendAck} and cutting
     * @param midDeliver probability of cutting in the middle of a {@code Deliver}
     * @param dropGroupAnswer probability of swallowing a {@code GroupResponse} and cutting
     */
    record Rates(long randomCutMeanMillis, long massCutMeanMillis, double afterSend, double dropAck,
                 double midDeliver, double dropGroupAnswer) {
    }

    private static final int MAX_FRAME = 64 * 1024 * 1024;

    private final int upstreamPort;
    private final long seed;
    private final Rates rates;
    private final ServerSocket listener;
    private final ExecutorService threads;
    private final Map<Long, Link> links = new ConcurrentHashMap<>();
    private final AtomicLong linkCounter = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean faults;

    // statistics
    private final LongAdder accepted = new LongAdder();
    private final LongAdder upstreamRefused = new LongAdder();
    private final LongAdder sendFrames = new LongAdder();
    private final LongAdder ackFrames = new LongAdder();
    private final LongAdder deliverFrames = new LongAdder();
    private final LongAdder massCutLinks = new LongAdder();
    private final Map<Cut, LongAdder> cuts = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> serverSignals = new ConcurrentHashMap<>();

    ChaosProxy(int upstreamPort, long seed, Rates rates) throws IOException {
        this.upstreamPort = upstreamPort;
        this.seed = seed;
        this.rates = rates;
        for (Cut c : Cut.values()) {
            cuts.put(c, new LongAdder());
        }
        this.listener = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        this.threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "chaos-proxy");
            t.setDaemon(true);
            return t;
        });
        threads.execute(this::acceptLoop);
        threads.execute(this::chaosLoop);
    }

    /** @return the port clients connect to */
    int port() {
        return listener.getLocalPort();
    }

    /** Switches the deliberate faults on or off; forwarding continues either way. */
    void faults(boolean enabled) {
        this.faults = enabled;
    }

    long cuts(Cut kind) {
        return cuts.get(kind).sum();
    }

    /** @return connections cut on purpose; a mass cut counts once per connection */
    long totalCuts() {
        long single = cuts.entrySet().stream().filter(e -> e.getKey() != Cut.MASS)
                .mapToLong(e -> e.getValue().sum()).sum();
        return single + massCutLinks.sum();
    }

    /** @return how many connections the {@link Cut#MASS} cuts closed together */
    long massCutLinks() {
        return massCutLinks.sum();
    }

    long accepted() {
        return accepted.sum();
    }

    /** @return client connections reset because the server did not accept (it was down) */
    long upstreamRefused() {
        return upstreamRefused.sum();
    }

    /** @return {@code Send} frames forwarded to the server (first transmissions, retransmissions, re-sends) */
    long sendFrames() {
        return sendFrames.sum();
    }

    long ackFrames() {
        return ackFrames.sum();
    }

    long deliverFrames() {
        return deliverFrames.sum();
    }

    /** @return error codes and notice kinds the server sent, with counts */
    Map<String, Long> serverSignals() {
        Map<String, Long> m = new TreeMap<>();
        serverSignals.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Link l : new ArrayList<>(links.values())) {
            l.close(false);
        }
        threads.shutdownNow();
        try {
            threads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void acceptLoop() {
        while (!closed.get()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            accepted.increment();
            long id = linkCounter.incrementAndGet();
            try {
                threads.execute(() -> open(id, client));
            } catch (RuntimeException rejected) {
                reset(client);
            }
        }
    }

    private void open(long id, Socket client) {
        Socket upstream = new Socket();
        try {
            client.setTcpNoDelay(true);
            upstream.setTcpNoDelay(true);
            upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort), 2000);
        } catch (IOException e) {
            upstreamRefused.increment();
            reset(client);
            reset(upstream);
            return;
        }
        Link link = new Link(id, client, upstream, new Random(seed * 0x9E3779B97F4A7C15L + id));
        links.put(id, link);
        if (closed.get()) {
            link.close(false);
            return;
        }
        threads.execute(() -> link.pump(true));
        link.pump(false);
    }

    /** Random cuts and mass cuts, each a Poisson process in time (ticks of 10 ms). */
    private void chaosLoop() {
        Random rnd = new Random(seed ^ 0x5DEECE66DL);
        long tick = 10;
        while (!closed.get()) {
            try {
                Thread.sleep(tick);
            } catch (InterruptedException e) {
                return;
            }
            if (!faults || links.isEmpty()) {
                continue;
            }
            long mass = rates.massCutMeanMillis();
            if (mass > 0 && rnd.nextDouble() < (double) tick / mass) {
                int n = 0;
                for (Link l : new ArrayList<>(links.values())) {
                    n += l.close(true) ? 1 : 0;
                }
                cuts.get(Cut.MASS).increment();
                massCutLinks.add(n);
                continue;
            }
            long mean = rates.randomCutMeanMillis();
            if (mean > 0 && rnd.nextDouble() < (double) tick / mean) {
                List<Link> live = new ArrayList<>(links.values());
                Link victim = live.get(rnd.nextInt(live.size()));
                boolean rst = rnd.nextBoolean();
                if (victim.close(rst)) {
                    cuts.get(rst ? Cut.RANDOM_RST : Cut.RANDOM_FIN).increment();
                }
            }
        }
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // already closed
        }
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    /** @return the op of a serialized Frame without parsing the rest; OP_NOT_SET if there is none */
    static Frame.OpCase opOf(byte[] frame) {
        try {
            CodedInputStream in = CodedInputStream.newInstance(frame);
            while (true) {
                int tag = in.readTag();
                if (tag == 0) {
                    return Frame.OpCase.OP_NOT_SET;
                }
                Frame.OpCase op = Frame.OpCase.forNumber(WireFormat.getTagFieldNumber(tag));
                if (op != null && op != Frame.OpCase.OP_NOT_SET) {
                    return op;
                }
                in.skipField(tag);
            }
        } catch (IOException e) {
            return Frame.OpCase.OP_NOT_SET;
        }
    }

    /** One client connection and its upstream connection. */
    private final class Link {
        final long id;
        final Socket client;
        final Socket upstream;
        /** Guarded by itself: both pump threads draw from it. */
        final Random rnd;
        final AtomicBoolean done = new AtomicBoolean();

        Link(long id, Socket client, Socket upstream, Random rnd) {
            this.id = id;
            this.client = client;
            this.upstream = upstream;
            this.rnd = rnd;
        }

        /** Closes both sides; {@code rst}: with a TCP reset. @return false if it was already closed */
        boolean close(boolean rst) {
            if (!done.compareAndSet(false, true)) {
                return false;
            }
            links.remove(id);
            for (Socket s : new Socket[]{client, upstream}) {
                if (rst) {
                    reset(s);
                } else {
                    try {
                        s.close();
                    } catch (IOException ignored) {
                        // already closed
                    }
                }
            }
            return true;
        }

        private boolean chance(double p) {
            if (!faults || p <= 0) {
                return false;
            }
            synchronized (rnd) {
                return rnd.nextDouble() < p;
            }
        }

        private boolean coin() {
            synchronized (rnd) {
                return rnd.nextBoolean();
            }
        }

        /** Forwards frames in one direction until either side ends or a fault cuts the link. */
        void pump(boolean toServer) {
            Socket from = toServer ? client : upstream;
            Socket to = toServer ? upstream : client;
            try {
                DataInputStream in = new DataInputStream(new BufferedInputStream(from.getInputStream(), 64 * 1024));
                OutputStream out = new BufferedOutputStream(to.getOutputStream(), 64 * 1024);
                byte[] header = new byte[4];
                while (!done.get()) {
                    int len;
                    try {
                        len = in.readInt();
                    } catch (EOFException eof) {
                        out.flush();
                        break;
                    }
                    if (len < 0 || len > MAX_FRAME) {
                        break;
                    }
                    byte[] body = new byte[len];
                    in.readFully(body);
                    Frame.OpCase op = opOf(body);
                    header[0] = (byte) (len >>> 24);
                    header[1] = (byte) (len >>> 16);
                    header[2] = (byte) (len >>> 8);
                    header[3] = (byte) len;
                    if (toServer) {
                        if (op == Frame.OpCase.SEND) {
                            sendFrames.increment();
                            if (chance(rates.afterSend())) {
                                out.write(header);
                                out.write(body);
                                out.flush();
                                // half orderly (the server reads the Send, then the end of the stream), half reset
                                if (close(coin())) {
                                    cuts.get(Cut.AFTER_SEND).increment();
                                }
                                return;
                            }
                        }
                    } else {
                        switch (op) {
                            case SEND_ACK -> {
                                if (chance(rates.dropAck())) {
                                    swallowAndCut(out, Cut.ACK_DROPPED);
                                    return;
                                }
                                ackFrames.increment();
                            }
                            case DELIVER -> {
                                if (chance(rates.midDeliver())) {
                                    out.write(header);
                                    out.write(body, 0, len / 2);
                                    out.flush();
                                    if (close(true)) {
                                        cuts.get(Cut.MID_DELIVER).increment();
                                    }
                                    return;
                                }
                                deliverFrames.increment();
                            }
                            case GROUP_RESPONSE -> {
                                if (chance(rates.dropGroupAnswer())) {
                                    swallowAndCut(out, Cut.GROUP_ANSWER_DROPPED);
                                    return;
                                }
                            }
                            case ERROR, NOTICE -> countSignal(body);
                            default -> {
                            }
                        }
                    }
                    out.write(header);
                    out.write(body);
                    if (in.available() == 0) {
                        out.flush();
                    }
                }
            } catch (IOException e) {
                // a side ended or the other pump closed the link
            }
            close(false);
        }

        /** Forwards what came before the current frame, drops the frame and resets the link, counted as {@code why}. */
        private void swallowAndCut(OutputStream out, Cut why) throws IOException {
            out.flush();
            if (close(true)) {
                cuts.get(why).increment();
            }
        }

        private void countSignal(byte[] body) {
            try {
                Frame f = Frame.parseFrom(body);
                String key = f.hasError() ? f.getError().getCode().name() : f.getNotice().getKind().name();
                serverSignals.computeIfAbsent(key, k -> new LongAdder()).increment();
            } catch (InvalidProtocolBufferException e) {
                serverSignals.computeIfAbsent("unparseable", k -> new LongAdder()).increment();
            }
        }
    }

    @Override
    public String toString() {
        return "chaos proxy :" + port() + " -> :" + upstreamPort + " (seed " + seed + ", " + links.size() + " links)";
    }
}
