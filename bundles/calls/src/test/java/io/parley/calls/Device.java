package io.parley.calls;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Signal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Command;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.SyncRequest;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A device connected to the real engine in-process (a {@link Connection} the test reads): says hello with its user
 * id as the token, sends commands and waits for their answers, and collects what it receives — stored messages and
 * relayed signals — so a test can await them (never sleep) or prove that nothing of a kind arrived.
 */
final class Device implements Connection {
    private final BlockingQueue<Frame> inbox = new LinkedBlockingQueue<>();
    /** Frames read while waiting for something else, in arrival order. */
    private final List<Frame> kept = new ArrayList<>();
    private final InboundSession session;
    final String user;
    final String device;
    private long nextRequestId = 1;
    private boolean closed;

    Device(InProcessCore core, String user, String device) {
        this.user = user;
        this.device = device;
        this.session = core.receiver().open(this);
        Frame ok = request(Frame.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setToken(user)
                .setDeviceId(device)));
        assertTrue(ok.hasHelloOk(), ok.toString());
    }

    /** Resumes: what this device missed arrives as deliveries (kept for {@link #awaitEvent}). */
    Device resume() {
        long rid = post(Frame.newBuilder().setSync(SyncRequest.newBuilder().setResume(SyncRequest.Resume.newBuilder())));
        await(f -> f.getRequestId() == rid && f.hasSyncResponse() && f.getSyncResponse().getDone());
        return this;
    }

    long post(Frame.Builder frame) {
        long rid = nextRequestId++;
        session.onFrame(frame.setRequestId(rid).build());
        return rid;
    }

    Frame request(Frame.Builder frame) {
        long rid = post(frame);
        return await(f -> f.getRequestId() == rid && !f.hasDeliver());
    }

    /** @return the command's answer: a {@code CommandResult} or an {@code Error} frame */
    Frame command(String type, com.google.protobuf.Message payload) {
        return request(Frame.newBuilder().setCommand(Command.newBuilder().setType(type)
                .setPayload(payload == null ? Any.getDefaultInstance() : Any.pack(payload))));
    }

    /** @return the command's answer payload, unpacked; fails the test if it was refused */
    <T extends com.google.protobuf.Message> T ok(String type, com.google.protobuf.Message payload, Class<T> answer) {
        Frame f = command(type, payload);
        assertTrue(f.hasCommandResult(), this + " " + type + ": " + f);
        try {
            return f.getCommandResult().getPayload().unpack(answer);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    /** Asserts the command succeeded (an empty answer, as {@code call.signal}'s). */
    void done(String type, com.google.protobuf.Message payload) {
        Frame f = command(type, payload);
        assertTrue(f.hasCommandResult(), this + " " + type + ": " + f);
    }

    /** Asserts the command was refused with {@code code} and a message containing {@code text}. */
    Frame refused(String type, com.google.protobuf.Message payload, ErrorCode code, String text) {
        Frame f = command(type, payload);
        assertTrue(f.hasError(), this + " " + type + " should have been refused: " + f);
        assertEquals(code, f.getError().getCode(), f.getError().getMessage());
        assertTrue(f.getError().getMessage().contains(text), "'" + f.getError().getMessage() + "' mentions " + text);
        return f;
    }

    /** @return the next call event (type {@code call}) delivered to this device that matches, waiting up to 10 s */
    CallEvent awaitEvent(Predicate<CallEvent> match) {
        return event(awaitMessage(m -> m.getType().equals(CallService.EVENT_TYPE) && match.test(event(m))));
    }

    /** @return the next stored call message (the whole message) whose event matches */
    Message awaitMessage(Predicate<Message> match) {
        Frame f = await(fr -> fr.hasDeliver() && fr.getDeliver().getMessagesList().stream().anyMatch(match));
        return f.getDeliver().getMessagesList().stream().filter(match).findFirst().orElseThrow();
    }

    /** @return the next relayed signal from {@code fromUser} of {@code kind}, waiting up to 10 s */
    Message awaitSignal(Predicate<Signal> match) {
        return awaitMessage(m -> m.getType().equals(CallService.SIGNAL_TYPE) && match.test(signal(m)));
    }

    /** @return every relayed call signal this device has received so far (after a short settling wait) */
    List<Message> signalsReceived(Duration settle) {
        long deadline = System.nanoTime() + settle.toNanos();
        try {
            while (System.nanoTime() < deadline) {
                Frame f = inbox.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (f != null) {
                    kept.add(f);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Message> out = new ArrayList<>();
        for (Frame f : kept) {
            if (f.hasDeliver()) {
                f.getDeliver().getMessagesList().stream().filter(m -> m.getType().equals(CallService.SIGNAL_TYPE))
                        .forEach(out::add);
            }
        }
        return out;
    }

    static CallEvent event(Message m) {
        try {
            return m.getBody().unpack(CallEvent.class);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    static Signal signal(Message m) {
        try {
            return m.getBody().unpack(Signal.class);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    /** Returns the first frame (kept or arriving) that matches, within 10 s; the frames it passes over are kept. */
    private Frame await(Predicate<Frame> until) {
        for (Iterator<Frame> it = kept.iterator(); it.hasNext(); ) {
            Frame f = it.next();
            if (until.test(f)) {
                it.remove();
                return f;
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        try {
            while (true) {
                Frame f = inbox.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (f == null) {
                    fail(this + ": timed out; received " + kept);
                }
                if (until.test(f)) {
                    return f;
                }
                kept.add(f);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    void close() {
        if (!closed) {
            closed = true;
            session.onClosed();
        }
    }

    @Override
    public void send(Frame frame) {
        receive(frame);
    }

    @Override
    public CompletionStage<Void> sendFlushed(Frame frame) {
        receive(frame);
        return CompletableFuture.completedFuture(null);
    }

    /** A delivery of several messages (a resume page) is kept as one frame per message, so each can be awaited. */
    private void receive(Frame frame) {
        if (frame.hasDeliver() && frame.getDeliver().getMessagesCount() > 1) {
            for (Message m : frame.getDeliver().getMessagesList()) {
                inbox.add(frame.toBuilder().setDeliver(io.parley.core.proto.Deliver.newBuilder().addMessages(m)).build());
            }
        } else {
            inbox.add(frame);
        }
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
        return user + "/" + device;
    }

    @Override
    public String toString() {
        return user + "/" + device;
    }
}
