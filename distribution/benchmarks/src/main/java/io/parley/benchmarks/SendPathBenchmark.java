package io.parley.benchmarks;

import com.google.protobuf.Any;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.DeliverAck;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Send;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.type.text.TextRules;
import io.parley.type.text.proto.Text;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine's 1:1 send path on the memory store, without a network: per message a {@code Send} decoded frame in,
 * the text processor, the append, the {@code SendAck} to the sender and the {@code Deliver} to the recipient, and a
 * cumulative {@code DeliverAck} per window as a real client sends it (which moves the watermark and tells the
 * sender). The benchmark thread plays every connection's event loop; frames out are counted, not encoded. With
 * {@code pure} the sends run on it up to the append (the event-loop fast path, as for the text bundle), without it
 * every send goes through a core worker.
 *
 * <p>One invocation sends {@link #MESSAGES} messages, spread evenly over {@code pairs} senders, and waits for every
 * ack and delivery: the score is messages per second through the engine. What the network adds is measured by
 * {@code bin/parley bench} (docs/performance.md).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+UseG1GC"})
public class SendPathBenchmark {

    /** Messages in flight per invocation, over all senders (the load tool's window of 32 for 64 senders). */
    static final int MESSAGES = 2048;

    /**
     * Senders, each with its own recipient; a divisor of {@link #MESSAGES} that keeps each sender's share (512 or 32)
     * below the core's {@code session.max.pending} (1,024), past which sends are refused.
     */
    @Param({"4", "64"})
    public int pairs;

    /**
     * Whether the text processor declares itself pure, as the text bundle's does: then the sends run on the calling
     * thread up to the append (the event-loop fast path); false sends every one through a core worker.
     */
    @Param({"true", "false"})
    public boolean pure;

    private InProcessCore core;
    private Pair[] all;
    private volatile CountDownLatch outstanding = new CountDownLatch(0);
    /** The first error frame the engine answered with; a benchmark that gets one is broken, not slow. */
    private volatile Frame refused;
    private long counter;

    /** A connection that counts what the engine sends it. */
    private final class Sink implements Connection {
        final AtomicLong lastDelivered = new AtomicLong();
        volatile String conversation;
        /** Set by the HelloOk: the session is registered from then on, so deliveries find it. */
        volatile boolean helloOk;

        @Override
        public void send(Frame frame) {
            if (frame.hasError() && refused == null) {
                refused = frame;
            }
            if (frame.hasHelloOk()) {
                helloOk = true;
            } else if (frame.hasSendAck()) {
                outstanding.countDown();
            } else if (frame.hasDeliver()) {
                for (Message m : frame.getDeliver().getMessagesList()) {
                    conversation = m.getConversation();
                    lastDelivered.accumulateAndGet(m.getSeq(), Math::max);
                    outstanding.countDown();
                }
            }
        }

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            send(frame);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
        }

        @Override
        public String transport() {
            return "benchmark";
        }

        @Override
        public String remoteAddress() {
            return "in-process";
        }
    }

    private record Pair(String sender, String recipient, InboundSession out, InboundSession in, Sink inbox) {
    }

    /**
     * A new core and an empty store per iteration: the memory store keeps every message, and at ~200,000 messages/s a
     * store carried over from earlier iterations fills the heap and the scores fall with it (200k to 4k per second
     * over one 24-s trial).
     */
    @Setup(Level.Iteration)
    public void start() throws Exception {
        TextRules rules = new TextRules(4000);
        boolean declaredPure = pure;
        MessageProcessor text = new MessageProcessor() {
            @Override
            public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
                return CompletableFuture.completedFuture(rules.check(draft));
            }

            @Override
            public boolean pure() {
                return declaredPure;
            }
        };
        // the abuse limits off (rate 0): they would pace the senders (limit.sends.per.user: 200/s each) and refuse the
        // 128 connections of pairs=64 from one address (limit.connections.per.ip: burst 100), measuring the limiter
        core = InProcessCore.start(new MemoryMessageStore(), Map.of("limit.sends.per.user.per.second", 0,
                "limit.frames.per.connection.per.second", 0, "limit.connections.per.ip.per.second", 0))
                .authenticator((token, device) -> new Principal(token, device, Instant.now().plusSeconds(86_400)))
                .processor("text", text);
        all = new Pair[pairs];
        for (int i = 0; i < pairs; i++) {
            String a = "a" + i;
            String b = "b" + i;
            Sink inbox = new Sink();
            all[i] = new Pair(a, b, session(a, new Sink()), session(b, inbox), inbox);
        }
    }

    /** Opens the user's session and waits for its HelloOk, as a client does before it counts on deliveries. */
    private InboundSession session(String user, Sink connection) throws InterruptedException {
        InboundSession s = core.receiver().open(connection);
        s.onFrame(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                .setToken(user).setDeviceId("d1").setClient("jmh")).build());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!connection.helloOk) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("hello of " + user + " not answered");
            }
            Thread.sleep(1);
        }
        return s;
    }

    @TearDown(Level.Iteration)
    public void stop() {
        core.close();
    }

    @Benchmark
    @OperationsPerInvocation(MESSAGES)
    public void oneToOne() throws InterruptedException {
        CountDownLatch done = new CountDownLatch(2 * MESSAGES);
        outstanding = done;
        Any body = Any.pack(Text.newBuilder().setText("0123456789012345678901234567890123456789012345678901234567890123").build());
        for (int w = 0; w < MESSAGES / pairs; w++) {
            for (Pair p : all) {
                long id = ++counter;
                p.out().onFrame(Frame.newBuilder().setRequestId(id).setSend(Send.newBuilder()
                        .setClientMsgId(Long.toString(id)).setPeer(p.recipient()).setType("text").setBody(body)).build());
            }
        }
        if (!done.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("acks and deliveries missing: " + done.getCount()
                    + (refused == null ? "" : "; the engine refused: " + refused.getError()));
        }
        for (Pair p : all) {
            p.in().onFrame(Frame.newBuilder().setDeliverAck(DeliverAck.newBuilder()
                    .setConversation(p.inbox().conversation).setSeq(p.inbox().lastDelivered.get())).build());
        }
    }
}
